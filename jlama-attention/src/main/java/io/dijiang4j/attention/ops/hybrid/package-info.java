/**
 * The hybrid layer (exact softmax over sinks, window and exact cache; a kernelized memory of the evicted tokens; one
 * normalizer): {@link io.dijiang4j.attention.ops.hybrid.NaiveHybridAttention} (float64, from the definition, the
 * exact-cache policies included), {@link io.dijiang4j.attention.ops.hybrid.ChunkHybridAttention} (one block of
 * queries: prefill) and {@link io.dijiang4j.attention.ops.hybrid.FusedRecurrentHybridAttention} (one token: decode,
 * and every token when an exact cache is on). The memory part is the linear ops' chunk and recurrent forms; where the
 * exact tokens live (sink buffer, ring, cache slots) is the backend's, reached through {@link
 * io.dijiang4j.attention.ops.hybrid.ExactTokens}.
 *
 * <p>Compared on fresh random inputs: {@code cpu.KernelEquivalenceTest} (chunked, recurrent, mixed vs naive) and
 * {@code cpu.ExactCacheTest} (the exact cache), both through the CPU kernel.
 */
package io.dijiang4j.attention.ops.hybrid;
