package io.dijiang4j.attention.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.features.FeatureMaps;
import io.dijiang4j.attention.ops.hybrid.NaiveHybridAttention;
import io.dijiang4j.attention.ops.linear.NaiveLinearAttention;
import io.dijiang4j.attention.ops.softmax.NaiveSoftmaxAttention;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The chunked and recurrent CPU forms against the float64 naive references, on fresh random inputs: head sizes 8
 * and 64 (and odd 5), lengths 1, 7, 63, 64, 65 and 1000, GQA 1:1, 2:1, 4:1, with and without decay. Error measure:
 * max |fast - naive| / max |naive| over the whole output.
 */
class KernelEquivalenceTest {
    static final double TOLERANCE = 1e-5;
    private final CpuKernelProvider provider = new CpuKernelProvider();

    record Case(
            String method,
            int heads,
            int kvHeads,
            int d,
            int m,
            int length,
            int block,
            boolean decay,
            String map,
            int sinks,
            int window) {
        Case(String method, int heads, int kvHeads, int d, int m, int length, int block, boolean decay, String map) {
            this(method, heads, kvHeads, d, m, length, block, decay, map, 2, 5);
        }

        @Override
        public String toString() {
            return method + " H" + heads + "/" + kvHeads + " d" + d + " m" + m + " N" + length + " B" + block
                    + (decay ? " decay" : "") + " " + map
                    + (method.equals("hybrid") ? " sinks" + sinks + " window" + window : "");
        }
    }

    static Stream<Arguments> cases() {
        List<Case> cases = new ArrayList<>();
        String[] maps = {"performer", "wdcf", "pff", "dijiang-code", "performer-orthogonal"};
        int[] lengths = {1, 7, 63, 64, 65};
        int[][] heads = {{2, 2}, {4, 2}, {4, 1}};
        int i = 0;
        for (String method : new String[] {"linear", "hybrid"}) {
            for (int d : new int[] {8, 64}) {
                for (int length : lengths) {
                    for (boolean decay : new boolean[] {false, true}) {
                        int[] hk = heads[i % heads.length];
                        int m = d == 8 ? 16 : 64;
                        cases.add(new Case(method, hk[0], hk[1], d, m, length, 16, decay, maps[i % maps.length]));
                        i++;
                    }
                }
            }
            cases.add(new Case(method, 4, 2, 5, 7, 40, 8, true, "performer")); // odd sizes, tails everywhere
            cases.add(new Case(method, 2, 1, 1, 3, 23, 4, true, "pff")); // head size 1
            cases.add(new Case(method, 3, 3, 3, 10, 17, 5, false, "dijiang-code"));
            cases.add(new Case(method, 4, 1, 8, 8, 1000, 64, true, "pff"));
            cases.add(new Case(method, 2, 2, 64, 32, 1000, 64, false, "wdcf"));
        }
        // hybrid windows across block boundaries, no sinks, no window (sinks only), long windows
        cases.add(new Case("hybrid", 4, 2, 8, 16, 200, 16, true, "performer", 4, 37));
        cases.add(new Case("hybrid", 2, 1, 8, 16, 130, 32, false, "pff", 0, 16));
        cases.add(new Case("hybrid", 2, 2, 8, 16, 65, 16, true, "wdcf", 3, 0));
        cases.add(new Case("hybrid", 4, 4, 64, 64, 300, 64, true, "dijiang-code", 1, 100));
        return cases.stream().map(Arguments::of);
    }

