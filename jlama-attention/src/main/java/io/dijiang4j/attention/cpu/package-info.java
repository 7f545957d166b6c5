/** The CPU backend: provider, kernels (chunked prefill, recurrent decode, non-causal encoder form for LINEAR), states. Memory heads run in parallel when the work is large. */
package io.dijiang4j.attention.cpu;
