package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import io.dijiang4j.adapters.DiJiangChatModel;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The profiles in configs/ load as they are; their generation keys become the model's default parameters. */
class ReadyProfilesIT {
    private static final Path CONFIGS =
            Path.of(System.getProperty("maven.multiModuleProjectDirectory", ".."), "configs");

    @Test
    void hybridProfileDefaultsComeFromTheYamlAndTheBuilderOverridesThem() {
        Stories260K.dir();
        try (DiJiangChatModel model = DiJiangChatModel.fromProfile(CONFIGS.resolve("hybrid.yaml"))) {
            var defaults = model.defaultRequestParameters();
            assertEquals(0.8, defaults.temperature(), 1e-6);
            assertEquals(0.95, defaults.topP(), 1e-6);
            assertEquals(40, defaults.topK());
            assertEquals(256, defaults.maxOutputTokens());
            ChatRequest request = ChatRequest.builder()
                    .messages(UserMessage.from("Once upon a time"))
                    .parameters(
                            ChatRequestParameters.builder().maxOutputTokens(24).build())
                    .build();
            String first = model.chat(request).aiMessage().text();
            // sampled at the profile's temperature 0.8; the profile's seed makes the sampled answer repeat
            assertEquals(first, model.chat(request).aiMessage().text());
            assertFalse(first.isBlank());
        }
        try (DiJiangChatModel greedy = DiJiangChatModel.builder()
                .profile(CONFIGS.resolve("vanilla.yaml"))
                .temperature(0.0)
                .maxOutputTokens(8)
                .build()) {
            assertEquals(0.0, greedy.defaultRequestParameters().temperature());
            assertEquals(8, greedy.defaultRequestParameters().maxOutputTokens());
        }
    }
}
