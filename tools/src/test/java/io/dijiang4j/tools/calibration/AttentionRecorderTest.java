package io.dijiang4j.tools.calibration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.profile.Mode;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AttentionRecorderTest {
    @TempDir
    Path temp;

    /**
     * The recording pass keeps the logits of the first texts asked for, and they are the original model's (Jlama's
     * softmax attention) up to the rounding of the kernels: the sensitivity and the closing evaluation compare to
     * them instead of running the original model again. The recorded rows do not depend on how many logits are kept.
     */
    @Test
    void theRecordingKeepsTheOriginalModelsLogitsOfTheFirstTexts() {
        try (DiJiangModel vanilla = DiJiang.load(Stories260K.profile().withMode(Mode.SOFTMAX))) {
            SplittableRandom random = new SplittableRandom(17);
            List<int[]> sequences = List.of(tokens(random, vanilla, 73), tokens(random, vanilla, 41));
            Path dir = temp.resolve("a"), other = temp.resolve("b");
            dir.toFile().mkdirs();
            other.toFile().mkdirs();
            AttentionRecorder.Recording recording =
                    AttentionRecorder.record(vanilla, Stories260K.profile(), sequences, 1, dir, line -> {});
            assertEquals(1, recording.logits().size(), "the logits of the first text only");
            float[][] kept = recording.logits().get(0);
            float[][] expected;
            try (Session s = vanilla.newSession()) {
                expected = s.appendAll(sequences.get(0));
            }
            assertEquals(expected.length, kept.length);
            double worst = 0, scale = 0;
            for (int p = 0; p < expected.length; p++) {
                for (int v = 0; v < expected[p].length; v++) {
                    worst = Math.max(worst, Math.abs(expected[p][v] - kept[p][v]));
                    scale = Math.max(scale, Math.abs(expected[p][v]));
                }
            }
            assertTrue(scale > 1, "logits of some size: " + scale);
            assertTrue(worst < 1e-3, "max |logit difference| to Jlama's softmax " + worst);
            AttentionRecorder.Recording both =
                    AttentionRecorder.record(vanilla, Stories260K.profile(), sequences, 2, other, line -> {});
            assertEquals(2, both.logits().size());
            for (int l = 0; l < recording.layers(); l++) {
                AttentionRecorder.LayerRows a = recording.layer(l), b = both.layer(l);
                for (int t = 0; t < 2; t++) {
                    // equal up to the JIT's rounding (compiled and interpreted Vector API code round differently)
                    assertClose(a.k().get(t), b.k().get(t), "keys, layer " + l + " text " + t);
                    assertClose(a.out().get(t), b.out().get(t), "outputs, layer " + l + " text " + t);
                }
            }
        }
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-5 * Math.max(1, Math.abs(expected[i])), what);
        }
    }

    private static int[] tokens(SplittableRandom random, DiJiangModel model, int length) {
        int[] t = new int[length];
        t[0] = model.tokens().withBos(new int[0])[0];
        for (int i = 1; i < length; i++) t[i] = 3 + random.nextInt(model.vocabularySize() - 3);
        return t;
    }
}
