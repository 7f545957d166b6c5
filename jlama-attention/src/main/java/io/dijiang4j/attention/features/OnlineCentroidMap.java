package io.dijiang4j.attention.features;

import io.dijiang4j.attention.FeatureMap;

/**
 * The hybrid memory that fits itself at run time (docs/MATH.md §4, "Online centroid memory"): per KV head, the
 * evicted keys are clustered online into at most {@code clusters} centroids with running value sums and counts, and
 * a query weighs cluster l by {@code n_l exp(tau q . c_l)}, the centroid map's score with log w_l = log n_l. Its
 * centroids belong to each sequence's state ({@code ops.hybrid.OnlineCentroidMemory}), not to the spec, so there are
 * no log features to evaluate without a state: this map only names the memory and its size in a spec (and in the
 * state fingerprint), and the feature methods refuse to run.
 */
public final class OnlineCentroidMap implements FeatureMap {
    public static final String NAME = "online";

    private final int inputDim;
    private final int clusters;

    public OnlineCentroidMap(int inputDim, int clusters) {
        if (inputDim < 1 || clusters < 1) {
            throw new IllegalArgumentException("an online centroid memory needs input dim >= 1 and clusters >= 1");
        }
        this.inputDim = inputDim;
        this.clusters = clusters;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int inputDim() {
        return inputDim;
    }

    /** The number of clusters L. */
    @Override
    public int numFeatures() {
        return clusters;
    }

    @Override
    public void logQueryFeatures(float[] x, int off, float[] out, int outOff) {
        throw new UnsupportedOperationException(
                "the online centroid memory has no fixed features: its centroids live in each sequence's state");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OnlineCentroidMap m && inputDim == m.inputDim && clusters == m.clusters;
    }

    @Override
    public int hashCode() {
        return 31 * inputDim + clusters;
    }

    @Override
    public String toString() {
        return NAME + "(d=" + inputDim + ", clusters=" + clusters + ")";
    }
}
