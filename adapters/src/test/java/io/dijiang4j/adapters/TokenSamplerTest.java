package io.dijiang4j.adapters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TokenSamplerTest {
    private static final float[] LOGITS = {0.3f, 2.0f, -1.0f, 1.2f, 2.0f, 0.9f, -3.0f};

    private static double[] frequencies(GenerationOptions options, int draws) {
        TokenSampler sampler = new TokenSampler(options, new Random(11));
        double[] counts = new double[LOGITS.length];
        for (int i = 0; i < draws; i++) {
            counts[sampler.sample(LOGITS.clone())]++;
        }
        for (int i = 0; i < counts.length; i++) {
            counts[i] /= draws;
        }
        return counts;
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

    @Test
    void greedyTakesTheFirstLargestLogit() {
        assertEquals(1, new TokenSampler(GenerationOptions.greedy(), new Random(1)).sample(LOGITS.clone()));
    }

    @Test
    void temperatureSamplingFollowsTheSoftmax() {
        double[] expected = softmax(0.7, new boolean[] {true, true, true, true, true, true, true});
        double[] observed = frequencies(new GenerationOptions(0.7, null, null, null, List.of(), null), 200_000);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], observed[i], 0.005, "token " + i);
        }
    }

    @Test
    void topKKeepsTheKMostLikely() {
        // top 3: tokens 1 and 4 (2.0) and 3 (1.2)
        double[] expected = softmax(1.0, new boolean[] {false, true, false, true, true, false, false});
        double[] observed = frequencies(new GenerationOptions(1.0, 3, null, null, List.of(), null), 200_000);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], observed[i], 0.005, "token " + i);
        }
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        double[] all = softmax(1.0, new boolean[] {true, true, true, true, true, true, true});
        // the two 2.0 logits hold all[1] + all[4] < 0.8; adding token 3 passes it
        assertTrue(all[1] + all[4] < 0.8 && all[1] + all[4] + all[3] >= 0.8);
        double[] expected = softmax(1.0, new boolean[] {false, true, false, true, true, false, false});
        double[] observed = frequencies(new GenerationOptions(1.0, null, 0.8, null, List.of(), null), 200_000);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], observed[i], 0.005, "token " + i);
        }
    }

    @Test
    void extremeLogitsStayFinite() {
        float[] logits = {1e30f, -1e30f, 1e30f, 0f};
        TokenSampler sampler =
                new TokenSampler(new GenerationOptions(0.01, null, 0.9, null, List.of(), null), new Random(3));
        for (int i = 0; i < 100; i++) {
            int token = sampler.sample(logits.clone());
            assertTrue(token == 0 || token == 2, "sampled " + token);
        }
    }
}
