package io.dijiang4j.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.FeatureMaps;
import io.dijiang4j.attention.features.ProjectionFeatureMap;
import io.dijiang4j.attention.ops.hybrid.NaiveHybridAttention;
import io.dijiang4j.attention.ops.linear.NaiveLinearAttention;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;

/**
 * The checks of the CUDA kernels against the float64 naive references of jlama-attention, on fresh random inputs,
 * shared by {@link CudaKernelGpuTest} (a real device) and {@link EmulatedCudaKernelTest} (the same kernel sources
 * run on the CPU).
 */
final class KernelChecks {
    static final double TOLERANCE = 1e-4;

    private KernelChecks() {}

    /** Shapes {heads, kv heads, d, m} x map kinds, lengths cycling over 1, 31, 33, 100, decay on every other case. */
    static Stream<Arguments> linearCases() {
        List<Arguments> cases = new ArrayList<>();
        int[][] shapes = {{4, 4, 16, 16}, {8, 2, 32, 48}, {2, 1, 128, 128}, {3, 3, 8, 5}};
        String[] kinds = {"wdcf", "performer", "dijiang-code"};
        int[] lengths = {1, 31, 33, 100};
        int c = 0;
        for (int[] s : shapes) {
            for (String kind : kinds) {
                int length = lengths[c % lengths.length];
                boolean decay = c % 2 == 1;
                cases.add(Arguments.of(s[0], s[1], s[2], s[3], kind, length, decay));
                c++;
            }
        }
        cases.add(Arguments.of(8, 2, 32, 48, "asymmetric", 77, true));
        cases.add(Arguments.of(4, 4, 64, 64, "asymmetric", 257, false));
        return cases.stream();
    }

    static FeatureMap map(String kind, int d, int m, long seed) {
        if (!kind.equals("asymmetric")) return FeatureMaps.create(kind, d, m, seed);
        Random rnd = new Random(seed);
        float[] pq = gaussian(rnd, d * m, 1.0), pk = gaussian(rnd, d * m, 1.0);
        float[] wq = gaussian(rnd, m, 0.3), wk = gaussian(rnd, m, 0.3);
        return new ProjectionFeatureMap("asymmetric", d, m, FeatureMap.Normalization.SOFTMAX, pq, pk, wq, wk);
    }

    static AttentionSpec linearSpec(FeatureMap map, AttentionShape shape, boolean decay, Random rnd) {
        AttentionSpec spec = AttentionSpec.linear(map, shape.headDim());
        if (!decay) return spec;
        double[] lambda = new double[shape.numHeads()];
        for (int h = 0; h < lambda.length; h++) lambda[h] = 1 - Math.exp(-3.5 - 2.7 * rnd.nextDouble()); // 1/32..1/512
        return spec.withDecay(lambda);
    }

    static void linearPrefillMatchesTheNaiveReference(
            CudaKernelProvider provider, int heads, int kvHeads, int d, int m, String kind, int length, boolean decay) {
        Random rnd = new Random(31L * heads + 7L * length + d + m + kind.hashCode());
        AttentionShape shape = new AttentionShape(heads, kvHeads, d);
        AttentionSpec spec = linearSpec(map(kind, d, m, rnd.nextLong()), shape, decay, rnd);
        float[] q = gaussian(rnd, length * shape.queryWidth(), 1.0);
        float[] k = gaussian(rnd, length * shape.kvWidth(), 1.0);
        float[] v = gaussian(rnd, length * shape.kvWidth(), 1.0);
        double[] expected = NaiveLinearAttention.forward(shape, spec, q, k, v, length);
        try (AttentionKernel kernel = provider.create(shape, spec)) {
            float[] out = new float[length * shape.queryWidth()];
            AttentionState state = kernel.newState();
            kernel.forward(state, q, k, v, out, length);
            assertClose(expected, out, shape, "one-call prefill");
            assertEquals(length, state.position());
        }
    }

    static void unevenChunksThenDecodeMatchTheNaiveReference(
            CudaKernelProvider provider, int heads, int kvHeads, int d, int m, String kind, int length, boolean decay) {
        Random rnd = new Random(17L * heads + 3L * length + d + kind.hashCode());
        AttentionShape shape = new AttentionShape(heads, kvHeads, d);
        AttentionSpec spec = linearSpec(map(kind, d, m, rnd.nextLong()), shape, decay, rnd);
        int total = length + 40;
        float[] q = gaussian(rnd, total * shape.queryWidth(), 1.0);
        float[] k = gaussian(rnd, total * shape.kvWidth(), 1.0);
        float[] v = gaussian(rnd, total * shape.kvWidth(), 1.0);
        double[] expected = NaiveLinearAttention.forward(shape, spec, q, k, v, total);
        try (AttentionKernel kernel = provider.create(shape, spec)) {
            float[] out = runInChunks(kernel, kernel.newState(), shape, q, k, v, total, rnd);
            assertClose(expected, out, shape, "chunks + decode");
        }
    }

