package io.dijiang4j.plugin.profile;

/**
 * How a hybrid profile without a calibration sidecar spends {@code budget}, the exact tokens per head (sinks + window
 * + exact cache, as {@code calibrate --budget} counts them): the keys the profile sets win, the budget fills the
 * others. What the set keys leave goes to the window, or, when the window is set, to the exact cache, or, when both
 * are set, to the sinks; an unset key that does not take the rest has its default (sinks min(4, budget / 2), exact
 * cache 0). A budget alone is thus 4 sinks + the rest as window, no cache: with the online memory
 * (the default memory of mode hybrid) a cache gained nothing on stories260K (held-out KL beyond position 72 of 4 + 36
 * + 0: 0.016, 4 + 32 + 4: 0.017, 4 + 28 + 8: 0.018), since the memory keeps outlying keys in clusters of their own.
 *
 * @param sinks first tokens kept exact
 * @param window most recent tokens kept exact
 * @param exactCache evicted tokens per KV head kept exact
 */
public record ExactBudget(int sinks, int window, int exactCache) {
    /** Sinks of a budget split, at most (StreamingLLM's 4 attention sinks). */
    public static final int MAX_SINKS = 4;

    /**
     * Splits {@code budget} (>= 1); a null value is not set by the profile.
     *
     * @throws IllegalArgumentException when the set values exceed the budget, or all three are set and do not add
     *     up to it
     */
    public static ExactBudget split(int budget, Integer sinks, Integer window, Integer exactCache) {
        if (budget < 1) throw new IllegalArgumentException("must be >= 1 exact token per head, got " + budget);
        boolean cacheTakesRest = window != null && exactCache == null;
        boolean sinksTakeRest = window != null && exactCache != null && sinks == null;
        int s = sinks != null ? sinks : sinksTakeRest ? budget - window - exactCache : Math.min(MAX_SINKS, budget / 2);
        int c = exactCache != null ? exactCache : cacheTakesRest ? budget - s - window : 0;
        int w = window != null ? window : budget - s - c;
        if (s < 0 || w < 0 || c < 0 || s + w + c != budget) {
            throw new IllegalArgumentException("budget " + budget + " does not hold the sinks, window and exact_cache"
                    + " the profile sets (" + (sinks != null ? sinks : "-") + " + " + (window != null ? window : "-")
                    + " + " + (exactCache != null ? exactCache : "-") + "); drop one of these keys or change the"
                    + " budget");
        }
        return new ExactBudget(s, w, c);
    }
}
