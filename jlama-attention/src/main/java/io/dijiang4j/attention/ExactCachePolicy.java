package io.dijiang4j.attention;

/**
 * How the hybrid layer's bounded exact cache chooses which evicted tokens stay exact (docs/MATH.md §4). Both are
 * training-free and online; a token the cache drops is folded into the kernelized memory.
 */
public enum ExactCachePolicy {
    /** H2O: keep the tokens with the largest attention accumulated over every query that saw them exactly. */
    HEAVY_HITTER,
    /** LoLA: keep the tokens the kernelized memory would recall worst (largest |v - memory(k)| when they leave). */
    SELF_RECALL
}
