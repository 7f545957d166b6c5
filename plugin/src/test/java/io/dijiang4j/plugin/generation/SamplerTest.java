package io.dijiang4j.plugin.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class SamplerTest {
    private static final float[] LOGITS = {0.3f, 2.0f, -1.0f, 1.2f, 2.0f, 0.9f, -3.0f};

    private static GenerationOptions sampling(float temperature, float topP, int topK) {
        return new GenerationOptions(100, temperature, topP, topK, null, true);
    }

    /** 200k draws follow {@code expected} within 0.005 per token. */
    private static void assertDrawsFollow(double[] expected, GenerationOptions options) {
        int draws = 200_000;
        Sampler sampler = new Sampler(options, 11);
        double[] counts = new double[LOGITS.length];
        for (int i = 0; i < draws; i++) {
            counts[sampler.next(LOGITS.clone())]++;
        }
        for (int i = 0; i < counts.length; i++) {
            assertEquals(expected[i], counts[i] / draws, 0.005, "token " + i);
        }
    }

    private static double[] softmax(double temperature, boolean[] keep) {
        double[] p = new double[LOGITS.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = keep[i] ? Math.exp(LOGITS[i] / temperature) : 0;
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    private static int[] draws(Sampler sampler, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = sampler.next(LOGITS.clone());
        return out;
    }

    @Test
    void greedyTakesTheFirstLargestLogit() {
        assertEquals(1, new Sampler(GenerationOptions.greedy(1), 1).next(LOGITS.clone()));
    }

    @Test
    void temperatureSamplingFollowsTheSoftmax() {
        assertDrawsFollow(
                softmax(0.7, new boolean[] {true, true, true, true, true, true, true}), sampling(0.7f, 1f, 0));
    }

    @Test
    void topKKeepsTheKMostLikely() {
        // top 3: tokens 1 and 4 (2.0) and 3 (1.2)
        assertDrawsFollow(
                softmax(1.0, new boolean[] {false, true, false, true, true, false, false}), sampling(1f, 1f, 3));
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        double[] all = softmax(1.0, new boolean[] {true, true, true, true, true, true, true});
        // the two 2.0 logits hold all[1] + all[4] < 0.8; adding token 3 passes it
        assertTrue(all[1] + all[4] < 0.8 && all[1] + all[4] + all[3] >= 0.8);
        assertDrawsFollow(
                softmax(1.0, new boolean[] {false, true, false, true, true, false, false}), sampling(1f, 0.8f, 0));
    }

    @Test
    void extremeLogitsStayFinite() {
        float[] logits = {1e30f, -1e30f, 1e30f, 0f};
        Sampler sampler = new Sampler(sampling(0.01f, 0.9f, 0), 3);
        for (int i = 0; i < 100; i++) {
            int token = sampler.next(logits.clone());
            assertTrue(token == 0 || token == 2, "sampled " + token);
        }
    }

    @Test
    void theSameSeedGivesTheSameTokensAndTheStateContinuesTheStream() {
        GenerationOptions options = sampling(1f, 1f, 0);
        int[] first = draws(new Sampler(options, 5), 40);
        assertArrayEquals(first, draws(new Sampler(options, 5), 40));
        assertFalse(Arrays.equals(first, draws(new Sampler(options, 6), 40)), "another seed, the same 40 tokens");
        Sampler half = new Sampler(options, 5);
        int[] head = draws(half, 20);
        int[] tail = draws(new Sampler(options, half.state()), 20);
        int[] joined = Arrays.copyOf(head, 40);
        System.arraycopy(tail, 0, joined, 20, 20);
        assertArrayEquals(first, joined);
    }

    @Test
    void topKOrdersNegativeLogitsByValueAndEqualOnesByBoth() {
        // top 1 of negative logits is the largest (-0.0), not the largest magnitude
        assertEquals(1, new Sampler(sampling(1f, 1f, 1), 1).next(new float[] {-0.5f, -0f, -2f}));
        // top 2 of these are the two equal 0.5s (ids 3 and 4): both are drawn
        float[] logits = {-0.5f, -0f, -2f, 0.5f, 0.5f};
        Sampler topTwo = new Sampler(sampling(1f, 1f, 2), 1);
        boolean[] seen = new boolean[logits.length];
        for (int i = 0; i < 200; i++) seen[topTwo.next(logits.clone())] = true;
        assertArrayEquals(new boolean[] {false, false, false, true, true}, seen);
    }

    /**
     * A vocabulary of 1000 random logits (with ties): top-k and top-p draws follow the distribution computed by
     * sorting the whole vocabulary (the sampler takes only the tokens it keeps from a heap).
     */
    @Test
    void topKAndTopPOnALargeVocabularyFollowTheSortedDistribution() {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(17);
        float[] logits = new float[1000];
        for (int i = 0; i < logits.length; i++) logits[i] = (float) Math.round(rnd.nextGaussian() * 40) / 10f;
        Integer[] sorted = new Integer[logits.length];
        for (int i = 0; i < sorted.length; i++) sorted[i] = i;
        Arrays.sort(sorted, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : a - b);
        for (float[] setting : new float[][] {{0.8f, 0.9f, 0}, {1.3f, 0.5f, 0}, {1f, 1f, 40}, {0.9f, 0.7f, 25}}) {
            float temperature = setting[0], topP = setting[1];
            int topK = (int) setting[2];
            int keep = topK > 0 ? topK : logits.length;
            double[] p = new double[logits.length];
            double sum = 0;
            for (int i = 0; i < keep; i++)
                sum += p[sorted[i]] = Math.exp((logits[sorted[i]] - logits[sorted[0]]) / temperature);
            double cumulative = 0, mass = 0;
            for (int i = 0; i < keep; i++) {
                if (cumulative >= topP) p[sorted[i]] = 0;
                cumulative += Math.exp((logits[sorted[i]] - logits[sorted[0]]) / temperature) / sum;
                mass += p[sorted[i]];
            }
            Sampler sampler = new Sampler(sampling(temperature, topP, topK), 23);
            int draws = 100_000;
            double[] counts = new double[logits.length];
            for (int i = 0; i < draws; i++) counts[sampler.next(logits)]++;
            for (int i = 0; i < logits.length; i++) {
                assertEquals(p[i] / mass, counts[i] / draws, 0.006, "token " + i + " at " + Arrays.toString(setting));
            }
        }
    }
}
