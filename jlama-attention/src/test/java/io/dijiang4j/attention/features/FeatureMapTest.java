package io.dijiang4j.attention.features;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.FeatureMap.Normalization;
import io.dijiang4j.attention.dct.Dct;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FeatureMapTest {
    @Test
    void everyKindIsReproducibleSerializableAndFinite() {
        SplittableRandom random = new SplittableRandom(5);
        for (String kind : FeatureMaps.KINDS) {
            for (int[] dm : new int[][] {{8, 8}, {8, 12}, {64, 64}, {64, 100}, {5, 3}}) {
                int d = dm[0], m = dm[1];
                ProjectionFeatureMap a = FeatureMaps.create(kind, d, m, 17);
                ProjectionFeatureMap b = FeatureMaps.create(kind, d, m, 17);
                assertEquals(a, b, kind);
                assertEquals(a.hashCode(), b.hashCode());
                assertNotEquals(a, FeatureMaps.create(kind, d, m, 18), kind + " depends on the seed");
                ProjectionFeatureMap restored = ProjectionFeatureMap.fromBytes(a.toBytes());
                assertEquals(a, restored);
                assertEquals(kind, a.name());
                assertEquals(AttentionSpec.linear(a, d), AttentionSpec.linear(restored, d));
                float[] x = new float[d];
                double[] xd = new double[d];
                for (int i = 0; i < d; i++) {
                    x[i] = (float) (random.nextDouble() * 4 - 2);
                    xd[i] = x[i];
                }
                float[] out = new float[m];
                double[] outD = new double[m];
                a.logQueryFeatures(x, 0, out, 0);
                a.logKeyFeatures(xd, 0, outD, 0);
                for (int l = 0; l < m; l++) {
                    assertTrue(Float.isFinite(out[l]));
                    assertEquals(outD[l], out[l], 1e-5 * Math.max(1, Math.abs(outD[l])), kind + " float vs double");
                }
                // the batched form (scale applied inside, strided rows) agrees with the single-row form
                float[] rows = new float[3 * (d + 2)];
                for (int r = 0; r < 3; r++) System.arraycopy(x, 0, rows, r * (d + 2), d);
                float[] batch = new float[3 * m];
                a.logKeyFeatures(rows, 0, d + 2, 3, 0.5f, batch, 0);
                float[] half = new float[d];
                for (int i = 0; i < d; i++) half[i] = 0.5f * x[i];
                a.logKeyFeatures(half, 0, out, 0);
                for (int r = 0; r < 3; r++) {
                    for (int l = 0; l < m; l++) {
                        assertEquals(out[l], batch[r * m + l], 1e-5 * Math.max(1, Math.abs(out[l])));
                    }
                }
            }
        }
    }

    /**
     * Golden values: the same seed gives the same parameters on every run, JVM and machine (SplittableRandom and
     * the Halton scrambling are fully specified; values recorded when the maps were written).
     */
    @Test
    void parametersAreTheSameOnEveryMachine() {
        String[] kinds = {"wdcf", "wdcf-mc", "dijiang-code", "performer", "performer-orthogonal", "pff"};
        float[][] golden = {
            {-0.35063884f, 0.6466004f, 0.77893066f},
            {-0.49741313f, -0.08671277f, 0.3533166f},
            {-0.49741313f, -0.08671277f, 0.3533166f},
            {-0.99482626f, -0.26476118f, -0.13714042f},
            {-0.62027663f, -0.5227383f, -0.64043283f},
            {-0.54585165f, 1.3017069f, -0.3620438f}
        };
        for (int i = 0; i < kinds.length; i++) {
            float[] p = FeatureMaps.create(kinds[i], 4, 6, 42).queryProjection();
            assertArrayEquals(golden[i], new float[] {p[0], p[7], p[23]}, 1e-6f, kinds[i]);
        }
        double[] u = new double[3];
        new io.dijiang4j.attention.qmc.Halton(3, 42).point(5, u);
        assertArrayEquals(new double[] {0.1165648787718232, 0.5008233524773609, 0.17840519371218444}, u, 1e-15);
        new io.dijiang4j.attention.qmc.MonteCarlo(3, 42).point(5, u);
        assertArrayEquals(new double[] {0.2943111174411187, 0.1285577427559098, 0.2812399569471451}, u, 1e-15);
    }

    @Test
    void wdcfIsDExpTCxWithQuasiRandomT() {
        int d = 8, m = 20;
        ProjectionFeatureMap map = FeatureMaps.create("wdcf", d, m, 3);
        assertEquals(Normalization.NONE, map.normalization());
        double[][] c = Dct.matrix(d);
        float[] p = map.queryProjection();
        double[] x = new double[d];
        for (int i = 0; i < d; i++) x[i] = Math.sin(i + 1.0);
        double[] log = new double[m];
        map.logQueryFeatures(x, 0, log, 0);
        for (int l = 0; l < m; l++) {
            int k = l % d;
            double t = p[k * m + l] / c[l % d][k]; // column l of P is t_l times DCT row (l mod d)
            double cx = 0;
            for (int i = 0; i < d; i++) {
                assertEquals(t * c[k][i], p[i * m + l], 1e-6);
                cx += c[k][i] * x[i];
            }
            assertEquals(Math.log(1 / Math.sqrt(m)) + t * cx, log[l], 1e-5); // log(D exp(t (C x)_k))
        }
    }

    @Test
    void dijiangCodeIsASoftmaxOverFeatures() {
        ProjectionFeatureMap map = FeatureMaps.create("dijiang-code", 16, 24, 9);
        double[] x = new double[16];
        for (int i = 0; i < 16; i++) x[i] = Math.cos(3 * i);
        double[] log = new double[24];
        map.logQueryFeatures(x, 0, log, 0);
        double sum = 0;
        for (double l : log) sum += Math.exp(l);
        assertEquals(1.0, sum, 1e-6);
    }

    @Test
    void orthogonalPerformerRowsAreOrthogonalWithinABlock() {
        int d = 8;
        float[] p = FeatureMaps.create("performer-orthogonal", d, 16, 2).queryProjection();
        for (int block = 0; block < 2; block++) {
            for (int a = 0; a < d; a++) {
                for (int b = a + 1; b < d; b++) {
                    double dot = 0, na = 0, nb = 0;
                    for (int i = 0; i < d; i++) {
                        double wa = p[i * 16 + block * d + a], wb = p[i * 16 + block * d + b];
                        dot += wa * wb;
                        na += wa * wa;
                        nb += wb * wb;
                    }
                    assertEquals(0, dot / Math.sqrt(na * nb), 1e-5);
                }
            }
        }
    }

    @Test
    void weightsAreSettableAndZeroWeightSwitchesAFeatureOff() {
        ProjectionFeatureMap map = FeatureMaps.create("performer", 4, 3, 1);
        ProjectionFeatureMap weighted = map.withWeights(new double[] {2, 0, 0.5});
        assertNotEquals(map, weighted);
        float[] x = {0.1f, -0.2f, 0.3f, 0.4f};
        float[] a = new float[3], b = new float[3];
        map.logQueryFeatures(x, 0, a, 0);
        weighted.logQueryFeatures(x, 0, b, 0);
        assertEquals(a[0] - map.queryLogWeights()[0] + Math.log(2), b[0], 1e-5);
        assertEquals(0f, (float) Math.exp(b[1]));
        assertEquals(a[2] - map.queryLogWeights()[2] + Math.log(0.5), b[2], 1e-5);
        assertEquals(weighted, ProjectionFeatureMap.fromBytes(weighted.toBytes()));
        assertThrows(IllegalArgumentException.class, () -> map.withWeights(new double[] {0, 0, 0}));
        assertThrows(IllegalArgumentException.class, () -> map.withWeights(new double[] {1, -1, 1}));
        assertThrows(IllegalArgumentException.class, () -> map.withWeights(new double[] {1, 1}));
    }

    @Test
    void badInputGivesOneClearMessage() {
        var e = assertThrows(IllegalArgumentException.class, () -> FeatureMaps.create("fourier", 8, 8, 1));
        assertTrue(e.getMessage().contains("unknown feature map kind 'fourier'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> FeatureMaps.create("pff", 8, 0, 1));
        var bad = assertThrows(IllegalArgumentException.class, () -> ProjectionFeatureMap.fromBytes(new byte[] {1}));
        assertTrue(bad.getMessage().contains("feature map"), bad.getMessage());
        byte[] bytes = FeatureMaps.create("pff", 4, 4, 1).toBytes();
        assertThrows(
                IllegalArgumentException.class,
                () -> ProjectionFeatureMap.fromBytes(java.util.Arrays.copyOf(bytes, bytes.length - 1)));
        assertArrayEquals(bytes, ProjectionFeatureMap.fromBytes(bytes).toBytes());
    }
}
