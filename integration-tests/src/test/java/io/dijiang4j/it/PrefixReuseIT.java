package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.data.message.UserMessage;
import io.dijiang4j.adapters.DiJiangChatModel;
import io.dijiang4j.bench.LongHistory;
import io.dijiang4j.plugin.generation.GenerationResult;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Multi-turn on real weights past stories260K's 512-position context (hybrid mode): the second turn restores the
 * state saved at the end of the first and prefills only its new tokens. (Timing: benchmarks' PrefixReuseBenchmark.)
 */
class PrefixReuseIT {
    @TempDir
    Path temp;

    @Test
    void secondTurnOfALongConversationPrefillsOnlyItsNewTokens() {
        try (DiJiangChatModel model = DiJiangChatModel.builder()
                .profile(Stories260K.hybrid(temp))
                .temperature(0.0)
                .maxOutputTokens(16)
                .build()) {
            String story = LongHistory.story(45);
            String first = model.chat(UserMessage.from(story)).aiMessage().text();
            GenerationResult firstTurn = model.runtime().lastResult();
            assertTrue(firstTurn.promptTokens() > 600, "history of " + firstTurn.promptTokens() + " tokens");
            assertEquals(0, firstTurn.reusedPromptTokens());

            var second = model.chat(LongHistory.secondTurn(story, first, "The dog"));
            GenerationResult secondTurn = model.runtime().lastResult();
            assertFalse(second.aiMessage().text().isBlank());
            assertTrue(
                    secondTurn.reusedPromptTokens() >= firstTurn.promptTokens(),
                    "reused " + secondTurn.reusedPromptTokens() + " of the first turn's " + firstTurn.promptTokens());
            assertTrue(
                    secondTurn.prefilledTokens() < 40,
                    "prefilled " + secondTurn.prefilledTokens() + " of " + secondTurn.promptTokens());
            // a bounded state: the saved checkpoints cost kilobytes, not a KV cache of 2000 positions
            assertTrue(
                    model.runtime().cachedStateBytes() < 4 * 200_000,
                    model.runtime().cachedStateBytes() + " bytes");

            try (DiJiangChatModel fresh = DiJiangChatModel.builder()
                    .profile(Stories260K.hybrid(temp))
                    .temperature(0.0)
                    .maxOutputTokens(16)
                    .conversationCheckpoints(0)
                    .build()) {
                // the same answer as a model that prefills the whole conversation (no reuse)
                var again = fresh.chat(LongHistory.secondTurn(story, first, "The dog"));
                assertEquals(again.aiMessage().text(), second.aiMessage().text());
                assertEquals(0, fresh.runtime().lastResult().reusedPromptTokens());
            }

            var unrelated = model.chat(UserMessage.from("Tom had a cat."));
            assertFalse(unrelated.aiMessage().text().isBlank());
            assertEquals(0, model.runtime().lastResult().reusedPromptTokens());
        }
    }
}
