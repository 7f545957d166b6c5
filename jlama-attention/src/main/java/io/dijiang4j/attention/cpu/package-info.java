/**
 * The CPU backend: provider ({@code "cpu"}, registered for ServiceLoader), kernels (chunked prefill, recurrent
 * decode, non-causal encoder form for LINEAR), states. Memory heads run in parallel when the work is large.
 *
 * <p>Typical use:
 *
 * <pre>{@code
 * FeatureMap map = FeatureMaps.create("wdcf", headDim, 64, seed);
 * AttentionSpec spec = AttentionSpec.hybrid(map, headDim, 4, 64);    // or AttentionSpec.linear(map, headDim)
 * AttentionKernel kernel = AttentionBackends.select("cpu").create(new AttentionShape(heads, kvHeads, headDim), spec);
 * AttentionState state = kernel.newState();
 * kernel.forward(state, q, k, v, out, promptLength);                // chunked prefill
 * kernel.forward(state, q1, k1, v1, out1, 1);                       // recurrent decode, no allocation
 * byte[] saved = state.toBytes();                                   // kernel.restore(saved) continues exactly
 * }</pre>
 */
package io.dijiang4j.attention.cpu;
