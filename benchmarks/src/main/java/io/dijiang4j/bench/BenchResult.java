package io.dijiang4j.bench;

/**
 * One (mode, context) measurement of the long-context benchmark.
 *
 * @param mode softmax (vanilla Jlama), dijiang or hybrid
 * @param context depth (tokens already in the sequence) at which decode is timed
 * @param depthFill how the depth was reached: {@code prefill} (real tokens through the whole model) or {@code
 *     synthetic} (see {@link LongContextBench})
 * @param decodeTokensPerSecond 1 / median seconds per decoded token at that depth
 * @param decodeMedianMs median milliseconds per decoded token
 * @param prefillSeconds seconds to prefill {@code context} real tokens, or NaN when not run (context above the
 *     prefill limit)
 * @param memoryBytes heap used (after GC) + direct buffers + mapped buffers, after reaching the depth
 * @param heapBytes heap part
 * @param directBytes direct-buffer part
 * @param mappedBytes mapped-buffer part (model weights file and any KV page files)
 * @param stateBytes attention state of the session (kernel states, or the KV cache rows for softmax)
 * @param note why a measurement is missing, or empty
 */
public record BenchResult(
        String mode,
        int context,
        String depthFill,
        double decodeTokensPerSecond,
        double decodeMedianMs,
        double prefillSeconds,
        long memoryBytes,
        long heapBytes,
        long directBytes,
        long mappedBytes,
        long stateBytes,
        String note) {}
