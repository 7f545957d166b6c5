package io.dijiang4j.attention.ops.hybrid;

/**
 * The memory term of the hybrid layer for one KV head, as the recurrent hybrid op uses it: tokens that left the exact
 * set are folded in, and a query reads back a numerator and denominator already divided by exp(c), c the row's
 * maximum over both parts (docs/MATH.md §4). Two memories implement it: the kernelized one of a fixed feature map
 * ({@link FeatureMemory}) and the online centroid memory that fits itself to the evicted keys ({@link
 * OnlineCentroidMemory}).
 */
public interface EvictedMemory {
    /** Folds the token with raw key {@code k[kOff..]} and value {@code v[vOff..]} into the memory. */
    void fold(float[] k, int kOff, float[] v, int vOff);

    /**
     * Prepares the query at {@code q[qOff..]} (raw, unscaled); returns the largest log-term the memory contributes
     * plus {@code logGain}, -infinity when it is empty.
     */
    double loadQuery(float[] q, int qOff, double logGain);

    /**
     * After {@link #loadQuery}: adds {@code g num / exp(c)} into {@code num[0..d)} and returns {@code g den / exp(c)},
     * with {@code c = rowMax} (>= what loadQuery returned) and {@code g = exp(logGain)}.
     */
    double accumulate(double rowMax, double logGain, double[] num);
}