    /** Chunks of random sizes 1..45 (the 1s take the decode kernel), state carried on the device. */
    static float[] runInChunks(
            AttentionKernel kernel,
            AttentionState state,
            AttentionShape shape,
            float[] q,
            float[] k,
            float[] v,
            int total,
            Random rnd) {
        int qw = shape.queryWidth(), kw = shape.kvWidth();
        float[] out = new float[total * qw];
        int at = 0;
        while (at < total) {
            int len = Math.min(total - at, rnd.nextInt(4) == 0 ? 1 : 1 + rnd.nextInt(45));
            float[] chunkOut = new float[len * qw];
            kernel.forward(
                    state,
                    Arrays.copyOfRange(q, at * qw, (at + len) * qw),
                    Arrays.copyOfRange(k, at * kw, (at + len) * kw),
                    Arrays.copyOfRange(v, at * kw, (at + len) * kw),
                    chunkOut,
                    len);
            System.arraycopy(chunkOut, 0, out, at * qw, len * qw);
            at += len;
        }
        assertEquals(total, state.position());
        return out;
    }

    static void largeLogitsStayFiniteAndAccurate(CudaKernelProvider provider) {
        Random rnd = new Random(5);
        AttentionShape shape = new AttentionShape(4, 2, 32);
        AttentionSpec spec = AttentionSpec.linear(FeatureMaps.create("performer", 32, 64, 9), 32)
                .withDecay(new double[] {0.999, 0.99, 0.97, 31.0 / 32});
        int length = 300;
        float[] q = gaussian(rnd, length * shape.queryWidth(), 6.0); // |q| ~ 34: exponents far beyond float range
        float[] k = gaussian(rnd, length * shape.kvWidth(), 6.0);
        float[] v = gaussian(rnd, length * shape.kvWidth(), 1.0);
        double[] expected = NaiveLinearAttention.forward(shape, spec, q, k, v, length);
        try (AttentionKernel kernel = provider.create(shape, spec)) {
            float[] out = new float[length * shape.queryWidth()];
            kernel.forward(kernel.newState(), q, k, v, out, length);
            for (float x : out) assertTrue(Float.isFinite(x), "non-finite output");
            assertClose(expected, out, shape, "large logits");
        }
    }

    static void restoredAndCopiedStatesContinueExactlyLikeTheOriginal(CudaKernelProvider provider) {
        Random rnd = new Random(11);
        AttentionShape shape = new AttentionShape(8, 2, 32);
        AttentionSpec spec = linearSpec(FeatureMaps.create("dijiang-code", 32, 32, 3), shape, true, rnd);
        int first = 45, second = 20;
        float[] q = gaussian(rnd, (first + second) * shape.queryWidth(), 1.0);
        float[] k = gaussian(rnd, (first + second) * shape.kvWidth(), 1.0);
        float[] v = gaussian(rnd, (first + second) * shape.kvWidth(), 1.0);
        try (AttentionKernel kernel = provider.create(shape, spec)) {
            AttentionState state = kernel.newState();
            int qw = shape.queryWidth(), kw = shape.kvWidth();
            kernel.forward(
                    state,
                    Arrays.copyOf(q, first * qw),
                    Arrays.copyOf(k, first * kw),
                    Arrays.copyOf(v, first * kw),
                    new float[first * qw],
                    first);
            AttentionState restored = kernel.restore(state.toBytes());
            AttentionState copy = state.copy();
            float[] a = new float[second * qw], b = new float[second * qw], c = new float[second * qw];
            float[] q2 = Arrays.copyOfRange(q, first * qw, (first + second) * qw);
            float[] k2 = Arrays.copyOfRange(k, first * kw, (first + second) * kw);
            float[] v2 = Arrays.copyOfRange(v, first * kw, (first + second) * kw);
            kernel.forward(state, q2, k2, v2, a, second);
            kernel.forward(restored, q2, k2, v2, b, second);
            kernel.forward(copy, q2, k2, v2, c, second);
            assertArrayEquals(a, b);
            assertArrayEquals(a, c);
            assertEquals(first + second, restored.position());
        }
    }

    /** {heads, kv heads, d, m, sinks, window}, map kinds, lengths, decay on odd cases, per-head gains (one zero). */
    static Stream<Arguments> hybridCases() {
        List<Arguments> cases = new ArrayList<>();
        int[][] shapes = {{4, 2, 16, 16, 2, 5}, {8, 2, 32, 48, 4, 32}, {2, 1, 64, 32, 0, 7}, {3, 3, 8, 5, 3, 0}};
        String[] kinds = {"dijiang-code", "performer", "wdcf"};
        int[] lengths = {40, 1, 77, 100};
        int c = 0;
        for (int[] s : shapes) {
            for (String kind : kinds) {
                cases.add(Arguments.of(
                        s[0], s[1], s[2], s[3], s[4], s[5], kind, lengths[c % lengths.length], c % 2 == 1));
                c++;
            }
        }
        cases.add(Arguments.of(4, 4, 64, 64, 1, 33, "asymmetric", 150, true));
        return cases.stream();
    }