    static float[] random(SplittableRandom random, int n, double sigma) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (sigma * gaussian(random));
        return a;
    }

    static double gaussian(SplittableRandom random) {
        double u = random.nextDouble(), w = random.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * w);
    }

    static AttentionSpec spec(Case c, long seed) {
        var map = FeatureMaps.create(c.map(), c.d(), c.m(), seed);
        AttentionSpec spec = c.method().equals("linear")
                ? AttentionSpec.linear(map, c.d())
                : AttentionSpec.hybrid(map, c.d(), c.sinks(), c.window()).withMemoryGain(gains(c.heads(), seed));
        spec = spec.withBlockSize(c.block());
        if (c.decay()) {
            double[] decay = new double[c.heads()];
            // odd lengths: one decay per KV group (one memory per KV head); even: per query head
            int group = c.heads() / c.kvHeads();
            for (int h = 0; h < decay.length; h++)
                decay[h] = 1 - Math.pow(2, -3 - (c.length() % 2 == 1 ? h / group : h));
            spec = spec.withDecay(decay);
        }
        return spec;
    }

    static double[] gains(int heads, long seed) {
        double[] g = new double[heads];
        SplittableRandom r = new SplittableRandom(seed);
        for (int h = 0; h < heads; h++) g[h] = 0.5 + r.nextDouble();
        return g;
    }

    static double[] naive(AttentionShape shape, AttentionSpec spec, float[] q, float[] k, float[] v, int n) {
        return spec.method() == AttentionSpec.Method.LINEAR
                ? NaiveLinearAttention.forward(shape, spec, q, k, v, n)
                : NaiveHybridAttention.forward(shape, spec, q, k, v, n);
    }

    static double relativeError(float[] fast, double[] ref, int n) {
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < n; i++) {
            assertTrue(Float.isFinite(fast[i]), "non-finite output at " + i);
            maxDiff = Math.max(maxDiff, Math.abs(fast[i] - ref[i]));
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
        }
        return maxDiff / maxRef;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void chunkedRecurrentAndMixedEqualNaive(Case c) {
        long seed = c.hashCode();
        SplittableRandom random = new SplittableRandom(seed);
        AttentionShape shape = new AttentionShape(c.heads(), c.kvHeads(), c.d());
        AttentionSpec spec = spec(c, seed);
        int n = c.length(), qw = shape.queryWidth(), kw = shape.kvWidth();
        float[] q = random(random, n * qw, 1), k = random(random, n * kw, 1), v = random(random, n * kw, 1);
        double[] ref = naive(shape, spec, q, k, v, n);
        if (spec.method() == AttentionSpec.Method.HYBRID && n > c.sinks() + c.window() + 8) {
            // the reference really uses the memory: switching it off changes the output
            double[] windowOnly = naive(shape, spec.withMemoryGain(new double[c.heads()]), q, k, v, n);
            float[] asFloat = new float[windowOnly.length];
            for (int i = 0; i < asFloat.length; i++) asFloat[i] = (float) windowOnly[i];
            assertTrue(relativeError(asFloat, ref, n * qw) > 1e-3, "memory must contribute");
        }
        AttentionKernel kernel = provider.create(shape, spec);

        float[] chunked = new float[n * qw];
        AttentionState state = kernel.newState();
        kernel.forward(state, q, k, v, chunked, n);
        assertEquals(n, state.position());
        double errChunked = relativeError(chunked, ref, n * qw);
        assertTrue(errChunked < TOLERANCE, "chunked vs naive: " + errChunked);

        float[] recurrent = new float[n * qw];
        state = kernel.newState();
        long size = state.sizeBytes();
        float[] qt = new float[qw], kt = new float[kw], vt = new float[kw], ot = new float[qw];
        for (int t = 0; t < n; t++) {
            System.arraycopy(q, t * qw, qt, 0, qw);
            System.arraycopy(k, t * kw, kt, 0, kw);
            System.arraycopy(v, t * kw, vt, 0, kw);
            kernel.forward(state, qt, kt, vt, ot, 1);
            System.arraycopy(ot, 0, recurrent, t * qw, qw);
        }
        assertEquals(size, state.sizeBytes(), "state size must not grow with the position");
        double errRecurrent = relativeError(recurrent, ref, n * qw);
        assertTrue(errRecurrent < TOLERANCE, "recurrent vs naive: " + errRecurrent);

        // chunked prefill of the first part, then a serialized-and-restored state decodes the rest
        int prefill = n / 2 + 1 <= n ? Math.max(n / 2, 1) : n;
        float[] mixed = new float[n * qw];
        state = kernel.newState();
        kernel.forward(state, q, k, v, mixed, prefill);
        AttentionState restored = kernel.restore(state.toBytes());
        assertEquals(prefill, restored.position());
        assertArrayEquals(state.toBytes(), restored.toBytes());
        for (int t = prefill; t < n; t++) {
            System.arraycopy(q, t * qw, qt, 0, qw);
            System.arraycopy(k, t * kw, kt, 0, kw);
            System.arraycopy(v, t * kw, vt, 0, kw);
            kernel.forward(restored, qt, kt, vt, ot, 1);
            System.arraycopy(ot, 0, mixed, t * qw, qw);
        }
        double errMixed = relativeError(mixed, ref, n * qw);
        System.out.printf("%s: chunked %.2e recurrent %.2e mixed %.2e%n", c, errChunked, errRecurrent, errMixed);
        assertTrue(errMixed < TOLERANCE, "prefill + decode vs naive: " + errMixed);
    }

    @Test
    void restoredStateContinuesIdentically() {
        for (String method : new String[] {"linear", "hybrid"}) {
            Case c = new Case(method, 4, 2, 8, 12, 90, 16, true, "wdcf");
            SplittableRandom random = new SplittableRandom(7);
            AttentionShape shape = new AttentionShape(4, 2, 8);
            AttentionSpec spec = spec(c, 7);
            AttentionKernel kernel = provider.create(shape, spec);
            int qw = shape.queryWidth(), kw = shape.kvWidth();
            float[] q = random(random, 90 * qw, 1), k = random(random, 90 * kw, 1), v = random(random, 90 * kw, 1);
            AttentionState a = kernel.newState();
            float[] out = new float[90 * qw];
            kernel.forward(a, q, k, v, out, 37);
            AttentionState b = kernel.restore(a.toBytes());
            AttentionState snapshot = a.copy();
            float[] tailQ = java.util.Arrays.copyOfRange(q, 37 * qw, 90 * qw);
            float[] tailK = java.util.Arrays.copyOfRange(k, 37 * kw, 90 * kw);
            float[] tailV = java.util.Arrays.copyOfRange(v, 37 * kw, 90 * kw);
            float[] outA = new float[53 * qw], outB = new float[53 * qw], outC = new float[53 * qw];
            kernel.forward(a, tailQ, tailK, tailV, outA, 53);
            kernel.forward(b, tailQ, tailK, tailV, outB, 53);
            kernel.forward(snapshot, tailQ, tailK, tailV, outC, 53);
            assertArrayEquals(outA, outB, method);
            assertArrayEquals(outA, outC, method);
            assertArrayEquals(a.toBytes(), b.toBytes(), method);
        }
    }

    @Test
    void restoreRejectsStateOfAnotherShapeOrSpec() {
        var map = FeatureMaps.create("performer", 8, 8, 1);
        AttentionKernel a = provider.create(new AttentionShape(2, 1, 8), AttentionSpec.linear(map, 8));
        AttentionKernel otherShape = provider.create(new AttentionShape(2, 2, 8), AttentionSpec.linear(map, 8));
        AttentionKernel otherSpec = provider.create(
                new AttentionShape(2, 1, 8), AttentionSpec.linear(map, 8).withScale(0.5));
        AttentionKernel hybrid = provider.create(new AttentionShape(2, 1, 8), AttentionSpec.hybrid(map, 8, 1, 4));
        byte[] bytes = a.newState().toBytes();
        var e1 = assertThrows(IllegalArgumentException.class, () -> otherShape.restore(bytes));
        assertTrue(e1.getMessage().contains("AttentionShape"), e1.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> otherSpec.restore(bytes));
        assertTrue(e2.getMessage().contains("different attention spec"), e2.getMessage());
        var e3 = assertThrows(IllegalArgumentException.class, () -> hybrid.restore(bytes));
        assertTrue(e3.getMessage().contains("LINEAR"), e3.getMessage());
        var e4 = assertThrows(IllegalArgumentException.class, () -> a.restore(new byte[] {1, 2, 3}));
        assertTrue(e4.getMessage().contains("not a serialized"), e4.getMessage());
        byte[] truncated = java.util.Arrays.copyOf(bytes, bytes.length - 4);
        assertThrows(IllegalArgumentException.class, () -> a.restore(truncated));
    }

    @Test
    void hybridWithFullWindowEqualsSoftmax() {
        for (int[] cfg : new int[][] {{2, 2, 8, 65, 0}, {4, 1, 64, 63, 3}, {4, 2, 8, 200, 1}}) {
            AttentionShape shape = new AttentionShape(cfg[0], cfg[1], cfg[2]);
            int n = cfg[3];
            var map = FeatureMaps.create("pff", cfg[2], 16, 3);
            AttentionSpec spec = AttentionSpec.hybrid(map, cfg[2], cfg[4], n).withBlockSize(16);
            SplittableRandom random = new SplittableRandom(n);
            float[] q = random(random, n * shape.queryWidth(), 1.5);
            float[] k = random(random, n * shape.kvWidth(), 1.5);
            float[] v = random(random, n * shape.kvWidth(), 1);
            double[] ref = NaiveSoftmaxAttention.forward(shape, spec.scale(), true, q, k, v, n);
            AttentionKernel kernel = provider.create(shape, spec);
            float[] out = new float[n * shape.queryWidth()];
            kernel.forward(kernel.newState(), q, k, v, out, n);
            double err = relativeError(out, ref, out.length);
            assertTrue(err < TOLERANCE, "hybrid (window >= length) vs softmax: " + err);
            double[] naive = NaiveHybridAttention.forward(shape, spec, q, k, v, n);
            for (int i = 0; i < ref.length; i++) assertEquals(ref[i], naive[i], 1e-12);
        }
    }

    @Test
    void nonCausalChunkedEqualsNaive() {
        for (int[] cfg : new int[][] {{2, 2, 8, 65, 16}, {4, 1, 64, 130, 64}, {4, 2, 5, 7, 4}}) {
            AttentionShape shape = new AttentionShape(cfg[0], cfg[1], cfg[2]);
            int n = cfg[3];
            var map = FeatureMaps.create("performer", cfg[2], 24, 5);
            AttentionSpec spec = new AttentionSpec(
                    AttentionSpec.Method.LINEAR, map, null, 0, 0, cfg[4], 1 / Math.sqrt(cfg[2]), null, false);
            SplittableRandom random = new SplittableRandom(n);
            float[] q = random(random, n * shape.queryWidth(), 1);
            float[] k = random(random, n * shape.kvWidth(), 1);
            float[] v = random(random, n * shape.kvWidth(), 1);
            double[] ref = NaiveLinearAttention.forward(shape, spec, q, k, v, n);
            AttentionKernel kernel = provider.create(shape, spec);
            float[] out = new float[n * shape.queryWidth()];
            kernel.forward(kernel.newState(), q, k, v, out, n);
            double err = relativeError(out, ref, out.length);
            assertTrue(err < TOLERANCE, "non-causal chunked vs naive: " + err);
        }
    }
}
