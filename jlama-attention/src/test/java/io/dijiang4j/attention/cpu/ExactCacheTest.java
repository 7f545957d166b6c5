package io.dijiang4j.attention.cpu;

import static io.dijiang4j.attention.cpu.KernelEquivalenceTest.gains;
import static io.dijiang4j.attention.cpu.KernelEquivalenceTest.random;
import static io.dijiang4j.attention.cpu.KernelEquivalenceTest.relativeError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.CentroidFeatureMap;
import io.dijiang4j.attention.features.FeatureMaps;
import io.dijiang4j.attention.ops.hybrid.NaiveHybridAttention;
import io.dijiang4j.attention.ops.linear.NaiveLinearAttention;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The hybrid layer's bounded exact cache and per-KV-head feature maps: the CPU kernel against the float64 naive
 * twin on fresh random inputs (odd lengths, GQA 4/2 and 3/1, head sizes 8 and 16, cache sizes 1, 3, 8, both
 * policies, sinks 0 and 4, windows 1, 5, 16, shared and per-KV-head maps), prefilled in one call, token by token
 * and in mixed splits through snapshots; the cache never holds more than C tokens.
 */
class ExactCacheTest {
    static final double TOLERANCE = 1e-5;
    private final CpuKernelProvider provider = new CpuKernelProvider();

    record Case(
            int heads,
            int kvHeads,
            int d,
            int m,
            int length,
            int sinks,
            int window,
            int cache,
            ExactCachePolicy policy,
            String map,
            boolean perKvHeadMaps) {
        @Override
        public String toString() {
            return "H" + heads + "/" + kvHeads + " d" + d + " m" + m + " N" + length + " sinks" + sinks + " window"
                    + window + " C" + cache + " " + policy + " " + map + (perKvHeadMaps ? " per-KV-head maps" : "");
        }
    }

