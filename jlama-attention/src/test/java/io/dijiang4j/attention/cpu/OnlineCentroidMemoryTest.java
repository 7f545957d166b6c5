package io.dijiang4j.attention.cpu;

import static io.dijiang4j.attention.cpu.ExactCacheTest.forward;
import static io.dijiang4j.attention.cpu.ExactCacheTest.toFloat;
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
import io.dijiang4j.attention.features.OnlineCentroidMap;
import io.dijiang4j.attention.ops.hybrid.NaiveHybridAttention;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The online centroid memory of the hybrid layer (docs/MATH.md §4): the CPU kernel against the float64 naive twin
 * (clusters as sets of positions) on fresh random inputs: odd lengths, GQA 4/2, 3/1 and 6/2, head sizes 8, 12 and 20
 * (not multiples of the SIMD width), cluster counts 1, 3, 7 and 16, sinks 0 and 4, windows 1, 5 and 16, with and
 * without an exact cache (both policies); prefilled in one call (blocks of 16 rows without a cache), token by token,
 * and in mixed splits through restored and copied states: the same state bytes, outputs equal to float rounding
 * (bit for bit with a cache). Then: constant state bytes at 256 and 8192 positions, continuation after a snapshot
 * inside a block (bit for bit against the same split unrestored), determinism, and a spec fingerprint that tells
 * cluster counts apart.
 */
class OnlineCentroidMemoryTest {
    static final double TOLERANCE = 1e-5;
    /** Blocks against token by token: the same terms, summed in another order in float. */
    static final double ROUNDING = 1e-6;

    private final CpuKernelProvider provider = new CpuKernelProvider();

    record Case(
            int heads,
            int kvHeads,
            int d,
            int clusters,
            int length,
            int sinks,
            int window,
            int cache,
            ExactCachePolicy policy) {
        @Override
        public String toString() {
            return "H" + heads + "/" + kvHeads + " d" + d + " L" + clusters + " N" + length + " sinks" + sinks
                    + " window" + window + " C" + cache + (cache > 0 ? " " + policy : "");
        }
    }

