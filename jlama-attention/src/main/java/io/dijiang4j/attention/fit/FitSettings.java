package io.dijiang4j.attention.fit;

/**
 * The hybrid layout a fit is made for, and the sampling of {@link MemoryFit}.
 *
 * @param scale tau, the softmax temperature (usually 1/sqrt(d))
 * @param sinks s0, first positions always exact
 * @param window w, most recent positions exact: query n keeps j > n - w exact, the memory holds s0 <= j <= n - w
 * @param maxPairs {@link MemoryFit}: about how many (query, evicted key) pairs enter the normal equations; more
 *     candidates are subsampled (see there). {@link GainSearch} uses every row and ignores it.
 * @param seed {@link MemoryFit}: seed of the pair subsampling
 */
public record FitSettings(double scale, int sinks, int window, int maxPairs, long seed) {
    /** Pairs per NNLS fit when the caller does not say: ~0.1 s of normal-equation work at m = 64. */
    public static final int DEFAULT_MAX_PAIRS = 100_000;

    public FitSettings {
        if (!(scale > 0) || Double.isInfinite(scale)) throw new IllegalArgumentException("scale must be > 0: " + scale);
        if (sinks < 0 || window < 0) {
            throw new IllegalArgumentException("need sinks >= 0 and window >= 0, got " + sinks + ", " + window);
        }
        if (maxPairs < 1) throw new IllegalArgumentException("maxPairs must be >= 1: " + maxPairs);
    }

    public static FitSettings of(double scale, int sinks, int window) {
        return new FitSettings(scale, sinks, window, DEFAULT_MAX_PAIRS, 0);
    }

    public FitSettings withSampling(int pairs, long samplingSeed) {
        return new FitSettings(scale, sinks, window, pairs, samplingSeed);
    }

    /** The first position whose query has an evicted key: the memory is empty before it. */
    public int firstEvictedRow() {
        return sinks + window;
    }
}
