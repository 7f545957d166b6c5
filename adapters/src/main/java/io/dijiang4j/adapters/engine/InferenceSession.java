package io.dijiang4j.adapters.engine;

/**
 * The attention state of one token sequence. {@link #prefill} and {@link #append} return the next-token logits
 * (after any logit scaling the model applies); the arrays they return may be reused by the next call.
 */
public interface InferenceSession extends AutoCloseable {

    /** Number of tokens this session has consumed. */
    int position();

    /** Consumes the tokens at positions {@code position() ..} and returns the logits after the last one. */
    float[] prefill(int[] tokens);

    /** Consumes one token and returns the logits after it. */
    float[] append(int token);

    /**
     * A copy of the state (position included), independent of this session, that {@link
     * InferenceEngine#restoreSession} opens a session at.
     */
    Snapshot snapshot();

    @Override
    void close();

    /** An opaque saved state; {@link #sizeInBytes()} says what keeping it costs. */
    interface Snapshot {
        long sizeInBytes();
    }
}
