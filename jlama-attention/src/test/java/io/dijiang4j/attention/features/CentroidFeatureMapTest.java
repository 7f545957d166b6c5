package io.dijiang4j.attention.features;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.cpu.CpuKernelProvider;
import io.dijiang4j.attention.ops.hybrid.NaiveHybridAttention;
import io.dijiang4j.attention.ops.linear.FusedRecurrentLinearAttention;
import io.dijiang4j.attention.ops.linear.KernelMemory;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CentroidFeatureMapTest {
    @Test
    void kernelIsTheWeightOfTheNearestCentroidTimesExpOfTheQueryDot() {
        SplittableRandom random = new SplittableRandom(13);
        for (int[] dm : new int[][] {{8, 16}, {5, 3}, {16, 64}}) {
            int d = dm[0], m = dm[1];
            double tau = 1 / Math.sqrt(d), root = Math.sqrt(tau);
            double[][] centroids = gaussian(random, m, d, 3);
            double[] weights = new double[m];
            for (int l = 0; l < m; l++) weights[l] = 0.1 + 3 * random.nextDouble();
            CentroidFeatureMap map =
                    CentroidFeatureMap.fromKeyCentroids(centroids, tau).withWeights(weights);
            assertEquals("centroids", map.name());
            double[] qLog = new double[m], kLog = new double[m], xq = new double[d], xk = new double[d];
            for (int trial = 0; trial < 50; trial++) {
                double[] q = gaussian(random, 1, d, 3)[0], k = gaussian(random, 1, d, 3)[0];
                for (int i = 0; i < d; i++) {
                    xq[i] = root * q[i];
                    xk[i] = root * k[i];
                }
                map.logQueryFeatures(xq, 0, qLog, 0);
                map.logKeyFeatures(xk, 0, kLog, 0);
                double kernel = 0;
                for (int l = 0; l < m; l++) kernel += Math.exp(qLog[l] + kLog[l]);
                int nearest = 0; // brute force, in key space
                for (int l = 1; l < m; l++) {
                    if (squaredDistance(k, centroids[l]) < squaredDistance(k, centroids[nearest])) nearest = l;
                }
                double expected = weights[nearest] * Math.exp(tau * dot(q, centroids[nearest]));
                // the map stores float(sqrt(tau) c) and float(log w): relative error of a few float ulps of the logit
                double logitScale = 1 + Math.abs(tau * dot(q, centroids[nearest]));
                assertEquals(expected, kernel, 1e-6 * logitScale * expected, "d=" + d + " m=" + m);
                for (int l = 0; l < m; l++) {
                    assertEquals(l == nearest ? 0.0 : CentroidFeatureMap.LOG_FLOOR, kLog[l]);
                }
            }
        }
    }

    @Test
    void overloadsAgreeAndTheFloorVanishes() {
        SplittableRandom random = new SplittableRandom(17);
        int d = 8, m = 12;
        CentroidFeatureMap map = CentroidFeatureMap.fromKeyCentroids(gaussian(random, m, d, 2), 0.35);
        float[] x = new float[d];
        double[] xd = new double[d];
        float[] rows = new float[3 * (d + 1)];
        for (int r = 0; r < 3; r++) {
            for (int i = 0; i < d; i++) rows[r * (d + 1) + i] = (float) (2 * random.nextGaussian());
        }
        float[] batchQ = new float[3 * m], batchK = new float[3 * m], q = new float[m], k = new float[m];
        double[] qd = new double[m], kd = new double[m];
        float scale = 0.7f;
        map.logQueryFeatures(rows, 0, d + 1, 3, scale, batchQ, 0);
        map.logKeyFeatures(rows, 0, d + 1, 3, scale, batchK, 0);
        for (int r = 0; r < 3; r++) {
            for (int i = 0; i < d; i++) {
                x[i] = scale * rows[r * (d + 1) + i];
                xd[i] = x[i];
            }
            map.logQueryFeatures(x, 0, q, 0);
            map.logKeyFeatures(x, 0, k, 0);
            map.logQueryFeatures(xd, 0, qd, 0);
            map.logKeyFeatures(xd, 0, kd, 0);
            for (int l = 0; l < m; l++) {
                assertEquals(q[l], batchQ[r * m + l], "batched query = single row, bit for bit");
                assertEquals(k[l], batchK[r * m + l], "batched key = single row, bit for bit");
                assertEquals((float) qd[l], q[l], "float = double rounded");
                assertEquals(kd[l], k[l]);
            }
            assertEquals(0, k[map.nearest(xd, 0)]);
        }
        // exp of the floor plus a large query log-feature is exactly 0 in both precisions
        assertEquals(0.0, Math.exp(CentroidFeatureMap.LOG_FLOOR + 5000.0));
        assertEquals(0f, (float) Math.exp(CentroidFeatureMap.LOG_FLOOR + 5000f));
        assertEquals(0f, io.dijiang4j.attention.simd.Vec.exp(CentroidFeatureMap.LOG_FLOOR + 5000f));
    }

    @Test
    void runsThroughTheLogDomainMemoryWithoutNaN() {
        // the recurrent memory of the kernels (float features, float64 sums with a log offset) against the formula
        SplittableRandom random = new SplittableRandom(23);
        int d = 8, m = 6, length = 40;
        double tau = 1 / Math.sqrt(d);
        double[][] centroids = gaussian(random, m, d, 4);
        double[] weights = {0.5, 2, 0, 1, 3, 0.25}; // one cluster switched off
        CentroidFeatureMap map =
                CentroidFeatureMap.fromKeyCentroids(centroids, tau).withWeights(weights);
        float[] keys = new float[length * d], values = new float[length * d], q = new float[d];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = (float) (4 * random.nextGaussian());
            values[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < d; i++) q[i] = (float) (3 * random.nextGaussian());
        KernelMemory memory = new KernelMemory(m, d);
        FusedRecurrentLinearAttention step = new FusedRecurrentLinearAttention(map, d, tau, 1.0);
        float[] out = new float[d];
        double[] num = new double[d];
        double den = 0, max = Double.NEGATIVE_INFINITY;
        double[] logs = new double[length];
        float[] scaledKey = new float[d];
        float root = (float) Math.sqrt(tau);
        for (int j = 0; j < length; j++) {
            step.addKey(memory, keys, j * d, values, j * d);
            for (int i = 0; i < d; i++) scaledKey[i] = root * keys[j * d + i];
            double[] xk = new double[d];
            for (int i = 0; i < d; i++) xk[i] = scaledKey[i];
            int c = map.nearest(xk, 0);
            double qc = 0;
            for (int i = 0; i < d; i++) qc += (double) (root * q[i]) * map.scaledCentroids()[c * d + i];
            logs[j] = weights[c] > 0 ? Math.log(weights[c]) + qc : Double.NEGATIVE_INFINITY;
            max = Math.max(max, logs[j]);
        }
        for (int j = 0; j < length; j++) {
            double e = Math.exp(logs[j] - max);
            den += e;
            for (int i = 0; i < d; i++) num[i] += e * values[j * d + i];
        }
        step.query(memory, q, 0, out, 0);
        for (int i = 0; i < d; i++) {
            assertTrue(Float.isFinite(out[i]));
            assertEquals(num[i] / den, out[i], 1e-4);
        }
    }

    @Test
    void cpuHybridKernelWithACentroidMapEqualsTheNaiveReference() {
        // the chunked (ChunkLinearAttention) and recurrent forms take the one-hot key features and their floor through
        // the
        // float log-domain memory; GQA 2:1 with one shared map, with and without decay
        SplittableRandom random = new SplittableRandom(37);
        int heads = 4, kvHeads = 2, d = 8, m = 10, length = 150, sinks = 2, window = 9;
        AttentionShape shape = new AttentionShape(heads, kvHeads, d);
        float[] q = new float[length * shape.queryWidth()], k = new float[length * shape.kvWidth()];
        float[] v = new float[k.length];
        for (int i = 0; i < q.length; i++) q[i] = (float) (1.5 * random.nextGaussian());
        for (int i = 0; i < k.length; i++) {
            k[i] = (float) (1.5 * random.nextGaussian());
            v[i] = (float) random.nextGaussian();
        }
        double[][] centroids = new double[m][d]; // keys of random positions as centroids: every cluster has mass
        for (int l = 0; l < m; l++) {
            int row = random.nextInt(length) * shape.kvWidth() + random.nextInt(kvHeads) * d;
            for (int i = 0; i < d; i++) centroids[l][i] = k[row + i];
        }
        double[] weights = new double[m];
        for (int l = 0; l < m; l++) weights[l] = l == 3 ? 0 : 0.3 + random.nextDouble();
        CentroidFeatureMap map =
                CentroidFeatureMap.fromKeyCentroids(centroids, 1 / Math.sqrt(d)).withWeights(weights);
        for (double[] decay : new double[][] {null, {0.99, 0.97, 0.95, 0.9}}) {
            AttentionSpec spec = AttentionSpec.hybrid(map, d, sinks, window)
                    .withBlockSize(16)
                    .withMemoryGain(new double[] {0.7, 1, 1.3, 2})
                    .withDecay(decay);
            double[] ref = NaiveHybridAttention.forward(shape, spec, q, k, v, length);
            double[] windowOnly =
                    NaiveHybridAttention.forward(shape, spec.withMemoryGain(new double[heads]), q, k, v, length);
            assertTrue(maxDifference(windowOnly, ref) > 1e-2, "the memory contributes");
            AttentionKernel kernel = new CpuKernelProvider().create(shape, spec);
            float[] chunked = new float[q.length];
            kernel.forward(kernel.newState(), q, k, v, chunked, length);
            float[] recurrent = new float[q.length];
            AttentionState state = kernel.newState();
            int qw = shape.queryWidth(), kw = shape.kvWidth();
            for (int t = 0; t < length; t++) {
                float[] out = new float[qw];
                kernel.forward(
                        state,
                        java.util.Arrays.copyOfRange(q, t * qw, (t + 1) * qw),
                        java.util.Arrays.copyOfRange(k, t * kw, (t + 1) * kw),
                        java.util.Arrays.copyOfRange(v, t * kw, (t + 1) * kw),
                        out,
                        1);
                System.arraycopy(out, 0, recurrent, t * qw, qw);
            }
            double scale = 0;
            for (double r : ref) scale = Math.max(scale, Math.abs(r));
            for (float[] fast : new float[][] {chunked, recurrent}) {
                double[] widened = new double[fast.length];
                for (int i = 0; i < fast.length; i++) {
                    assertTrue(Float.isFinite(fast[i]));
                    widened[i] = fast[i];
                }
                assertTrue(maxDifference(widened, ref) < 1e-5 * scale, "decay " + (decay != null));
            }
        }
    }

    private static double maxDifference(double[] a, double[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
        return max;
    }

    @Test
    void weightsEqualityAndValidation() {
        SplittableRandom random = new SplittableRandom(31);
        double[][] centroids = gaussian(random, 4, 3, 1);
        CentroidFeatureMap a = CentroidFeatureMap.fromKeyCentroids(centroids, 0.5);
        CentroidFeatureMap b = CentroidFeatureMap.fromKeyCentroids(centroids, 0.5);
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        CentroidFeatureMap weighted = a.withWeights(new double[] {2, 0, 0.5, 1});
        assertNotEquals(a, weighted);
        assertEquals(2, weighted.weights()[0], 1e-6);
        assertEquals(0, weighted.weights()[1]);
        assertEquals(ProjectionFeatureMap.LOG_ZERO_WEIGHT, weighted.logWeights()[1]);
        assertEquals(new CentroidFeatureMap(3, weighted.scaledCentroids(), weighted.logWeights()), weighted);
        assertNotEquals(a, CentroidFeatureMap.fromKeyCentroids(centroids, 0.25), "the scale is part of the map");
        assertThrows(IllegalArgumentException.class, () -> a.withWeights(new double[] {0, 0, 0, 0}));
        assertThrows(IllegalArgumentException.class, () -> a.withWeights(new double[] {1, -1, 1, 1}));
        assertThrows(IllegalArgumentException.class, () -> a.withWeights(new double[] {1, 1}));
        assertThrows(IllegalArgumentException.class, () -> new CentroidFeatureMap(3, new float[7], new float[2]));
        // relative kernel weights through FeatureMaps multiply the current ones
        CentroidFeatureMap doubled =
                (CentroidFeatureMap) FeatureMaps.withKernelWeights(weighted, new double[] {2, 5, 2, 0});
        assertEquals(4, doubled.weights()[0], 1e-5);
        assertEquals(0, doubled.weights()[1]);
        assertEquals(1, doubled.weights()[2], 1e-6);
        assertEquals(0, doubled.weights()[3]);
    }

    private static double[][] gaussian(SplittableRandom random, int rows, int cols, double sigma) {
        double[][] a = new double[rows][cols];
        for (double[] row : a) {
            for (int i = 0; i < cols; i++) row[i] = sigma * random.nextGaussian();
        }
        return a;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    private static double squaredDistance(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
        return s;
    }
}
