package io.dijiang4j.plugin.generation;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.safetensors.prompt.PromptSupport;
import java.util.List;
import java.util.Optional;

/**
 * The model's chat template (tokenizer_config.json {@code chat_template}), rendered by Jlama's {@link PromptSupport}
 * as langchain4j-jlama's JlamaChatModel renders it; the one renderer of the CLI's {@code chat} and the LangChain4j
 * chat models.
 */
public final class ChatTemplate {
    private final PromptSupport support;

    private ChatTemplate(PromptSupport support) {
        this.support = support;
    }

    /** The template of {@code model}, empty when its tokenizer has none (a base model). */
    public static Optional<ChatTemplate> of(AbstractModel model) {
        return model.promptSupport().map(ChatTemplate::new);
    }

    /** The conversation as the model's prompt, ending with the header of the assistant's next message. */
    public String render(List<ChatTurn> turns) {
        PromptSupport.Builder builder = support.builder();
        for (ChatTurn turn : turns) {
            switch (turn.role()) {
                case SYSTEM -> builder.addSystemMessage(turn.text());
                case USER -> builder.addUserMessage(turn.text());
                case ASSISTANT -> builder.addAssistantMessage(turn.text());
            }
        }
        return builder.build().getPrompt();
    }
}
