package io.dijiang4j.adapters;

import com.github.tjake.jlama.safetensors.prompt.Tool;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.ChatResponseMetadata;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.plugin.generation.ChatTurn;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.dijiang4j.plugin.generation.GenerationResult.StopReason;
import io.dijiang4j.plugin.generation.JsonConstraint;
import io.dijiang4j.plugin.generation.JsonShape;
import io.dijiang4j.plugin.generation.TokenConstraint;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Turns LangChain4j requests into prompts and options, refusing what the engine cannot do instead of ignoring it. */
final class ChatRequests {
    /** What the chat models declare to LangChain4j (AiServices then asks for a record's JSON schema). */
    static final Set<Capability> CAPABILITIES = Set.of(Capability.RESPONSE_FORMAT_JSON_SCHEMA);

    private ChatRequests() {}

    /**
     * The generation options of a request whose parameters are already merged with the model's defaults; what they
     * leave unset (and the seed, which LangChain4j requests do not carry) comes from {@code defaults}.
     */
    static GenerationOptions options(ChatRequestParameters parameters, String modelName, GenerationOptions defaults) {
        if (parameters.modelName() != null && !parameters.modelName().equals(modelName)) {
            throw unsupported("modelName '" + parameters.modelName() + "' (this model is '" + modelName
                    + "'; build another model for another profile)");
        }
        if (parameters.frequencyPenalty() != null) {
            throw unsupported("frequencyPenalty");
        }
        if (parameters.presencePenalty() != null) {
            throw unsupported("presencePenalty");
        }
        if (parameters.toolChoice() == ToolChoice.REQUIRED) {
            if (parameters.toolSpecifications() == null
                    || parameters.toolSpecifications().isEmpty()) {
                throw new dev.langchain4j.exception.InvalidRequestException(
                        "toolChoice REQUIRED needs at least one tool specification");
            }
            if (JsonShapes.of(parameters.responseFormat()).isPresent()) {
                throw unsupported("toolChoice REQUIRED with a JSON response format (the answer is a tool call)");
            }
        }
        try {
            return new GenerationOptions(
                    parameters.maxOutputTokens() != null ? parameters.maxOutputTokens() : defaults.maxTokens(),
                    parameters.temperature() != null ? parameters.temperature().floatValue() : defaults.temperature(),
                    parameters.topP() != null ? parameters.topP().floatValue() : defaults.topP(),
                    parameters.topK() != null ? parameters.topK() : defaults.topK(),
                    defaults.seed(),
                    defaults.stopAtEndToken(),
                    parameters.stopSequences() != null ? parameters.stopSequences() : defaults.stopSequences());
        } catch (IllegalArgumentException e) {
            throw new dev.langchain4j.exception.InvalidRequestException(e.getMessage());
        }
    }

    /**
     * The constraint of a request's response format (JSON, with its schema where given), or of toolChoice REQUIRED
     * (one call of an offered tool), or null for free text: the answer is decoded so that it always parses ({@link
     * JsonConstraint}).
     */
    static TokenConstraint constraint(ChatRequestParameters parameters, InferenceEngine engine, int maxTokens) {
        Optional<JsonShape> shape = parameters.toolChoice() == ToolChoice.REQUIRED
                ? Optional.of(ToolCalls.requiredCall(parameters.toolSpecifications()))
                : JsonShapes.of(parameters.responseFormat());
        return shape.map(s -> (TokenConstraint) new JsonConstraint(engine, s, maxTokens))
                .orElse(null);
    }

    /** STOP at an end token or a stop sequence, LENGTH at max tokens or the context limit. */
    static FinishReason finishReason(GenerationResult result) {
        return switch (result.stopReason()) {
            case END_TOKEN, STOP_SEQUENCE -> FinishReason.STOP;
            case MAX_TOKENS, CONTEXT_LIMIT -> FinishReason.LENGTH;
        };
    }

    static List<ChatTurn> turns(List<ChatMessage> messages) {
        if (messages == null || messages.isEmpty()) {
            throw new dev.langchain4j.exception.InvalidRequestException("the chat request has no messages");
        }
        List<ChatTurn> turns = new ArrayList<>(messages.size());
        for (ChatMessage message : messages) {
            switch (message) {
                case SystemMessage system -> turns.add(new ChatTurn(ChatTurn.Role.SYSTEM, system.text()));
                case UserMessage user -> {
                    StringBuilder text = new StringBuilder();
                    for (Content content : user.contents()) {
                        if (!(content instanceof TextContent textContent)) {
                            throw unsupported("user message content of type "
                                    + content.type().toString().toLowerCase(java.util.Locale.ROOT) + " (text only)");
                        }
                        text.append(textContent.text());
                    }
                    turns.add(new ChatTurn(ChatTurn.Role.USER, text.toString()));
                }
                case AiMessage ai -> {
                    // as langchain4j-jlama: the text (if any), then one tool-call message per request
                    if (ai.text() != null) {
                        turns.add(new ChatTurn(ChatTurn.Role.ASSISTANT, ai.text()));
                    }
                    for (ToolExecutionRequest call : ai.toolExecutionRequests()) {
                        turns.add(ChatTurn.toolCall(call.name(), call.id(), call.arguments()));
                    }
                }
                case ToolExecutionResultMessage result ->
                    turns.add(ChatTurn.toolResult(result.toolName(), result.id(), result.text()));
                default -> throw unsupported("messages of type " + message.type());
            }
        }
        return turns;
    }

    /** The prompt of a request with the tools it offers ({@link ToolCalls#offered}). */
    static String prompt(DiJiangRuntime runtime, ChatRequest request, List<Tool> tools) {
        return runtime.engine().renderChat(turns(request.messages()), tools);
    }

    /**
     * The answer: the tool calls the text holds when tools were offered and the model ended its turn, or when a call
     * was required (then the constraint finished it) (finish reason TOOL_EXECUTION, no text, as langchain4j-jlama
     * answers), else the text.
     */
    static ChatResponse response(GenerationResult result, String modelName, List<Tool> tools, boolean callRequired) {
        List<ToolExecutionRequest> calls =
                tools.isEmpty() || !(callRequired || result.stopReason() == StopReason.END_TOKEN)
                        ? List.of()
                        : ToolCalls.parse(result.text(), tools);
        return ChatResponse.builder()
                .aiMessage(calls.isEmpty() ? AiMessage.from(result.text()) : AiMessage.from(calls))
                .metadata(ChatResponseMetadata.builder()
                        .modelName(modelName)
                        .tokenUsage(new TokenUsage(result.promptTokens(), result.generatedTokens()))
                        .finishReason(calls.isEmpty() ? finishReason(result) : FinishReason.TOOL_EXECUTION)
                        .build())
                .build();
    }

    static UnsupportedFeatureException unsupported(String what) {
        return new UnsupportedFeatureException(what + " is not supported by the DiJiang models");
    }
}
