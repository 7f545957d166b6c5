package io.dijiang4j.plugin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.generation.Sampler;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.Profile;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link DiJiangModel#advance}: several sessions in one forward pass give each session the logits it gets alone
 * ({@link Session#append}) and the same greedy tokens, while sessions join (a prompt chunk beside decode rows) at different lengths.
 */
class BatchedForwardTest {
    /**
     * Jlama's own run-to-run difference: the same session run twice alone on one model differs by up to 6e-6 in a
     * logit (softmax and hybrid prompts of several tokens; its parallel sums), so equal means equal to that.
     */
    private static final float JLAMA_NOISE = 1e-4f;

    /** Prompt lengths of the three sessions: odd, longer than the hybrid's window, one token. */
    private static final int[] PROMPTS = {7, 29, 1};

    /** Greedy continuation of each prompt, every session alone: the logits of each step. */
    private static List<List<float[]>> alone(DiJiangModel model, int[][] prompts, int steps) {
        List<List<float[]>> all = new ArrayList<>();
        for (int[] prompt : prompts) {
            List<float[]> logits = new ArrayList<>();
            try (Session s = model.newSession()) {
                float[] l = s.append(prompt);
                logits.add(l);
                for (int i = 0; i < steps; i++) logits.add(l = s.append(Sampler.argmax(l)));
            }
            all.add(logits);
        }
        return all;
    }

    /**
     * The same continuations batched, session i joining at pass i (its whole prompt as one segment beside the
     * others' decode rows), all stepping together after.
     */
    private static List<List<float[]>> batched(DiJiangModel model, int[][] prompts, int steps) {
        int n = prompts.length;
        List<Session> sessions = new ArrayList<>();
        List<List<float[]>> all = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            sessions.add(model.newSession());
            all.add(new ArrayList<>());
        }
        try {
            for (int pass = 0; all.get(n - 1).size() <= steps; pass++) {
                List<Session> active = new ArrayList<>();
                List<int[]> tokens = new ArrayList<>();
                List<Integer> owners = new ArrayList<>();
                for (int i = 0; i < n && i <= pass; i++) {
                    List<float[]> mine = all.get(i);
                    if (mine.size() > steps) continue;
                    active.add(sessions.get(i));
                    tokens.add(mine.isEmpty() ? prompts[i] : new int[] {Sampler.argmax(mine.get(mine.size() - 1))});
                    owners.add(i);
                }
                float[][] out = model.advance(active, tokens);
                for (int j = 0; j < out.length; j++) all.get(owners.get(j)).add(out[j]);
            }
        } finally {
            sessions.forEach(Session::close);
        }
        return all;
    }

    private static int[][] prompts(DiJiangModel model) {
        Random random = new Random(16);
        int[][] prompts = new int[PROMPTS.length][];
        for (int i = 0; i < prompts.length; i++) {
            prompts[i] = new int[PROMPTS[i]];
            prompts[i][0] = model.config().bosToken;
            for (int j = 1; j < prompts[i].length; j++) prompts[i][j] = 3 + random.nextInt(model.vocabularySize() - 3);
        }
        return prompts;
    }

    private static void assertSameAsAlone(Profile profile, boolean expectBatched) {
        try (DiJiangModel model = DiJiang.load(profile)) {
            assertEquals(expectBatched, model.batchesSessions());
            int[][] prompts = prompts(model);
            int steps = 12;
            List<List<float[]>> alone = alone(model, prompts, steps);
            List<List<float[]>> batched = batched(model, prompts, steps);
            for (int i = 0; i < prompts.length; i++) {
                for (int step = 0; step <= steps; step++) {
                    String where = "session " + i + " (prompt of " + prompts[i].length + ") at step " + step;
                    assertArrayEquals(alone.get(i).get(step), batched.get(i).get(step), JLAMA_NOISE, where);
                    assertEquals(
                            Sampler.argmax(alone.get(i).get(step)),
                            Sampler.argmax(batched.get(i).get(step)),
                            where);
                }
            }
            assertEquals(0, model.openSessions());
        }
    }

    @Test
    void hybridSessionsBatchedEqualEachAlone() {
        // a window of 8 behind 2 sinks: the 29-token prompt and the decode steps go through the memory too
        assertSameAsAlone(Stories260K.profile(Mode.HYBRID).withHybrid(2, 8), true);
    }

    @Test
    void linearSessionsBatchedEqualEachAlone() {
        assertSameAsAlone(Stories260K.profile(Mode.DIJIANG), true);
    }

    @Test
    void softmaxLayersRunTheSessionsOneAfterAnother() {
        assertSameAsAlone(Stories260K.profile(Mode.SOFTMAX), false);
    }

    @Test
    void aBadRowMovesNoSession() {
        try (DiJiangModel model = DiJiang.load(Stories260K.profile(Mode.HYBRID));
                Session a = model.newSession();
                Session b = model.newSession()) {
            a.append(1, 2, 3);
            int vocabulary = model.vocabularySize();
            assertThrows(
                    IllegalArgumentException.class,
                    () -> model.advance(List.of(a, b), List.of(new int[] {4}, new int[] {vocabulary})));
            assertThrows(
                    IllegalArgumentException.class,
                    () -> model.advance(List.of(a, a), List.of(new int[] {4}, new int[] {5})));
            assertEquals(3, a.position());
            assertEquals(0, b.position());
            assertFalse(a.lastLogits().isEmpty());
            assertTrue(b.lastLogits().isEmpty());
        }
    }
}
