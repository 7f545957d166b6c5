package io.dijiang4j.plugin.generation;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.safetensors.prompt.PromptSupport;
import com.github.tjake.jlama.safetensors.prompt.Tool;
import com.github.tjake.jlama.safetensors.prompt.ToolCall;
import com.github.tjake.jlama.safetensors.prompt.ToolResult;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The model's chat template (tokenizer_config.json {@code chat_template}), rendered by Jlama's {@link PromptSupport}
 * as langchain4j-jlama's JlamaChatModel renders it, tools, tool calls and tool results included; the one renderer
 * of the CLI's {@code chat} and the LangChain4j chat models.
 */
public final class ChatTemplate {
    /** A plain mapper, as langchain4j-jlama reads a tool call's arguments back into the prompt. */
    private static final ObjectMapper ARGUMENTS = new ObjectMapper();

    private final PromptSupport support;
    private final boolean rendersTools;

    private ChatTemplate(PromptSupport support, boolean rendersTools) {
        this.support = support;
        this.rendersTools = rendersTools;
    }

    /** The template of {@code model}, empty when its tokenizer has none (a base model). */
    public static Optional<ChatTemplate> of(AbstractModel model) {
        boolean tools = model.getTokenizer().getModel().hasToolSupport();
        return model.promptSupport().map(support -> new ChatTemplate(support, tools));
    }

    /** Whether the template renders tool specifications (Jlama's test: one of its templates mentions tools). */
    public boolean rendersTools() {
        return rendersTools;
    }

    /** The conversation as the model's prompt, ending with the header of the assistant's next message. */
    public String render(List<ChatTurn> turns) {
        return render(turns, List.of());
    }

    /** As {@link #render(List)}, with the specifications of {@code tools} where the template places them. */
    public String render(List<ChatTurn> turns, List<Tool> tools) {
        if (!tools.isEmpty() && !rendersTools) {
            throw new UnsupportedOperationException("this model's chat template does not render tools");
        }
        PromptSupport.Builder builder = support.builder();
        for (ChatTurn turn : turns) {
            switch (turn.role()) {
                case SYSTEM -> builder.addSystemMessage(turn.text());
                case USER -> builder.addUserMessage(turn.text());
                case ASSISTANT -> builder.addAssistantMessage(turn.text());
                case TOOL_CALL ->
                    builder.addToolCall(new ToolCall(turn.toolName(), turn.toolCallId(), arguments(turn.text())));
                case TOOL_RESULT ->
                    builder.addToolResult(ToolResult.from(turn.toolName(), turn.toolCallId(), turn.text()));
            }
        }
        return (tools.isEmpty() ? builder.build() : builder.build(tools)).getPrompt();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> arguments(String json) {
        try {
            return ARGUMENTS.readValue(json, LinkedHashMap.class);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("tool call arguments are not a JSON object: " + json, e);
        }
    }
}
