package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import io.dijiang4j.adapters.DiJiangChatModel;
import io.dijiang4j.adapters.DiJiangLanguageModel;
import io.dijiang4j.adapters.DiJiangRuntime;
import io.dijiang4j.adapters.DiJiangStreamingChatModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Streaming and blocking chat give the same text (greedy) in every mode, over two turns, on real weights. */
class StreamingEqualsBlockingIT {
    @TempDir
    Path temp;

    private Path profile(String mode) {
        return switch (mode) {
            case "softmax" -> Stories260K.vanilla(temp);
            case "dijiang" -> Stories260K.dijiang(temp);
            case "hybrid" -> Stories260K.hybrid(temp);
            default -> throw new IllegalArgumentException(mode);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"softmax", "dijiang", "hybrid"})
    void streamedTextEqualsBlockingText(String mode) throws Exception {
        try (DiJiangChatModel blocking = DiJiangChatModel.builder()
                .profile(profile(mode))
                .temperature(0.0)
                .maxOutputTokens(48)
                .build()) {
            DiJiangRuntime runtime = blocking.runtime();
            DiJiangStreamingChatModel streaming = DiJiangStreamingChatModel.builder()
                    .runtime(runtime)
                    .temperature(0.0)
                    .maxOutputTokens(48)
                    .build();
            List<ChatMessage> conversation = new ArrayList<>(List.of(UserMessage.from("Once upon a time, Lily")));
            for (int turn = 0; turn < 2; turn++) {
                ChatResponse expected = blocking.chat(conversation);
                List<String> partials = new ArrayList<>();
                CompletableFuture<ChatResponse> done = new CompletableFuture<>();
                streaming.chat(conversation, new StreamingChatResponseHandler() {
                    @Override
                    public void onPartialResponse(String partialResponse) {
                        partials.add(partialResponse);
                    }

                    @Override
                    public void onCompleteResponse(ChatResponse completeResponse) {
                        done.complete(completeResponse);
                    }

                    @Override
                    public void onError(Throwable error) {
                        done.completeExceptionally(error);
                    }
                });
                ChatResponse streamed = done.get(60, TimeUnit.SECONDS);
                assertEquals(expected.aiMessage().text(), streamed.aiMessage().text(), mode + " turn " + turn);
                assertEquals(expected.aiMessage().text(), String.join("", partials));
                assertTrue(partials.size() > 10, "not streamed: " + partials.size() + " pieces");
                assertEquals(expected.tokenUsage(), streamed.tokenUsage());
                conversation.add(AiMessage.from(expected.aiMessage().text()));
                conversation.add(UserMessage.from("Then"));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"softmax", "hybrid"})
    void secondIdenticalCallIsNotEmpty(String mode) {
        // langchain4j issue 6025: JlamaLanguageModel reuses one session, so a repeated call produced 0 tokens
        try (DiJiangLanguageModel language = DiJiangLanguageModel.builder()
                .profile(profile(mode))
                .temperature(0.0)
                .maxOutputTokens(24)
                .build()) {
            var first = language.generate("Once upon a time");
            var second = language.generate("Once upon a time");
            assertEquals(24, second.tokenUsage().outputTokenCount());
            assertEquals(first.content(), second.content());
            assertTrue(!second.content().isBlank());
        }
    }
}