    static Stream<Arguments> cases() {
        int[][] heads = {{4, 2}, {3, 1}, {6, 2}};
        int[] dims = {8, 12, 20}, clusters = {1, 3, 7, 16}, lengths = {37, 131, 201};
        int[] sinks = {0, 4}, windows = {1, 5, 16}, caches = {0, 0, 3};
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < 18; i++) { // co-prime strides through the lists, so pairs of options meet
            int[] hk = heads[i % 3];
            cases.add(new Case(
                    hk[0],
                    hk[1],
                    dims[(i / 3) % 3],
                    clusters[i % 4],
                    lengths[(i / 2) % 3],
                    sinks[(i / 4) % 2],
                    windows[(i / 6) % 3],
                    caches[(i + 1) % 3],
                    ExactCachePolicy.values()[(i / 3) % 2]));
        }
        // the synthetic small shape's layer: 8 / 4 heads of 64, 4 + 124 exact tokens (or 4 + 100 and a cache of 24),
        // 64 clusters
        cases.add(new Case(8, 4, 64, 64, 300, 4, 124, 0, ExactCachePolicy.HEAVY_HITTER));
        cases.add(new Case(8, 4, 64, 64, 260, 4, 100, 24, ExactCachePolicy.HEAVY_HITTER));
        return cases.stream().map(Arguments::of);
    }

    static AttentionSpec spec(Case c, long seed) {
        AttentionSpec spec = AttentionSpec.hybrid(
                        new OnlineCentroidMap(c.d(), c.clusters()), c.d(), c.sinks(), c.window())
                .withMemoryGain(gains(c.heads(), seed))
                .withBlockSize(16);
        return c.cache() > 0 ? spec.withExactCache(c.cache(), c.policy()) : spec;
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
        // the memory really changes the result (else this test could not see a wrong memory)
        double[] memoryOff =
                NaiveHybridAttention.forward(shape, spec.withMemoryGain(new double[c.heads()]), q, k, v, n);
        assertTrue(relativeError(toFloat(memoryOff), ref, n * qw) > 1e-3, "the memory must change the output");
        AttentionKernel kernel = provider.create(shape, spec);

        float[] prefill = new float[n * qw];
        CpuState state = (CpuState) kernel.newState();
        kernel.forward(state, q, k, v, prefill, n);
        double errPrefill = relativeError(prefill, ref, n * qw);

        float[] decode = new float[n * qw];
        state = (CpuState) kernel.newState();
        long size = state.sizeBytes();
        for (int t = 0; t < n; t++) forward(kernel, state, q, k, v, decode, t, 1, shape);
        assertEquals(size, state.sizeBytes(), "state size must not grow with the position");
        assertEquals(size, state.toBytes().length);
        if (c.cache() > 0) {
            assertArrayEquals(prefill, decode, "with a cache, prefill runs the same recurrent steps as decode");
        } else { // blocks: the memory folds in the same order, the exact part is one product per block
            assertTrue(relativeError(prefill, toDouble(decode), n * qw) < ROUNDING, "blocks vs token by token");
            CpuState whole = (CpuState) kernel.newState();
            kernel.forward(whole, q, k, v, new float[n * qw], n);
            assertArrayEquals(state.toBytes(), whole.toBytes(), "blocks leave the memory as token by token does");
        }
        for (int h = 0; h < c.kvHeads(); h++) {
            long evicted = Math.max(0, n - c.window() - c.sinks()) - state.cacheCount(h);
            assertEquals(Math.min(c.clusters(), evicted), state.onlineMemories[h].count(), "clusters in use");
        }

        SplittableRandom splits = new SplittableRandom(seed + 1);
        float[] mixed = new float[n * qw];
        CpuState s = (CpuState) kernel.newState();
        int t = 0, call = 0;
        while (t < n) {
            int len = Math.min(n - t, 1 + splits.nextInt(c.window() + c.clusters() + 9));
            forward(kernel, s, q, k, v, mixed, t, len, shape);
            t += len;
            s = (CpuState) (call++ % 2 == 0 ? kernel.restore(s.toBytes()) : s.copy());
        }
        if (c.cache() > 0) assertArrayEquals(prefill, mixed, "restored and copied states continue bit for bit");
        else assertTrue(relativeError(mixed, toDouble(prefill), n * qw) < ROUNDING, "mixed splits vs one call");
        assertArrayEquals(state.toBytes(), s.toBytes(), "every split leaves the same state");
        System.out.printf("%s: prefill vs naive %.2e%n", c, errPrefill);
        assertTrue(errPrefill < TOLERANCE, "prefill vs naive: " + errPrefill);
    }

    static double[] toDouble(float[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i];
        return out;
    }

    /**
     * Keys of a few integer values, so that many merge costs tie exactly: every merge is checked (under -ea, which
     * surefire sets) against a scan of the whole cost table, OnlineCentroidMemory's assertion: the cheapest partner
     * kept per row must pick the first cheapest pair as the scan does. (The naive twin sums the distances in another
     * order, so on exact ties it may pick another pair: the comparison with it uses keys without ties.)
     */
    @Test
    void tiedMergeCostsPickTheFirstCheapestPairAsAFullScanDoes() {
        boolean checked = false;
        assert checked = true;
        assertTrue(checked, "this test needs assertions enabled (-ea)");
        for (int[] cfg :
                new int[][] {{4, 2, 8, 7, 2, 5}, {2, 1, 4, 16, 0, 3}, {6, 3, 12, 33, 4, 8}, {2, 2, 3, 64, 1, 1}}) {
            AttentionShape shape = new AttentionShape(cfg[0], cfg[1], cfg[2]);
            AttentionSpec spec = AttentionSpec.hybrid(new OnlineCentroidMap(cfg[2], cfg[3]), cfg[2], cfg[4], cfg[5])
                    .withMemoryGain(gains(cfg[0], cfg[3]));
            SplittableRandom random = new SplittableRandom(cfg[3]);
            int n = 300, qw = shape.queryWidth(), kw = shape.kvWidth();
            float[] q = random(random, n * qw, 1), k = new float[n * kw], v = random(random, n * kw, 1);
            for (int i = 0; i < k.length; i++) k[i] = random.nextInt(3) - 1; // -1, 0 or 1
            AttentionKernel kernel = provider.create(shape, spec);
            CpuState state = (CpuState) kernel.newState();
            float[] decode = new float[n * qw];
            for (int t = 0; t < n; t++) forward(kernel, state, q, k, v, decode, t, 1, shape);
            // and a restored copy continues as the original (its row minima rebuilt from the sums)
            CpuState restored = (CpuState) kernel.restore(state.toBytes());
            float[] a = new float[qw], b = new float[qw];
            for (int t = 0; t < 40; t++) {
                float[] qt = random(random, qw, 1), kt = new float[kw], vt = random(random, kw, 1);
                for (int i = 0; i < kw; i++) kt[i] = random.nextInt(3) - 1;
                kernel.forward(state, qt, kt, vt, a, 1);
                kernel.forward(restored, qt, kt, vt, b, 1);
                assertArrayEquals(a, b, "restored state, token " + t);
            }
            assertArrayEquals(state.toBytes(), restored.toBytes());
        }
    }

    /** A layer like stories260K's (8 heads / 4 KV of 8), 64 clusters, 4 sinks + window 36. */
    private static AttentionSpec storiesSpec() {
        return AttentionSpec.hybrid(new OnlineCentroidMap(8, 64), 8, 4, 36);
    }

    @Test
    void stateBytesAreConstantFrom256To8192PositionsAndOutputsStayFinite() {
        AttentionShape shape = new AttentionShape(8, 4, 8);
        AttentionKernel kernel = provider.create(shape, storiesSpec());
        CpuState state = (CpuState) kernel.newState();
        SplittableRandom random = new SplittableRandom(5);
        long empty = state.toBytes().length, at256 = 0;
        for (int pos = 0; pos < 8192; pos += 256) {
            float[] q = random(random, 256 * 64, 3), k = random(random, 256 * 32, 3), v = random(random, 256 * 32, 1);
            float[] out = new float[256 * 64];
            kernel.forward(state, q, k, v, out, 256);
            for (float x : out) assertTrue(Float.isFinite(x), "non-finite output");
            if (pos == 0) at256 = state.toBytes().length;
        }
        assertEquals(8192, state.position());
        assertEquals(empty, at256);
        assertEquals(at256, state.toBytes().length, "bytes at 8192 positions");
        assertEquals(at256, state.sizeBytes());
        for (int h = 0; h < 4; h++) assertEquals(64, state.onlineMemories[h].count());
    }

    @Test
    void snapshotMidSequenceContinuesBitForBitAndRunsAreDeterministic() {
        AttentionShape shape = new AttentionShape(8, 4, 8);
        AttentionSpec spec = storiesSpec();
        AttentionKernel kernel = provider.create(shape, spec);
        int n = 613, mid = 287, qw = shape.queryWidth(), kw = shape.kvWidth();
        SplittableRandom random = new SplittableRandom(11);
        float[] q = random(random, n * qw, 2), k = random(random, n * kw, 2), v = random(random, n * kw, 1);
        float[] whole = new float[n * qw];
        CpuState a = (CpuState) kernel.newState();
        forward(kernel, a, q, k, v, whole, 0, n, shape);

        float[] resumed = new float[n * qw];
        CpuState b = (CpuState) kernel.newState();
        forward(kernel, b, q, k, v, resumed, 0, mid, shape);
        byte[] snapshot = b.toBytes();
        CpuState fromBytes = (CpuState) provider.create(shape, spec).restore(snapshot);
        assertArrayEquals(snapshot, fromBytes.toBytes());
        for (int t = mid; t < n; t++) forward(kernel, fromBytes, q, k, v, resumed, t, 1, shape);
        assertTrue(relativeError(resumed, toDouble(whole), n * qw) < ROUNDING, "decode after restore vs blocks");
        assertArrayEquals(a.toBytes(), fromBytes.toBytes(), "same input, same state bytes");

        // mid is inside a block of the one-call prefill: a snapshot there, restored, continues in blocks bit for bit
        float[] split = new float[n * qw], splitRestored = new float[n * qw];
        CpuState c = (CpuState) kernel.newState();
        forward(kernel, c, q, k, v, split, 0, mid, shape);
        CpuState restored = (CpuState) provider.create(shape, spec).restore(c.toBytes());
        System.arraycopy(split, 0, splitRestored, 0, mid * qw);
        forward(kernel, c, q, k, v, split, mid, n - mid, shape);
        forward(kernel, restored, q, k, v, splitRestored, mid, n - mid, shape);
        assertArrayEquals(split, splitRestored, "blocks after a restore");
        assertArrayEquals(a.toBytes(), restored.toBytes(), "state after the split prefill");
        assertTrue(relativeError(split, toDouble(whole), n * qw) < ROUNDING, "split prefill vs one call");

        CpuState again = (CpuState) kernel.newState();
        forward(kernel, again, q, k, v, new float[n * qw], 0, n, shape);
        assertArrayEquals(a.toBytes(), again.toBytes(), "a second run gives the same bytes");
    }

    @Test
    void fingerprintTellsClusterCountsApartAndForeignStatesAreRefused() {
        AttentionShape shape = new AttentionShape(4, 2, 8);
        AttentionSpec l16 = AttentionSpec.hybrid(new OnlineCentroidMap(8, 16), 8, 4, 8);
        AttentionSpec l32 = AttentionSpec.hybrid(new OnlineCentroidMap(8, 32), 8, 4, 8);
        assertNotEquals(l16.fingerprint(), l32.fingerprint());
        assertEquals(
                l16.fingerprint(),
                AttentionSpec.hybrid(new OnlineCentroidMap(8, 16), 8, 4, 8).fingerprint());
        byte[] bytes = provider.create(shape, l16).newState().toBytes();
        assertThrows(
                IllegalArgumentException.class,
                () -> provider.create(shape, l32).restore(bytes));
        // hybrid only, and no decay (one memory per KV head, clustered in order)
        assertThrows(
                IllegalArgumentException.class,
                () -> provider.create(shape, AttentionSpec.linear(new OnlineCentroidMap(8, 16), 8)));
        assertThrows(
                IllegalArgumentException.class,
                () -> provider.create(shape, l16.withDecay(new double[] {0.9, 0.9, 0.9, 0.9})));
    }
}
