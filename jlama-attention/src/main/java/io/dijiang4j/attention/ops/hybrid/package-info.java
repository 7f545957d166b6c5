/**
 * The hybrid layer (exact softmax over sinks, window and exact cache; a kernelized memory of the evicted tokens; one
 * normalizer): {@link io.dijiang4j.attention.ops.hybrid.NaiveHybridAttention} (float64, from the definition, the
 * exact-cache policies included), {@link io.dijiang4j.attention.ops.hybrid.ChunkHybridAttention} (one block of
 * queries: prefill) and {@link io.dijiang4j.attention.ops.hybrid.FusedRecurrentHybridAttention} (one token: decode,
 * and every token when an exact cache or the online memory is on). The memory part is an {@link
 * io.dijiang4j.attention.ops.hybrid.EvictedMemory}: the linear ops' chunk and recurrent forms over a kernel memory
 * ({@link io.dijiang4j.attention.ops.hybrid.FeatureMemory}), or the online centroid memory that clusters the evicted
 * tokens as they come ({@link io.dijiang4j.attention.ops.hybrid.OnlineCentroidMemory}, recurrent form only). Where
 * the exact tokens live (sink buffer, ring, cache slots) is the backend's, reached through {@link
 * io.dijiang4j.attention.ops.hybrid.ExactTokens}.
 *
 * <p>Compared on fresh random inputs: {@code cpu.KernelEquivalenceTest} (chunked, recurrent, mixed vs naive), {@code
 * cpu.ExactCacheTest} (the exact cache) and {@code cpu.OnlineCentroidMemoryTest} (the online memory), all through the
 * CPU kernel.
 */
package io.dijiang4j.attention.ops.hybrid;
