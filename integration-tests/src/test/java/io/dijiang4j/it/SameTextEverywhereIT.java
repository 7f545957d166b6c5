package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.langchain4j.data.message.UserMessage;
import io.dijiang4j.adapters.DiJiangChatModel;
import io.dijiang4j.adapters.DiJiangLanguageModel;
import io.dijiang4j.plugin.generation.ChatTurn;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * One generation stack: the same profile, prompt, seed and sampling settings give the same text through {@code
 * dijiang generate}, {@link DiJiangLanguageModel} and {@link DiJiangChatModel}, greedy and sampled. The chat model
 * renders its template first; the others get the rendered prompt, so the template is not what is compared.
 */
class SameTextEverywhereIT {
    private static final Path HYBRID = CliIT.CONFIGS.resolve("hybrid.yaml");
    private static final String PROMPT = "Once upon a time";
    private static final int MAX_TOKENS = 40;

    /** One setting through the three front ends; returns the text they agree on. */
    private static String sameTextThroughAllThree(
            DiJiangLanguageModel shared, Double temperature, Double topP, Integer topK, Long seed, String... cliArgs) {
        DiJiangLanguageModel language = configure(DiJiangLanguageModel.builder(), temperature, topP, topK, seed)
                .runtime(shared.runtime())
                .build();
        DiJiangChatModel chat = configure(DiJiangChatModel.builder(), temperature, topP, topK, seed)
                .runtime(shared.runtime())
                .build();
        String rendered = shared.runtime().engine().renderChat(List.of(new ChatTurn(ChatTurn.Role.USER, PROMPT)));

        String fromChat = chat.chat(UserMessage.from(PROMPT)).aiMessage().text();
        String fromLanguageModel = language.generate(rendered).content();
        List<String> args = new ArrayList<>(List.of(
                "generate",
                "--config",
                HYBRID.toString(),
                "--prompt",
                rendered,
                "--max-tokens",
                String.valueOf(MAX_TOKENS)));
        args.addAll(List.of(cliArgs));
        CliIT.Run cli = CliIT.run("", args.toArray(String[]::new));

        assertEquals(0, cli.exitCode(), cli.err());
        assertFalse(fromChat.isBlank(), "empty answer");
        assertEquals(fromChat, fromLanguageModel, "chat model vs language model");
        assertEquals(rendered + fromLanguageModel + "\n", cli.out(), "CLI vs language model");
        return fromChat;
    }

    private static <B extends io.dijiang4j.adapters.DiJiangModelBuilder<B>> B configure(
            B builder, Double temperature, Double topP, Integer topK, Long seed) {
        return builder.maxOutputTokens(MAX_TOKENS)
                .temperature(temperature)
                .topP(topP)
                .topK(topK)
                .seed(seed);
    }

    @Test
    void greedyAndSampledTextIsTheSameThroughTheCliAndBothModels() {
        Stories260K.dir();
        try (DiJiangLanguageModel shared = DiJiangLanguageModel.builder()
                .profile(HYBRID)
                .maxOutputTokens(MAX_TOKENS)
                .build()) {
            String greedy = sameTextThroughAllThree(shared, 0.0, null, null, null, "--temperature", "0");
            // the profile's own sampling settings (temperature 0.8, top_p 0.95, top_k 40, seed 42): no overrides
            String profileSampled = sameTextThroughAllThree(shared, null, null, null, null);
            String overridden = sameTextThroughAllThree(
                    shared, 1.0, 0.9, 0, 7L, "--temperature", "1", "--top-p", "0.9", "--top-k", "0", "--seed", "7");
            assertNotEquals(greedy, profileSampled, "sampling at 0.8 gave the greedy text");
            assertNotEquals(profileSampled, overridden, "another seed and settings gave the same text");
        }
    }
}
