package io.dijiang4j.attention.tensorops;

import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.tensor.AbstractTensor;

/**
 * A backend for Jlama's matrix products: the seam a model's weights are routed to ({@link TensorOpsRouter}). The CPU
 * kernels ({@link CpuMatrixProducts}) implement it; a device backend (the gpu module) can take the same place by
 * implementing it and being registered for a model's weights.
 */
public interface MatrixProducts {
    /** A short name for logs and benchmark rows ("fast"). */
    String name();

    /** Whether {@link #product} handles activations of type {@code a} times weights of type {@code b}. */
    boolean supports(DType a, DType b);

    /**
     * Jlama's {@code batchDotProduct}: for every row i of {@code a} and weight row j in [bRowOffset, bRowOffset +
     * rowChunkSize), {@code result[i, j + rOffset] = sum over k < columnLength of a[i, aColumnOffset + k] *
     * b[j, bColumnOffset + k]}. Quantized operands need column offsets and lengths on their block boundaries, as in
     * Jlama.
     */
    void product(
            AbstractTensor result,
            AbstractTensor a,
            AbstractTensor b,
            int aColumnOffset,
            int bColumnOffset,
            int columnLength,
            int rOffset,
            int bRowOffset,
            int rowChunkSize);
}
