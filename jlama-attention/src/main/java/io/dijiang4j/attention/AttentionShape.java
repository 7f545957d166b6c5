package io.dijiang4j.attention;

/**
 * Head layout of one attention layer. Query heads {@code h} read KV head {@code h / groupSize()} (GQA, the
 * grouping Jlama's {@code Config.maybeMapToGroupHead} uses). Value vectors have the same size as keys.
 */
public record AttentionShape(int numHeads, int numKvHeads, int headDim) {
    public AttentionShape {
        if (numHeads < 1 || numKvHeads < 1 || headDim < 1) {
            throw new IllegalArgumentException("heads, kv heads and head size must be >= 1: " + this);
        }
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException(
                    "query heads (" + numHeads + ") must be a multiple of KV heads (" + numKvHeads + ")");
        }
    }

    public int groupSize() {
        return numHeads / numKvHeads;
    }

    public int kvHeadOf(int head) {
        return head / groupSize();
    }

    /** Floats in one token's query (and output) row. */
    public int queryWidth() {
        return numHeads * headDim;
    }

    /** Floats in one token's key (and value) row. */
    public int kvWidth() {
        return numKvHeads * headDim;
    }
}
