package io.dijiang4j.it;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.safetensors.prompt.PromptSupport;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.jlama.JlamaChatModel;
import io.dijiang4j.adapters.spi.JlamaModelPatcher;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * langchain4j-jlama's own {@link JlamaChatModel} (greedy) answering at most {@code outputTokens} tokens per turn.
 * JlamaChatModel's {@code maxTokens} is an absolute position (prompt included) and stories260K never ends a story
 * by itself, so each turn uses a JlamaChatModel whose maxTokens is that turn's prompt length plus the output budget:
 * the answers are JlamaChatModel's, unchanged.
 */
final class JlamaReference implements ChatModel {
    private final Path cache;
    private final Path temp;
    private final int outputTokens;
    private final Map<Integer, JlamaChatModel> byLimit = new HashMap<>();

    JlamaReference(Path temp, int outputTokens) {
        this.temp = temp;
        this.cache = Stories260K.jlamaCache(temp);
        this.outputTokens = outputTokens;
    }

    private JlamaChatModel model(int maxTokens) {
        return byLimit.computeIfAbsent(
                maxTokens,
                limit -> JlamaChatModel.builder()
                        .modelCachePath(cache)
                        .modelName(Stories260K.JLAMA_MODEL_NAME)
                        .workingDirectory(Stories260K.workingDirectory(temp))
                        .temperature(0f)
                        .maxTokens(limit)
                        .build());
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        // the prompt as JlamaChatModel renders and encodes it (BOS included)
        JlamaChatModel any = model(1 << 20);
        AbstractModel jlama = JlamaModelPatcher.loadedModel(any);
        PromptSupport.Builder prompt = jlama.promptSupport().orElseThrow().builder();
        for (ChatMessage message : request.messages()) {
            switch (message) {
                case UserMessage user -> prompt.addUserMessage(user.singleText());
                case AiMessage ai -> prompt.addAssistantMessage(ai.text());
                default -> throw new IllegalArgumentException("not used by this test: " + message);
            }
        }
        int promptTokens = jlama.encodePrompt(prompt.build()).length;
        // Jlama samples once after the prompt, then once per position until maxTokens
        return model(promptTokens + outputTokens - 1).chat(request);
    }
}
