/**
 * Kernelized (linear) attention, one head at a time, in the forms flash-linear-attention names: {@link
 * io.dijiang4j.attention.ops.linear.NaiveLinearAttention} (float64, quadratic, from the definition), {@link
 * io.dijiang4j.attention.ops.linear.ChunkLinearAttention} (one Lightning block against the memory: prefill) and
 * {@link io.dijiang4j.attention.ops.linear.FusedRecurrentLinearAttention} (one token: decode), both over the
 * log-offset memory {@link io.dijiang4j.attention.ops.linear.KernelMemory}. Decay is a constant lambda per head, or
 * given per position and head (log lambda_t <= 0, {@code S_t = lambda_t S_(t-1) + phi(k_t) v_t^T}); either way
 * only non-positive powers are formed.
 *
 * <p>Compared on fresh random inputs: {@code cpu.KernelEquivalenceTest} (constant decay, through the CPU kernel)
 * and {@code ops.linear.PositionDecayTest} (per-position decay, the ops directly).
 */
package io.dijiang4j.attention.ops.linear;