    static AttentionSpec hybridSpec(
            FeatureMap map, AttentionShape shape, int sinks, int window, boolean decay, Random rnd) {
        AttentionSpec spec = linearSpec(map, shape, decay, rnd);
        double[] gain = new double[shape.numHeads()];
        for (int h = 0; h < gain.length; h++) gain[h] = h == 1 ? 0.0 : 0.5 + 1.5 * rnd.nextDouble();
        return new AttentionSpec(
                AttentionSpec.Method.HYBRID,
                map,
                spec.decay(),
                sinks,
                window,
                spec.blockSize(),
                spec.scale(),
                gain,
                true);
    }

    static void hybridMatchesTheNaiveReference(
            CudaKernelProvider provider,
            int heads,
            int kvHeads,
            int d,
            int m,
            int sinks,
            int window,
            String kind,
            int length,
            boolean decay) {
        Random rnd = new Random(13L * heads + 5L * length + 3L * window + d + kind.hashCode());
        AttentionShape shape = new AttentionShape(heads, kvHeads, d);
        AttentionSpec spec = hybridSpec(map(kind, d, m, rnd.nextLong()), shape, sinks, window, decay, rnd);
        int total = length + 45;
        float[] q = gaussian(rnd, total * shape.queryWidth(), 1.0);
        float[] k = gaussian(rnd, total * shape.kvWidth(), 1.0);
        float[] v = gaussian(rnd, total * shape.kvWidth(), 1.0);
        double[] expected = NaiveHybridAttention.forward(shape, spec, q, k, v, total);
        try (AttentionKernel kernel = provider.create(shape, spec)) {
            float[] out = new float[total * shape.queryWidth()];
            kernel.forward(kernel.newState(), q, k, v, out, total);
            assertClose(expected, out, shape, "hybrid one-call prefill");
            float[] chunked = runInChunks(kernel, kernel.newState(), shape, q, k, v, total, rnd);
            assertClose(expected, chunked, shape, "hybrid chunks + decode");
        }
    }

    /** dj_log_features alone against the map's own float64 evaluation, queries and keys, every normalization. */
    static void featureKernelMatchesTheMap(CudaKernelProvider provider) {
        Random rnd = new Random(21);
        for (String kind : new String[] {"wdcf", "performer", "dijiang-code", "asymmetric"}) {
            AttentionShape shape = new AttentionShape(6, 3, 24);
            FeatureMap map = map(kind, 24, 40, rnd.nextLong());
            AttentionSpec spec = AttentionSpec.linear(map, 24);
            int rows = 37;
            try (CudaAttentionKernel kernel = (CudaAttentionKernel) provider.create(shape, spec)) {
                for (boolean queries : new boolean[] {true, false}) {
                    int heads = queries ? shape.numHeads() : shape.numKvHeads(), d = shape.headDim(), m = 40;
                    float[] x = gaussian(rnd, rows * heads * d, 2.0);
                    float[] gpu = kernel.logFeaturesOnDevice(x, rows, queries);
                    double root = Math.sqrt(spec.scale());
                    double[] row = new double[d], expected = new double[m];
                    double worst = 0;
                    for (int h = 0; h < heads; h++) {
                        for (int r = 0; r < rows; r++) {
                            for (int i = 0; i < d; i++) row[i] = root * x[r * heads * d + h * d + i];
                            if (queries) map.logQueryFeatures(row, 0, expected, 0);
                            else map.logKeyFeatures(row, 0, expected, 0);
                            for (int l = 0; l < m; l++) {
                                float g = gpu[(h * rows + r) * m + l];
                                assertTrue(Float.isFinite(g), kind + ": non-finite log feature");
                                // log-domain error = relative error of the feature itself
                                worst = Math.max(
                                        worst, Math.abs(g - expected[l]) / Math.max(1.0, Math.abs(expected[l])));
                            }
                        }
                    }
                    assertTrue(
                            worst <= TOLERANCE,
                            kind + (queries ? " queries" : " keys") + ": log-feature error " + worst);
                }
            }
        }
    }

    static float[] gaussian(Random rnd, int n, double sigma) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (sigma * rnd.nextGaussian());
        return a;
    }

    /** Row-wise relative error: max |gpu - ref| over a head's row <= 1e-4 * max |ref| of that row. */
    static void assertClose(double[] expected, float[] actual, AttentionShape shape, String what) {
        int d = shape.headDim(), rows = expected.length / d;
        double worst = 0;
        for (int r = 0; r < rows; r++) {
            double scale = 0, err = 0;
            for (int i = 0; i < d; i++) {
                float g = actual[r * d + i];
                assertTrue(Float.isFinite(g), () -> what + ": non-finite output");
                scale = Math.max(scale, Math.abs(expected[r * d + i]));
                err = Math.max(err, Math.abs(g - expected[r * d + i]));
            }
            worst = Math.max(worst, err / Math.max(scale, 1e-30));
        }
        assertTrue(worst <= TOLERANCE, what + ": relative error " + worst + " > " + TOLERANCE);
    }
}
