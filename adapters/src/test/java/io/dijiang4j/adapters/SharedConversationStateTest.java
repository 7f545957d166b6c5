package io.dijiang4j.adapters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.adapters.state.PrefixStateStore;
import io.dijiang4j.adapters.state.RedisPrefixStateStore;
import io.dijiang4j.adapters.state.RedisProcess;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Two runtimes with separate engines sharing one real Redis: a conversation continues on the other runtime with prefix
 * reuse; a store that is down or a damaged state costs a re-prefill, and the answers stay those of a full prefill.
 */
class SharedConversationStateTest {
    private static final GenerationOptions GREEDY = GenerationOptions.greedy(12);
    private static final String TURN1 = "once upon a time there was a fox";
    private static final String TURN2 = " and the fox ran into the woods";

    /** The reference: a runtime that keeps no states, so every prompt is prefilled whole. */
    private static GenerationResult alone(String prompt) {
        try (DiJiangRuntime r = new DiJiangRuntime(new FakeEngine(), 0)) {
            return r.generate(prompt, GREEDY, null);
        }
    }

    @Test
    void aConversationContinuesOnAnotherRuntimeWithPrefixReuse() {
        try (RedisProcess redis = RedisProcess.start()) {
            FakeEngine engineA = new FakeEngine(), engineB = new FakeEngine();
            try (DiJiangRuntime a = new DiJiangRuntime(engineA, store(redis));
                    DiJiangRuntime b = new DiJiangRuntime(engineB, store(redis))) {
                GenerationResult first = a.generate(TURN1, GREEDY, null);
                String turn2 = TURN1 + first.text() + TURN2;
                int before = engineB.consumedTokens.get();
                GenerationResult second = b.generate(turn2, GREEDY, null);
                int promptTokens = TURN1.length() + first.text().length() + TURN2.length() + 1;
                assertEquals(promptTokens, second.promptTokens());
                assertTrue(second.reusedPromptTokens() >= TURN1.length() + 1, "reused " + second.reusedPromptTokens());
                assertEquals(
                        second.prefilledTokens()
                                + second.generatedTokens()
                                - (second.stopReason() == GenerationResult.StopReason.END_TOKEN ? 0 : 1),
                        engineB.consumedTokens.get() - before,
                        "runtime B consumed only the tokens after the restored prefix");
                assertEquals(alone(turn2).tokens(), second.tokens(), "same answer as a full prefill");
            }
        }
    }

    @Test
    void aStoreThatGoesDownCostsARePrefillNotARequest() {
        try (RedisProcess redis = RedisProcess.start();
                DiJiangRuntime runtime = new DiJiangRuntime(new FakeEngine(), store(redis))) {
            GenerationResult first = runtime.generate(TURN1, GREEDY, null);
            redis.stop();
            String turn2 = TURN1 + first.text() + TURN2;
            GenerationResult second = runtime.generate(turn2, GREEDY, null);
            assertEquals(0, second.reusedPromptTokens());
            assertEquals(alone(turn2).tokens(), second.tokens());
            // while backing off the store is not asked again: the next request does not wait for a timeout either
            long start = System.nanoTime();
            assertEquals(
                    alone(turn2).tokens(), runtime.generate(turn2, GREEDY, null).tokens());
            assertTrue(System.nanoTime() - start < 400_000_000L, "no timeout paid while the store is known down");
        }
    }

    @Test
    void aStateTheEngineRefusesCostsARePrefill() {
        // a store that hands back garbage for every prompt: the engine refuses it, the request prefills
        PrefixStateStore garbage = new PrefixStateStore() {
            @Override
            public Optional<SavedState> longestPrefix(String scope, int[] prompt) {
                return Optional.of(new SavedState(prompt.length - 1, new byte[] {1, 2, 3}));
            }

            @Override
            public void save(String scope, int[] tokens, byte[] state) {}

            @Override
            public long bytes() {
                return 0;
            }

            @Override
            public void clear() {}
        };
        try (DiJiangRuntime runtime = new DiJiangRuntime(new FakeEngine(), garbage)) {
            GenerationResult result = runtime.generate(TURN1, GREEDY, null);
            assertEquals(0, result.reusedPromptTokens());
            assertEquals(alone(TURN1).tokens(), result.tokens());
        }
    }

    private static RedisPrefixStateStore store(RedisProcess redis) {
        return redis.store(RedisPrefixStateStore.Settings.defaults());
    }
}
