package io.dijiang4j.adapters.engine;

import io.dijiang4j.plugin.generation.StepModel;

/**
 * The attention state of one token sequence, stepped by the plugin's decode loop. {@link #prefill} and {@link #step}
 * return the next-token logits (after any logit scaling the model applies); the arrays they return may be reused by
 * the next call.
 */
public interface InferenceSession extends StepModel, AutoCloseable {

    /**
     * A copy of the state (position included), independent of this session, that {@link
     * InferenceEngine#restoreSession} opens a session at.
     */
    Snapshot snapshot();

    @Override
    void close();

    /** A saved state; {@link #sizeInBytes()} says what keeping it costs. */
    interface Snapshot {
        /** The serialized state, as {@link InferenceEngine#restoreSession(byte[])} takes it. */
        byte[] bytes();

        default long sizeInBytes() {
            return bytes().length;
        }
    }
}
