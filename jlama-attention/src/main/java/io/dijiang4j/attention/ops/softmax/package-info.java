/**
 * Exact softmax attention: {@link io.dijiang4j.attention.ops.softmax.NaiveSoftmaxAttention}, the float64 reference
 * only (the fast softmax forms are Jlama's). The hybrid must equal it when its window covers the sequence ({@code
 * cpu.KernelEquivalenceTest.hybridWithFullWindowEqualsSoftmax}); the fit package measures against it.
 */
package io.dijiang4j.attention.ops.softmax;
