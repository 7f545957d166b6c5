package io.dijiang4j.bench;

/**
 * One (mode, context) measurement of the long-context benchmark.
 *
 * @param mode softmax (vanilla Jlama), dijiang or hybrid
 * @param tensorOps whose matrix products ran the model's weights: {@code fast} (the project's) or {@code jlama}
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
 * @param ttftSeconds time to first token for a prompt of {@code context} tokens: the prefill and the argmax of its
 *     last logits (NaN when the depth was not prefilled)
 * @param prefillGflops GFLOP/s of the weight products during the prefill (2 x weight parameters x tokens / prefill
 *     time; attention itself not counted), NaN when not prefilled
 * @param floorTokensPerSecond the weight-streaming floor of decode: read bandwidth / weight bytes per token
 * @param note why a measurement is missing, or empty
 */
public record BenchResult(
        String mode,
        String tensorOps,
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
        double ttftSeconds,
        double prefillGflops,
        double floorTokensPerSecond,
        String note) {}
