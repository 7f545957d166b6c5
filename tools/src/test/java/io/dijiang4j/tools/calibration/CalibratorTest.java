package io.dijiang4j.tools.calibration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.calibration.Calibration;
import java.util.List;
import org.junit.jupiter.api.Test;

class CalibratorTest {
    /**
     * Same seed, same calibration: the plan exactly, the fitted numbers to 1e-4. Not bit for bit: Jlama's Vector API
     * lane reductions round differently before and after the JIT compiles them, so the recorded q/k/v of the first
     * run of a JVM differ from later runs in their last bits (about 1e-7 relative).
     */
    @Test
    void sameSeedGivesTheSamePlanAndFit() {
        Calibrator.Options options =
                Stories260K.options(5).withTexts(2, 120).withBudget(20).withCandidates(List.of(8), List.of(0, 4));
        Calibrator.Result a = Calibrator.run(Stories260K.profile(), null, null, options, line -> {});
        Calibrator.Result b = Calibrator.run(Stories260K.profile(), null, null, options, line -> {});
        Calibration x = a.calibration(), y = b.calibration();
        assertEquals(x.model(), y.model());
        assertEquals(x.map(), y.map());
        assertEquals(x.settings(), y.settings());
        assertTrue(x.averageExactTokens() <= 20, "budget exceeded: " + x.averageExactTokens());
        for (int l = 0; l < x.layers().size(); l++) {
            Calibration.Layer p = x.layers().get(l), q = y.layers().get(l);
            assertEquals(
                    p.withKl(0).withoutMemory().toString(),
                    q.withKl(0).withoutMemory().toString(),
                    "layer " + l);
            for (int h = 0; h < p.gains().length; h++) {
                assertEquals(p.gains()[h] > 0, q.gains()[h] > 0, "memory on/off, layer " + l + " head " + h);
                assertEquals(p.gains()[h], q.gains()[h], 1e-4 * Math.max(1, p.gains()[h]), "gain");
            }
            for (int h = 0; h < p.weights().length; h++) {
                assertClose(p.centroids()[h], q.centroids()[h], "centroids, layer " + l);
                assertClose(p.weights()[h], q.weights()[h], "log weights, layer " + l);
            }
            assertEquals(p.kl(), q.kl(), 1e-4 * p.kl(), "layer KL");
        }
        assertEquals(x.results().keySet(), y.results().keySet());
        x.results().forEach((k, v) -> assertEquals(v, y.results().get(k), 1e-4 * Math.abs(v), k));
        // the search measured what it chose: the chosen layer-alone KL is the least among candidates of its cost
        for (int l = 0; l < x.layers().size(); l++) {
            Calibration.Layer chosen = x.layers().get(l);
            int layer = l;
            double least = a.candidates().stream()
                    .filter(c -> c.layer() == layer && c.cost() == chosen.exactTokens())
                    .mapToDouble(Calibrator.Candidate::kl)
                    .min()
                    .orElseThrow();
            assertEquals(least, chosen.kl());
        }
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        double scale = 0;
        for (float v : expected) scale = Math.max(scale, Math.abs(v));
        float[] rounded = new float[expected.length];
        for (int i = 0; i < expected.length; i++) {
            rounded[i] = Math.abs(expected[i] - actual[i]) <= 1e-4 * Math.max(scale, 1) ? expected[i] : actual[i];
        }
        assertArrayEquals(expected, rounded, what);
    }
}
