package io.dijiang4j.attention.ops.hybrid;

import io.dijiang4j.attention.simd.VectorOps;

/**
 * Where the exact tokens (sinks, window, the call's own) of one KV head live during a hybrid call: the backend's
 * state layout, read by the hybrid ops through absolute positions.
 */
public interface ExactTokens {
    /** Copies the raw key of position {@code pos} into {@code dst[dstOff + i*dstStride]}, i < headDim. */
    void copyKey(long pos, float[] dst, int dstOff, int dstStride);

    /** The array holding the raw value of position {@code pos}, at {@link #valueOffset}. */
    float[] values(long pos);

    int valueOffset(long pos);

    /**
     * {@code out[outOff + t] = scale * q.k_(first + t)} for the positions {@code [first, end)}; returns their maximum
     * (-infinity when the range is empty). A layout may answer a whole stored window with one matrix-vector product.
     */
    float logits(long first, long end, float[] q, int qOff, float scale, float[] out, int outOff);

    /**
     * {@code out[i] += w[wOff + t] * value_(first + t)[i]} for the positions {@code [first, end)}, i < d, summed as
     * {@link VectorOps#axpy(float, float[], int, float[], int, int)} once per position in position order would sum
     * them (a layout takes the rows it stores at one stride together: {@link VectorOps#addWeightedRows}).
     */
    void addValues(long first, long end, float[] w, int wOff, float[] out, int d);
}
