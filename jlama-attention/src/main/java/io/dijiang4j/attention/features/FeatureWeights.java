package io.dijiang4j.attention.features;

/** Checks and log form of per-feature weights, shared by the weight setters of the maps. */
final class FeatureWeights {
    private FeatureWeights() {}

    /** Rejects, with one clear message, weights that are not m finite values >= 0 with at least one > 0. */
    static void check(double[] weights, int m, String what) {
        if (weights == null || weights.length != m) {
            throw new IllegalArgumentException(
                    "need " + m + " " + what + "s, got " + (weights == null ? "null" : String.valueOf(weights.length)));
        }
        boolean anyPositive = false;
        for (int l = 0; l < m; l++) {
            double w = weights[l];
            if (!(w >= 0) || Double.isInfinite(w)) {
                throw new IllegalArgumentException(what + " " + l + " must be finite and >= 0: " + w);
            }
            anyPositive |= w > 0;
        }
        if (!anyPositive) throw new IllegalArgumentException("at least one " + what + " must be > 0");
    }

    /** log w as a float, {@link ProjectionFeatureMap#LOG_ZERO_WEIGHT} for 0 (and never below it). */
    static float log(double w) {
        return w > 0
                ? (float) Math.max(Math.log(w), ProjectionFeatureMap.LOG_ZERO_WEIGHT)
                : ProjectionFeatureMap.LOG_ZERO_WEIGHT;
    }
}
