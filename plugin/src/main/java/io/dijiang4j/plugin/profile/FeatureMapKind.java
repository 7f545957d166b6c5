package io.dijiang4j.plugin.profile;

import io.dijiang4j.attention.features.FeatureMaps;

/**
 * The profile's {@code feature_map}: a seeded map of {@link FeatureMaps#KINDS} (same key), {@link #CENTROIDS}, the
 * map fitted by {@code dijiang calibrate}, which exists only in a calibration sidecar, or {@link #ONLINE}, the hybrid
 * memory that fits itself to each sequence's evicted tokens (no sidecar, no seed), or {@link #NONE}: no memory, the
 * hybrid's sinks and window alone (StreamingLLM, the baseline every memory is measured against).
 */
public enum FeatureMapKind {
    WDCF("wdcf"),
    WDCF_MC("wdcf-mc"),
    DIJIANG_CODE("dijiang-code"),
    PERFORMER("performer"),
    PERFORMER_ORTHOGONAL("performer-orthogonal"),
    PFF("pff"),
    CENTROIDS(FeatureMaps.CENTROIDS),
    ONLINE(FeatureMaps.ONLINE),
    NONE("none");

    private final String key;

    FeatureMapKind(String key) {
        this.key = key;
    }

    /** The key in profiles and sidecars, and the kind {@link FeatureMaps#create} takes. */
    public String key() {
        return key;
    }

    /** Whether the map is built from a seed (every kind but the fitted centroids, the online memory and none). */
    public boolean seeded() {
        return this != CENTROIDS && this != ONLINE && this != NONE;
    }

    /** @throws IllegalArgumentException naming the known kinds */
    public static FeatureMapKind parse(String text) {
        return SettingKeys.parse(values(), FeatureMapKind::key, text);
    }

    @Override
    public String toString() {
        return key;
    }
}
