package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import io.dijiang4j.adapters.DiJiangChatModel;
import io.dijiang4j.plugin.gguf.SmolLM2;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real instruct model (SmolLM2-135M-Instruct, from its GGUF) through DiJiangChatModel and its ChatML template. */
class SmolLM2ChatIT {
    @Test
    void answersThroughItsChatTemplateAndStopsAtTheEndOfTheMessage(@TempDir Path temp) throws Exception {
        Path profile = temp.resolve("smollm2.yaml");
        Files.writeString(
                profile, "model: " + SmolLM2.gguf() + "\nmodel_cache: " + temp.resolve("cache") + "\nmode: softmax\n");
        try (DiJiangChatModel model = DiJiangChatModel.builder()
                .profile(profile)
                .temperature(0.0)
                .maxOutputTokens(24)
                .build()) {
            ChatResponse first = model.chat(List.of(UserMessage.from("What is the capital of France?")));
            String answer = first.aiMessage().text();
            assertTrue(answer.contains("Paris"), answer);
            assertEquals(FinishReason.STOP, first.finishReason(), "stopped at <|im_end|>: " + answer);
            List<ChatMessage> second = List.of(
                    UserMessage.from("What is the capital of France?"),
                    AiMessage.from(answer),
                    UserMessage.from("And of Italy?"));
            String next = model.chat(second).aiMessage().text();
            assertTrue(next.contains("Rome"), next);
        }
    }
}
