package io.dijiang4j.plugin.profile;

/**
 * How a hybrid profile without a calibration sidecar spends {@code budget}, the exact tokens per head (sinks + window
 * + exact cache, as {@code calibrate --budget} counts them): the keys the profile sets win, the budget fills the
 * others. Unset, the sinks are min(4, budget / 2), the exact cache 0 and the window the rest: with the online memory
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
        int s = sinks != null ? sinks : Math.min(MAX_SINKS, budget / 2);
        int c = exactCache != null ? exactCache : 0;
        int w = window != null ? window : budget - s - c;
        if (w < 0 || s + w + c != budget) {
            throw new IllegalArgumentException("budget " + budget + " does not hold sinks " + s + " + window "
                    + (window != null ? String.valueOf(w) : "(the rest)") + " + exact_cache " + c
                    + "; drop one of these keys or change the budget");
        }
        return new ExactBudget(s, w, c);
    }
}
