package io.dijiang4j.nativemodels;

/**
 * One sequence being processed by a native model: a fixed-size recurrent state per layer (constant memory in the
 * sequence length) and the absolute position of the next token. Not thread-safe; one per conversation.
 */
public interface NativeSession {

    /** Absolute position of the next token (the number of tokens consumed so far). */
    int position();

    /**
     * Consumes tokens with the parallel/chunked form and returns the logits of every one of them (allLogits) or
     * only of the last (one row).
     */
    float[][] prefill(int[] tokens, boolean allLogits);

    /** Consumes one token with the recurrent form and returns its logits. */
    float[] step(int token);

    /** Number of state values kept (independent of the sequence length). */
    long stateSize();
}