    static Stream<Arguments> cases() {
        int[][] heads = {{4, 2}, {3, 1}};
        int[] dims = {8, 16}, lengths = {37, 131, 257}, caches = {1, 3, 8}, sinks = {0, 4}, windows = {1, 5, 16};
        String[] maps = {"performer", "wdcf", "pff", "dijiang-code", "performer-orthogonal"};
        ExactCachePolicy[] policies = ExactCachePolicy.values();
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < 24; i++) { // co-prime strides through the lists, so every pair of options meets
            int[] hk = heads[i % 2];
            int d = dims[(i / 2) % 2];
            cases.add(new Case(
                    hk[0],
                    hk[1],
                    d,
                    d == 8 ? 12 : 16,
                    lengths[i % 3],
                    sinks[(i / 4) % 2],
                    windows[(i / 3) % 3],
                    caches[(i / 2) % 3],
                    policies[(i / 6) % 2 == 0 ? i % 2 : 1 - i % 2],
                    maps[i % 5],
                    (i / 3) % 2 == 1));
        }
        return cases.stream().map(Arguments::of);
    }

    static AttentionSpec spec(Case c, long seed) {
        FeatureMap shared = FeatureMaps.create(c.map(), c.d(), c.m(), seed);
        AttentionSpec spec = AttentionSpec.hybrid(shared, c.d(), c.sinks(), c.window())
                .withMemoryGain(gains(c.heads(), seed))
                .withBlockSize(16)
                .withExactCache(c.cache(), c.policy());
        return c.perKvHeadMaps() ? spec.withKvHeadMaps(kvHeadMaps(c.map(), c.d(), c.m(), c.kvHeads(), seed)) : spec;
    }

    static FeatureMap[] kvHeadMaps(String kind, int d, int m, int kvHeads, long seed) {
        FeatureMap[] maps = new FeatureMap[kvHeads];
        for (int h = 0; h < kvHeads; h++) maps[h] = FeatureMaps.create(kind, d, m, seed + 1000 * (h + 1));
        return maps;
    }

    /** How many tokens the cache of every KV head holds after query n: the candidates so far, at most C. */
    static int expectedOccupancy(Case c, long n) {
        return (int) Math.min(c.cache(), Math.max(0, n - c.window() - c.sinks() + 1));
    }

    static double[] toDouble(float[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[i];
        return r;
    }

    static float[] toFloat(double[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) r[i] = (float) a[i];
        return r;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void prefillDecodeAndMixedEqualNaive(Case c) {
        long seed = c.toString().hashCode();
        SplittableRandom random = new SplittableRandom(seed);
        AttentionShape shape = new AttentionShape(c.heads(), c.kvHeads(), c.d());
        AttentionSpec spec = spec(c, seed);
        int n = c.length(), qw = shape.queryWidth(), kw = shape.kvWidth();
        float[] q = random(random, n * qw, 1.5), k = random(random, n * kw, 1.5), v = random(random, n * kw, 1);
        double[] ref = NaiveHybridAttention.forward(shape, spec, q, k, v, n);
        // the cache really changes the result (else this test could not see a wrong cache)
        double[] noCache = NaiveHybridAttention.forward(shape, spec.withExactCache(0, c.policy()), q, k, v, n);
        assertTrue(relativeError(toFloat(noCache), ref, n * qw) > 1e-3, "the cache must change the output");
        AttentionKernel kernel = provider.create(shape, spec);

        float[] prefill = new float[n * qw];
        CpuState state = (CpuState) kernel.newState();
        kernel.forward(state, q, k, v, prefill, n);
        assertEquals(n, state.position());
        double errPrefill = relativeError(prefill, ref, n * qw);

        float[] decode = new float[n * qw];
        state = (CpuState) kernel.newState();
        long size = state.sizeBytes();
        for (int t = 0; t < n; t++) {
            forward(kernel, state, q, k, v, decode, t, 1, shape);
            for (int h = 0; h < c.kvHeads(); h++) {
                assertEquals(expectedOccupancy(c, t), state.cacheCount(h), "occupancy after query " + t);
                assertTrue(state.cacheCount(h) <= c.cache());
            }
        }
        assertEquals(size, state.sizeBytes(), "state size must not grow with the position");
        double errDecode = relativeError(decode, ref, n * qw);
        assertArrayEquals(prefill, decode, "prefill runs the same recurrent steps as decode");

        // mixed splits, through a serialized-and-restored state and a copy
        SplittableRandom splits = new SplittableRandom(seed + 1);
        float[] mixed = new float[n * qw];
        CpuState s = (CpuState) kernel.newState();
        int t = 0, call = 0;
        while (t < n) {
            int len = Math.min(n - t, 1 + splits.nextInt(c.window() + c.cache() + 9));
            forward(kernel, s, q, k, v, mixed, t, len, shape);
            t += len;
            for (int h = 0; h < c.kvHeads(); h++) assertEquals(expectedOccupancy(c, t - 1), s.cacheCount(h));
            s = (CpuState) (call++ % 2 == 0 ? kernel.restore(s.toBytes()) : s.copy());
        }
        double errMixed = relativeError(mixed, ref, n * qw);
        System.out.printf("%s: prefill %.2e decode %.2e mixed %.2e%n", c, errPrefill, errDecode, errMixed);
        assertTrue(errPrefill < TOLERANCE, "prefill vs naive: " + errPrefill);
        assertTrue(errMixed < TOLERANCE, "mixed splits vs naive: " + errMixed);
    }

    /** Runs positions [from, from + len) of q, k, v through {@code state} in one call, into {@code out}. */
    static void forward(
            AttentionKernel kernel,
            CpuState state,
            float[] q,
            float[] k,
            float[] v,
            float[] out,
            int from,
            int len,
            AttentionShape shape) {
        int qw = shape.queryWidth(), kw = shape.kvWidth();
        float[] o = new float[len * qw];
        kernel.forward(
                state,
                Arrays.copyOfRange(q, from * qw, (from + len) * qw),
                Arrays.copyOfRange(k, from * kw, (from + len) * kw),
                Arrays.copyOfRange(v, from * kw, (from + len) * kw),
                o,
                len);
        System.arraycopy(o, 0, out, from * qw, len * qw);
    }

    @Test
    void fittedCentroidMapsPerKvHeadAgreeWithNaive() {
        // the map the cache is meant to work with: one-hot keys (a per-cluster memory), a different fit per KV head
        AttentionShape shape = new AttentionShape(4, 2, 8);
        int n = 97, qw = shape.queryWidth(), kw = shape.kvWidth();
        SplittableRandom random = new SplittableRandom(17);
        FeatureMap[] maps = new FeatureMap[2];
        for (int h = 0; h < 2; h++) {
            maps[h] = new CentroidFeatureMap(8, random(random, 6 * 8, 0.6), random(random, 6, 0.5));
        }
        float[] q = random(random, n * qw, 1.5), k = random(random, n * kw, 1.5), v = random(random, n * kw, 1);
        for (ExactCachePolicy policy : ExactCachePolicy.values()) {
            AttentionSpec spec =
                    AttentionSpec.hybrid(maps[0], 8, 2, 6).withKvHeadMaps(maps).withExactCache(4, policy);
            double[] ref = NaiveHybridAttention.forward(shape, spec, q, k, v, n);
            double[] noCache = NaiveHybridAttention.forward(shape, spec.withExactCache(0, policy), q, k, v, n);
            assertTrue(relativeError(toFloat(noCache), ref, n * qw) > 1e-3, "the cache must change the output");
            AttentionKernel kernel = provider.create(shape, spec);
            float[] out = new float[n * qw];
            kernel.forward(kernel.newState(), q, k, v, out, n);
            double err = relativeError(out, ref, n * qw);
            assertTrue(err < TOLERANCE, policy + " vs naive: " + err);
            // and without the cache, the chunked path with these maps
            AttentionKernel plain = provider.create(shape, spec.withExactCache(0, policy));
            plain.forward(plain.newState(), q, k, v, out, n);
            double errPlain = relativeError(out, noCache, n * qw);
            assertTrue(errPlain < TOLERANCE, "chunked, no cache, vs naive: " + errPlain);
        }
    }

    @Test
    void snapshotMidSequenceContinuesLikeTheUninterruptedRun() {
        for (ExactCachePolicy policy : ExactCachePolicy.values()) {
            Case c = new Case(4, 2, 8, 12, 120, 2, 5, 3, policy, "wdcf", true);
            AttentionShape shape = new AttentionShape(4, 2, 8);
            AttentionSpec spec = spec(c, 11);
            AttentionKernel kernel = provider.create(shape, spec);
            int qw = shape.queryWidth(), kw = shape.kvWidth(), n = c.length(), cut = 53;
            SplittableRandom random = new SplittableRandom(11);
            float[] q = random(random, n * qw, 1.5), k = random(random, n * kw, 1.5), v = random(random, n * kw, 1);
            float[] whole = new float[n * qw];
            CpuState a = (CpuState) kernel.newState();
            forward(kernel, a, q, k, v, whole, 0, n, shape);

            float[] head = new float[n * qw], viaBytes = new float[n * qw], viaCopy = new float[n * qw];
            CpuState b = (CpuState) kernel.newState();
            forward(kernel, b, q, k, v, head, 0, cut, shape);
            CpuState restored = (CpuState) kernel.restore(b.toBytes());
            CpuState copied = b.copy();
            assertArrayEquals(b.toBytes(), restored.toBytes());
            assertEquals(b.sizeBytes(), b.toBytes().length);
            forward(kernel, restored, q, k, v, viaBytes, cut, n - cut, shape);
            forward(kernel, copied, q, k, v, viaCopy, cut, n - cut, shape);
            forward(kernel, b, q, k, v, head, cut, n - cut, shape); // the original goes on too, unaffected
            System.arraycopy(head, 0, viaBytes, 0, cut * qw);
            System.arraycopy(head, 0, viaCopy, 0, cut * qw);
            assertArrayEquals(whole, head, policy.toString());
            assertArrayEquals(whole, viaBytes, policy.toString());
            assertArrayEquals(whole, viaCopy, policy.toString());
            assertArrayEquals(a.toBytes(), restored.toBytes(), policy.toString());
        }
    }

    @Test
    void withoutACacheNothingChangesBitForBit() {
        // C = 0 (either policy) and per-KV-head maps that are all the shared map run exactly the existing kernel
        AttentionShape shape = new AttentionShape(4, 2, 8);
        FeatureMap map = FeatureMaps.create("pff", 8, 16, 5);
        AttentionSpec plain = AttentionSpec.hybrid(map, 8, 3, 9).withBlockSize(16);
        int n = 101, qw = shape.queryWidth(), kw = shape.kvWidth();
        SplittableRandom random = new SplittableRandom(5);
        float[] q = random(random, n * qw, 1), k = random(random, n * kw, 1), v = random(random, n * kw, 1);
        float[] expected = run(provider.create(shape, plain), q, k, v, n, shape);
        for (AttentionSpec same : new AttentionSpec[] {
            plain.withExactCache(0, ExactCachePolicy.SELF_RECALL),
            plain.withExactCache(0, ExactCachePolicy.HEAVY_HITTER),
            plain.withKvHeadMaps(new FeatureMap[] {map, map})
        }) {
            assertArrayEquals(expected, run(provider.create(shape, same), q, k, v, n, shape), same.toString());
        }
        // and a state without a cache keeps its meaning: it restores under a C = 0 spec of the other policy
        AttentionKernel kernel = provider.create(shape, plain);
        CpuState state = (CpuState) kernel.newState();
        kernel.forward(state, q, k, v, new float[n * qw], n);
        AttentionKernel other = provider.create(shape, plain.withExactCache(0, ExactCachePolicy.SELF_RECALL));
        assertArrayEquals(state.toBytes(), other.restore(state.toBytes()).toBytes());
    }

    /** Prefill of the first half, then decode of the rest. */
    private static float[] run(AttentionKernel kernel, float[] q, float[] k, float[] v, int n, AttentionShape shape) {
        float[] out = new float[n * shape.queryWidth()];
        CpuState s = (CpuState) kernel.newState();
        forward(kernel, s, q, k, v, out, 0, n / 2, shape);
        for (int t = n / 2; t < n; t++) forward(kernel, s, q, k, v, out, t, 1, shape);
        return out;
    }

    @Test
    void perKvHeadMapsReachEveryFormOfBothMethods() {
        int[][] shapes = {{4, 2, 8, 65}, {3, 1, 16, 130}, {6, 3, 8, 37}};
        for (int[] cfg : shapes) {
            AttentionShape shape = new AttentionShape(cfg[0], cfg[1], cfg[2]);
            int d = cfg[2], n = cfg[3], qw = shape.queryWidth(), kw = shape.kvWidth();
            FeatureMap[] maps = kvHeadMaps("performer", d, 16, cfg[1], n);
            SplittableRandom random = new SplittableRandom(n);
            float[] q = random(random, n * qw, 1), k = random(random, n * kw, 1), v = random(random, n * kw, 1);
            for (AttentionSpec base : new AttentionSpec[] {
                AttentionSpec.linear(FeatureMaps.create("performer", d, 16, n), d)
                        .withBlockSize(16),
                AttentionSpec.hybrid(FeatureMaps.create("performer", d, 16, n), d, 2, 7)
                        .withBlockSize(16)
                        .withDecay(decay(cfg[0]))
            }) {
                AttentionSpec spec = base.withKvHeadMaps(maps);
                boolean linear = spec.method() == AttentionSpec.Method.LINEAR;
                double[] ref = linear
                        ? NaiveLinearAttention.forward(shape, spec, q, k, v, n)
                        : NaiveHybridAttention.forward(shape, spec, q, k, v, n);
                double[] sharedRef = linear
                        ? NaiveLinearAttention.forward(shape, base, q, k, v, n)
                        : NaiveHybridAttention.forward(shape, base, q, k, v, n);
                String what = spec.method() + " " + shape;
                assertTrue(relativeError(toFloat(sharedRef), ref, n * qw) > 1e-3, "the maps must matter: " + what);
                AttentionKernel kernel = provider.create(shape, spec);
                float[] chunked = new float[n * qw];
                kernel.forward(kernel.newState(), q, k, v, chunked, n);
                float[] mixed = run(kernel, q, k, v, n, shape);
                double errChunked = relativeError(chunked, ref, n * qw), errMixed = relativeError(mixed, ref, n * qw);
                assertTrue(errChunked < TOLERANCE, what + " chunked vs naive: " + errChunked);
                assertTrue(errMixed < TOLERANCE, what + " prefill + decode vs naive: " + errMixed);
            }
        }
    }

    private static double[] decay(int heads) {
        double[] decay = new double[heads];
        for (int h = 0; h < heads; h++) decay[h] = 1 - Math.pow(2, -3 - h); // per query head: a memory per head
        return decay;
    }

    @Test
    void badSpecsAreRejectedClearly() {
        AttentionShape shape = new AttentionShape(4, 2, 8);
        FeatureMap map = FeatureMaps.create("wdcf", 8, 8, 1);
        AttentionSpec cached = AttentionSpec.hybrid(map, 8, 1, 4).withExactCache(2, ExactCachePolicy.HEAVY_HITTER);
        var e1 = assertThrows(
                IllegalArgumentException.class,
                () -> provider.create(shape, cached.withDecay(new double[] {0.9, 0.9, 0.9, 0.9})));
        assertTrue(e1.getMessage().contains("exact cache needs decay == null"), e1.getMessage());
        var e2 = assertThrows(
                IllegalArgumentException.class,
                () -> provider.create(shape, cached.withKvHeadMaps(new FeatureMap[] {map, map, map})));
        assertTrue(
                e2.getMessage().contains("3 per-KV-head feature maps but the layer has 2 KV heads"), e2.getMessage());
        // a state of another cache size or policy is refused
        AttentionKernel kernel = provider.create(shape, cached);
        byte[] bytes = kernel.newState().toBytes();
        for (AttentionSpec other : new AttentionSpec[] {
            cached.withExactCache(3, ExactCachePolicy.HEAVY_HITTER),
            cached.withExactCache(2, ExactCachePolicy.SELF_RECALL),
            cached.withExactCache(0, ExactCachePolicy.HEAVY_HITTER)
        }) {
            var e = assertThrows(
                    IllegalArgumentException.class,
                    () -> provider.create(shape, other).restore(bytes));
            assertNotEquals(null, e.getMessage());
        }
    }

    @Test
    void outputsAndPrioritiesStayFiniteOnLargeLogits() {
        // logits in the hundreds: the cache, the memory and the priorities must not overflow
        for (ExactCachePolicy policy : ExactCachePolicy.values()) {
            AttentionShape shape = new AttentionShape(4, 2, 16);
            AttentionSpec spec = AttentionSpec.hybrid(FeatureMaps.create("performer", 16, 16, 2), 16, 1, 4)
                    .withExactCache(3, policy);
            int n = 60, qw = shape.queryWidth(), kw = shape.kvWidth();
            SplittableRandom random = new SplittableRandom(3);
            float[] q = random(random, n * qw, 12), k = random(random, n * kw, 12), v = random(random, n * kw, 30);
            AttentionKernel kernel = provider.create(shape, spec);
            CpuState s = (CpuState) kernel.newState();
            float[] out = new float[n * qw];
            kernel.forward(s, q, k, v, out, n);
            for (float x : out) assertTrue(Float.isFinite(x));
            for (var cache : s.caches) for (double p : cache.priorities()) assertTrue(Double.isFinite(p));
            double err = relativeError(out, NaiveHybridAttention.forward(shape, spec, q, k, v, n), n * qw);
            assertTrue(err < TOLERANCE, policy + " vs naive: " + err);
        }
    }
}
