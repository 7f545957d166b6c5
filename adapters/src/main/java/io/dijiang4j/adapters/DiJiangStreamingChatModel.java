package io.dijiang4j.adapters;

import com.github.tjake.jlama.safetensors.prompt.Tool;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.CompleteToolCall;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.dijiang4j.plugin.generation.TokenConstraint;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executor;

/**
 * LangChain4j {@link StreamingChatModel}: partial text goes to the handler as tokens are generated (text that could
 * be the start of a stop sequence is held back until it is known not to be), then exactly one of onCompleteResponse
 * or onError. Generations run on the builder's executor (default: a virtual thread per request) and, like
 * {@link DiJiangChatModel}, one at a time per model.
 */
public final class DiJiangStreamingChatModel implements StreamingChatModel, AutoCloseable {
    private final DiJiangRuntime runtime;
    private final ChatRequestParameters defaults;
    private final List<ChatModelListener> listeners;
    private final GenerationOptions generation;
    private final Executor executor;

    private DiJiangStreamingChatModel(Builder builder) {
        this.runtime = builder.resolveRuntime();
        this.defaults = builder.defaultParameters(runtime.engine().modelName());
        this.listeners = List.copyOf(builder.listeners);
        this.generation = builder.options();
        this.executor = builder.executor == null ? StreamingCallbacks.NEW_VIRTUAL_THREAD : builder.executor;
    }

    public static Builder builder() {
        return new Builder();
    }

    public static DiJiangStreamingChatModel fromProfile(Path profile) {
        return builder().profile(profile).build();
    }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        GenerationOptions options;
        List<Tool> tools;
        String prompt;
        TokenConstraint json;
        try {
            options = ChatRequests.options(request.parameters(), modelName(), generation);
            tools = ToolCalls.offered(request.parameters());
            prompt = ChatRequests.prompt(runtime, request, tools);
            json = ChatRequests.constraint(request.parameters(), runtime.engine(), options.maxTokens());
        } catch (RuntimeException e) {
            StreamingCallbacks.quietly("onError", () -> handler.onError(e));
            return;
        }
        executor.execute(() -> {
            ChatResponse response;
            try {
                GenerationResult result = runtime.generate(
                        prompt, options, json, StreamingCallbacks.partials(handler::onPartialResponse));
                response = ChatRequests.response(
                        result, modelName(), tools, request.parameters().toolChoice() == ToolChoice.REQUIRED);
            } catch (Throwable e) {
                Throwable cause = StreamingCallbacks.unwrap(e);
                StreamingCallbacks.quietly("onError", () -> handler.onError(cause));
                return;
            }
            // the text streamed as it came; the calls it held are complete only now
            List<ToolExecutionRequest> calls = response.aiMessage().toolExecutionRequests();
            for (int i = 0; i < calls.size(); i++) {
                CompleteToolCall call = new CompleteToolCall(i, calls.get(i));
                StreamingCallbacks.quietly("onCompleteToolCall", () -> handler.onCompleteToolCall(call));
            }
            StreamingCallbacks.quietly("onCompleteResponse", () -> handler.onCompleteResponse(response));
        });
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return defaults;
    }

    @Override
    public List<ChatModelListener> listeners() {
        return listeners;
    }

    /** JSON output, with a schema or without, is decoded to parse (constrained decoding). */
    @Override
    public Set<Capability> supportedCapabilities() {
        return ChatRequests.CAPABILITIES;
    }

    /** LangChain4j names no provider for local Jlama models (langchain4j-jlama's report OTHER too). */
    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    public String modelName() {
        return runtime.engine().modelName();
    }

    public DiJiangRuntime runtime() {
        return runtime;
    }

    @Override
    public void close() {
        runtime.close();
    }

    public static final class Builder extends DiJiangModelBuilder<Builder> {
        private Executor executor;

        private Builder() {}

        /** Where generations run; {@code Runnable::run} makes {@code chat(...)} return only when it is done. */
        public Builder executor(Executor executor) {
            this.executor = executor;
            return this;
        }

        public DiJiangStreamingChatModel build() {
            return new DiJiangStreamingChatModel(this);
        }
    }
}
