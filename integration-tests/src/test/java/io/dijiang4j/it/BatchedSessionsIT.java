package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.adapters.DiJiangRuntime;
import io.dijiang4j.adapters.Generation;
import io.dijiang4j.adapters.Scheduling;
import io.dijiang4j.adapters.TextSink;
import io.dijiang4j.adapters.engine.PluginEngine;
import io.dijiang4j.plugin.generation.GenerationOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sessions decoded together in shared forward passes (continuous batching) give each request the greedy text it
 * gets alone, on stories260K: prompts of different lengths, prefilled in chunks between the others' decode steps.
 */
class BatchedSessionsIT {
    private static final GenerationOptions GREEDY = GenerationOptions.greedy(32).withStopAtEndToken(false);
    private static final List<String> PROMPTS = List.of(
            "Lily",
            "Tom went to the park with his dog",
            "Once upon a time, there was a little girl named Sue. She liked to play with her ball in the garden."
                    + " One day the ball rolled away and she ran after it",
            "The cat",
            "The big red truck drove down the road and",
            "Sam and Max were best friends. They");

    @TempDir
    Path temp;

    private static void assertBatchedEqualsAlone(Path profile, boolean batches) throws Exception {
        // prompts prefilled 16 tokens per pass, so the long ones join over several passes of the others' decoding
        Scheduling scheduling = Scheduling.DEFAULT.withMaxActive(8).withPrefillChunk(16);
        try (DiJiangRuntime runtime = DiJiangRuntime.load(profile, 0, scheduling)) {
            PluginEngine engine = (PluginEngine) runtime.engine();
            assertEquals(batches, engine.batchesSessions());
            List<String> alone = new ArrayList<>();
            for (String prompt : PROMPTS)
                alone.add(runtime.generate(prompt, GREEDY, TextSink.NONE).text());
            long[] before = runtime.passCounters();
            List<Generation> together = new ArrayList<>();
            for (int round = 0; round < 2; round++) {
                for (String prompt : PROMPTS) together.add(runtime.submit(prompt, GREEDY, TextSink.NONE));
            }
            for (int i = 0; i < together.size(); i++) {
                String prompt = PROMPTS.get(i % PROMPTS.size());
                assertEquals(
                        alone.get(i % PROMPTS.size()),
                        together.get(i).result().get(60, TimeUnit.SECONDS).text(),
                        prompt);
            }
            long[] after = runtime.passCounters();
            long passes = after[0] - before[0];
            long rows = after[1] - before[1];
            // 12 requests of 32 tokens alone would take 12 x 33 passes and more
            assertTrue(rows > 3 * passes, rows + " session rows in " + passes + " passes: the sessions did not share");
            assertEquals(0, runtime.activeSessions());
            assertEquals(0, engine.model().openSessions(), "sessions left open");
        }
    }

    @Test
    void hybridSessionsTogetherAnswerAsAlone() throws Exception {
        assertBatchedEqualsAlone(Stories260K.hybrid(temp), true);
    }

    @Test
    void dijiangSessionsTogetherAnswerAsAlone() throws Exception {
        assertBatchedEqualsAlone(Stories260K.dijiang(temp), true);
    }

    /** Softmax layers run the sessions of a pass one after another: the same texts, still one scheduler. */
    @Test
    void softmaxSessionsTogetherAnswerAsAlone() throws Exception {
        assertBatchedEqualsAlone(Stories260K.vanilla(temp), false);
    }
}
