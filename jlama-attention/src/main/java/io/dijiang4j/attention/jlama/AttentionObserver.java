package io.dijiang4j.attention.jlama;

/**
 * Sees what a {@link KernelizedAttention} layer computes, for calibration and evaluation tools: post-RoPE queries,
 * keys and values and the attention output (before the output projection) of each call. Arrays are row-major
 * ({@code [length][heads*headSize]}, see {@link io.dijiang4j.attention.AttentionKernel}) and are reused after the
 * call returns: copy what you keep. Called on the generating thread, inside the model's lock.
 */
@FunctionalInterface
public interface AttentionObserver {
    void onAttention(int layer, long startPosition, int length, float[] q, float[] k, float[] v, float[] out);
}
