package io.dijiang4j.attention.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.CentroidFeatureMap;
import io.dijiang4j.attention.features.FeatureMaps;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class StateHeaderTest {
    /**
     * The fingerprint in saved states must not change between JVM runs (no identity hash codes): a state saved by
     * one process restores in another. The golden value was recorded when the header was written.
     */
    @Test
    void fingerprintIsStableAcrossRuns() {
        AttentionSpec spec = AttentionSpec.hybrid(FeatureMaps.create("pff", 8, 12, 3), 8, 2, 16)
                .withDecay(new double[] {0.9, 0.95})
                .withMemoryGain(new double[] {1, 0.5});
        assertEquals(GOLDEN, StateHeader.fingerprint(spec));
        assertEquals(StateHeader.fingerprint(spec), StateHeader.fingerprint(spec.withBlockSize(32)));
        assertNotEquals(StateHeader.fingerprint(spec), StateHeader.fingerprint(spec.withScale(0.3)));
    }

    static final long GOLDEN = -2686422929314292868L;

    @Test
    void fittedMapsCacheAndPerKvHeadMapsAreInTheFingerprint() {
        float[] centroids = {1, 0, 0, 1, -1, 0.5f}, logWeights = {0, -1, -2};
        var fitted = new CentroidFeatureMap(2, centroids, logWeights);
        float[] moved = centroids.clone();
        moved[3] = 0.9f;
        var otherCalibration = new CentroidFeatureMap(2, moved, logWeights);
        AttentionSpec spec = AttentionSpec.hybrid(fitted, 2, 1, 4);
        long base = StateHeader.fingerprint(spec);
        assertNotEquals(base, StateHeader.fingerprint(AttentionSpec.hybrid(otherCalibration, 2, 1, 4)));
        assertNotEquals(base, StateHeader.fingerprint(spec.withExactCache(2, ExactCachePolicy.SELF_RECALL)));
        assertNotEquals(
                StateHeader.fingerprint(spec.withExactCache(2, ExactCachePolicy.SELF_RECALL)),
                StateHeader.fingerprint(spec.withExactCache(2, ExactCachePolicy.HEAVY_HITTER)));
        assertNotEquals(
                base, StateHeader.fingerprint(spec.withKvHeadMaps(new FeatureMap[] {fitted, otherCalibration})));
        // no cache: the policy means nothing and does not change the fingerprint (states saved before it existed)
        assertEquals(base, StateHeader.fingerprint(spec.withExactCache(0, ExactCachePolicy.SELF_RECALL)));
    }

    @Test
    void stateContinuesUnderAnotherBlockSize() {
        AttentionShape shape = new AttentionShape(2, 1, 8);
        AttentionSpec spec = AttentionSpec.linear(FeatureMaps.create("wdcf", 8, 8, 1), 8);
        AttentionKernel a = new CpuKernelProvider().create(shape, spec.withBlockSize(16));
        AttentionKernel b = new CpuKernelProvider().create(shape, spec.withBlockSize(32));
        SplittableRandom random = new SplittableRandom(4);
        float[] q = KernelEquivalenceTest.random(random, 40 * 16, 1);
        float[] k = KernelEquivalenceTest.random(random, 40 * 8, 1);
        float[] v = KernelEquivalenceTest.random(random, 40 * 8, 1);
        AttentionState state = a.newState();
        a.forward(state, q, k, v, new float[40 * 16], 40);
        AttentionState moved = b.restore(state.toBytes());
        assertArrayEquals(state.toBytes(), moved.toBytes());
    }
}
