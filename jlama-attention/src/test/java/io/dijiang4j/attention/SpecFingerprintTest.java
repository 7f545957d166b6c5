package io.dijiang4j.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.dijiang4j.attention.features.CentroidFeatureMap;
import io.dijiang4j.attention.features.FeatureMaps;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SpecFingerprintTest {
    private static AttentionSpec base() {
        return AttentionSpec.hybrid(FeatureMaps.create("pff", 8, 12, 3), 8, 2, 16)
                .withDecay(new double[] {0.9, 0.95})
                .withMemoryGain(new double[] {1, 0.5});
    }

    /**
     * Saved states carry the fingerprint, so it must not change between JVM runs; the golden value was recorded when
     * the fingerprint took enums by name (the cross-process restore is CrossProcessStateTest).
     */
    @Test
    void fingerprintIsAFixedValue() {
        assertEquals(GOLDEN, base().fingerprint());
    }

    static final long GOLDEN = 2382117482203536576L;

    @Test
    void equalSpecsBuiltSeparatelyHaveEqualFingerprints() {
        AttentionSpec a = base(), b = base();
        assertNotEquals(System.identityHashCode(a.featureMap()), System.identityHashCode(b.featureMap()));
        assertEquals(a, b);
        assertEquals(a.fingerprint(), b.fingerprint());
        float[] centroids = {1, 0, 0, 1, -1, 0.5f}, logWeights = {0, -1, -2};
        AttentionSpec fittedA = AttentionSpec.hybrid(new CentroidFeatureMap(2, centroids, logWeights), 2, 1, 4);
        AttentionSpec fittedB =
                AttentionSpec.hybrid(new CentroidFeatureMap(2, centroids.clone(), logWeights.clone()), 2, 1, 4);
        assertEquals(fittedA.fingerprint(), fittedB.fingerprint());
        // the block size is no part of a state's meaning: a state continues under another
        assertEquals(base().fingerprint(), base().withBlockSize(32).fingerprint());
        // no cache: the policy means nothing
        assertEquals(
                fittedA.fingerprint(),
                fittedA.withExactCache(0, ExactCachePolicy.SELF_RECALL).fingerprint());
    }

    @Test
    void everyMeaningfulDifferenceChangesTheFingerprint() {
        float[] centroids = {1, 0, 0, 1, -1, 0.5f}, logWeights = {0, -1, -2};
        var fitted = new CentroidFeatureMap(2, centroids, logWeights);
        float[] moved = centroids.clone();
        moved[3] = 0.9f;
        var otherCalibration = new CentroidFeatureMap(2, moved, logWeights);
        AttentionSpec fittedSpec = AttentionSpec.hybrid(fitted, 2, 1, 4);
        AttentionSpec b = base();
        List<AttentionSpec> specs = new ArrayList<>(List.of(
                b,
                b.withScale(0.3),
                b.withDecay(new double[] {0.9, 0.96}),
                b.withDecay(null),
                b.withMemoryGain(new double[] {1, 0.25}),
                b.withMemoryGain(null),
                AttentionSpec.hybrid(FeatureMaps.create("pff", 8, 12, 4), 8, 2, 16), // another seed
                AttentionSpec.hybrid(FeatureMaps.create("performer", 8, 12, 3), 8, 2, 16),
                AttentionSpec.hybrid(FeatureMaps.create("pff", 8, 12, 3), 8, 3, 16),
                AttentionSpec.hybrid(FeatureMaps.create("pff", 8, 12, 3), 8, 2, 17),
                AttentionSpec.linear(FeatureMaps.create("pff", 8, 12, 3), 8),
                new AttentionSpec(
                        AttentionSpec.Method.LINEAR,
                        FeatureMaps.create("pff", 8, 12, 3),
                        null,
                        0,
                        0,
                        64,
                        1 / Math.sqrt(8),
                        null,
                        false),
                fittedSpec,
                AttentionSpec.hybrid(otherCalibration, 2, 1, 4),
                fittedSpec.withKvHeadMaps(new FeatureMap[] {fitted, otherCalibration}),
                fittedSpec.withExactCache(2, ExactCachePolicy.SELF_RECALL),
                fittedSpec.withExactCache(2, ExactCachePolicy.HEAVY_HITTER),
                fittedSpec.withExactCache(3, ExactCachePolicy.HEAVY_HITTER)));
        Set<Long> seen = new HashSet<>();
        for (AttentionSpec spec : specs) seen.add(spec.fingerprint());
        assertEquals(specs.size(), seen.size(), "every spec above differs in meaning, so must its fingerprint");
    }
}
