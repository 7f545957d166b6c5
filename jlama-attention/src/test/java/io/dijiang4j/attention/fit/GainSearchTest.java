package io.dijiang4j.attention.fit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.CentroidFeatureMap;
import io.dijiang4j.attention.features.FeatureMaps;
import io.dijiang4j.attention.features.ProjectionFeatureMap;
import io.dijiang4j.attention.ops.hybrid.NaiveHybridAttention;
import io.dijiang4j.attention.ops.softmax.NaiveSoftmaxAttention;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class GainSearchTest {
    private static final int D = 8;
    private static final double TAU = 1 / Math.sqrt(D);

    @Test
    void errorsMatchTheNaiveHybridReference() {
        SplittableRandom random = new SplittableRandom(1);
        int heads = 3, s0 = 2, w = 5;
        int[] lengths = {29, 18};
        float[][] q = new float[lengths.length][], k = new float[lengths.length][], v = new float[lengths.length][];
        List<KvHeadSequence> data = new java.util.ArrayList<>();
        AttentionShape shape = new AttentionShape(heads, 1, D);
        for (int s = 0; s < lengths.length; s++) {
            q[s] = gaussianFloats(random, lengths[s] * heads * D, 1.4);
            k[s] = gaussianFloats(random, lengths[s] * D, 1.4);
            v[s] = gaussianFloats(random, lengths[s] * D, 1);
            data.add(KvHeadSequence.fromLayer(shape, 0, q[s], k[s], v[s], lengths[s]));
        }
        FitSettings settings = FitSettings.of(TAU, s0, w);
        List<FeatureMap> maps = List.of(
                FeatureMaps.create("performer", D, 12, 3).withKernelWeights(uniform(12, 40)),
                MemoryFit.fitCentroids(MemoryFit.keysOf(data, s0), 5, TAU, 2));
        for (FeatureMap map : maps) {
            GainSearch.RowErrors[] errors = GainSearch.rowErrors(map, data, settings);
            for (double g : new double[] {0, 0.3, 1, 4.5}) {
                double[] perHead = new double[heads];
                long rows = 0;
                for (int s = 0; s < lengths.length; s++) {
                    AttentionSpec spec =
                            AttentionSpec.hybrid(map, D, s0, w).withScale(TAU).withMemoryGain(new double[] {g, g, g});
                    double[] hybrid = NaiveHybridAttention.forward(shape, spec, q[s], k[s], v[s], lengths[s]);
                    double[] full = NaiveSoftmaxAttention.forward(shape, TAU, true, q[s], k[s], v[s], lengths[s]);
                    for (int n = s0 + w; n < lengths[s]; n++) {
                        for (int h = 0; h < heads; h++) {
                            for (int i = 0; i < D; i++) {
                                int o = (n * heads + h) * D + i;
                                perHead[h] += (hybrid[o] - full[o]) * (hybrid[o] - full[o]);
                            }
                        }
                    }
                    rows += lengths[s] - s0 - w;
                }
                for (int h = 0; h < heads; h++) {
                    double expected = perHead[h] / (rows * D);
                    double got = errors[h].error(Math.log(g));
                    assertEquals(expected, got, 1e-9 * expected, map.name() + " g=" + g + " head " + h);
                }
            }
        }
    }

    /** Given the recorded softmax output, the search reads it instead of recomputing it: the same errors. */
    @Test
    void recordedOutputsGiveTheSameErrors() {
        SplittableRandom random = new SplittableRandom(4);
        int heads = 2, s0 = 3, w = 6;
        int[] lengths = {31, 17};
        AttentionShape shape = new AttentionShape(heads, 1, D);
        List<KvHeadSequence> plain = new java.util.ArrayList<>(), recorded = new java.util.ArrayList<>();
        for (int length : lengths) {
            float[] q = gaussianFloats(random, length * heads * D, 1.3);
            float[] k = gaussianFloats(random, length * D, 1.3);
            float[] v = gaussianFloats(random, length * D, 1);
            double[] full = NaiveSoftmaxAttention.forward(shape, TAU, true, q, k, v, length);
            float[] out = new float[full.length];
            for (int i = 0; i < out.length; i++) out[i] = (float) full[i];
            plain.add(KvHeadSequence.fromLayer(shape, 0, q, k, v, length));
            recorded.add(KvHeadSequence.fromLayer(shape, 0, q, k, v, out, length));
        }
        FitSettings settings = FitSettings.of(TAU, s0, w);
        FeatureMap map = MemoryFit.fitCentroids(MemoryFit.keysOf(plain, s0), 5, TAU, 2);
        GainSearch.HeadGain[] a = GainSearch.search(map, plain, settings);
        GainSearch.HeadGain[] b = GainSearch.search(map, recorded, settings);
        for (int h = 0; h < heads; h++) {
            // the outputs were rounded to float: errors agree to about float precision of o* relative to o - o*
            assertEquals(a[h].windowError(), b[h].windowError(), 1e-5 * a[h].windowError(), "head " + h);
            assertEquals(a[h].unitGainError(), b[h].unitGainError(), 1e-5 * a[h].unitGainError(), "head " + h);
            assertEquals(a[h].gain(), b[h].gain(), 1e-3 * Math.max(1e-3, a[h].gain()), "head " + h);
        }
    }

    @Test
    void memoryThatOnlyHurtsGetsGainZero() {
        // queries attend only to the sinks (every other logit is > 745 below: exactly 0 in double), while a constant
        // kernel of large mass pulls the output towards the mean of the evicted values: any g > 0 adds error
        SplittableRandom random = new SplittableRandom(2);
        int heads = 2, length = 40, s0 = 2, w = 4;
        double[] u = new double[D];
        u[0] = 1;
        double[][] keys = new double[length][D];
        double[][][] queries = new double[heads][length][D];
        double[][] values = new double[length][D];
        for (int j = 0; j < length; j++) {
            for (int i = 0; i < D; i++) {
                keys[j][i] = j < s0 ? 50 * u[i] + 0.1 * random.nextGaussian() : random.nextGaussian();
                values[j][i] = random.nextGaussian();
            }
            for (double[][] head : queries) {
                for (int i = 0; i < D; i++) head[j][i] = 50 * u[i] + 0.1 * random.nextGaussian();
            }
        }
        List<KvHeadSequence> data = List.of(new KvHeadSequence(queries, keys, values));
        int m = 4;
        float[] logWeights = new float[m];
        java.util.Arrays.fill(logWeights, 440f); // phi.phi = m e^880, about the sinks' e^(tau 2500)
        FeatureMap constant = ProjectionFeatureMap.symmetric(
                "constant", D, m, FeatureMap.Normalization.NONE, new float[D * m], logWeights);
        GainSearch.HeadGain[] gains = GainSearch.search(constant, data, FitSettings.of(TAU, s0, w));
        assertEquals(heads, gains.length);
        for (GainSearch.HeadGain gain : gains) {
            assertEquals(0, gain.gain());
            assertEquals(gain.windowError(), gain.error());
            assertTrue(gain.unitGainError() > 1e-3, "the memory is heavy at g = 1: " + gain);
            assertEquals(length - s0 - w, gain.rows());
        }
    }

    @Test
    void plantedHelpfulMemoryGetsItsGain() {
        SplittableRandom random = new SplittableRandom(3);
        int m = 12, heads = 2;
        double[][] centers = FitData.centers(random, m, D);
        List<KvHeadSequence> data =
                List.of(FitData.onCenters(random, centers, heads, 60), FitData.onCenters(random, centers, heads, 45));
        FitSettings settings = FitSettings.of(TAU, 1, 6);
        CentroidFeatureMap exact = CentroidFeatureMap.fromKeyCentroids(centers, TAU);
        for (double planted : new double[] {1, 0.25}) {
            double[] weights = new double[m];
            java.util.Arrays.fill(weights, planted);
            GainSearch.HeadGain[] gains = GainSearch.search(exact.withWeights(weights), data, settings);
            for (GainSearch.HeadGain gain : gains) {
                assertEquals(1 / planted, gain.gain(), 1e-3 / planted, gain.toString());
                assertTrue(gain.windowError() > 1e-3, "the window alone misses the evicted mass: " + gain);
                assertTrue(gain.error() < 1e-8 * gain.windowError(), gain.toString());
                assertTrue(gain.error() <= gain.unitGainError());
            }
        }
    }

    @Test
    void rejectsDataWithoutValuesOrRows() {
        SplittableRandom random = new SplittableRandom(4);
        KvHeadSequence seq = FitData.attentionLike(random, 1, 30, D, 3);
        FeatureMap map = FeatureMaps.create("pff", D, 4, 1);
        KvHeadSequence noValues = new KvHeadSequence(seq.queries(), seq.keys(), null);
        assertThrows(
                IllegalArgumentException.class,
                () -> GainSearch.search(map, List.of(noValues), FitSettings.of(TAU, 2, 4)));
        assertThrows(
                IllegalArgumentException.class,
                () -> GainSearch.search(map, List.of(seq), FitSettings.of(TAU, 10, 20)));
    }

    private static double[] uniform(int m, double value) {
        double[] x = new double[m];
        java.util.Arrays.fill(x, value);
        return x;
    }

    private static float[] gaussianFloats(SplittableRandom random, int n, double sigma) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (sigma * random.nextGaussian());
        return a;
    }
}
