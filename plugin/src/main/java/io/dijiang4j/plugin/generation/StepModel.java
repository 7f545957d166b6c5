package io.dijiang4j.plugin.generation;

/**
 * One token sequence being generated, as the decode loop ({@link Generator}) sees it: a plugin {@link
 * io.dijiang4j.plugin.Session}, a native model's session, or an adapter engine's session.
 */
public interface StepModel {
    /** Tokens consumed so far (the position of the next one). */
    long position();

    /** The most positions this sequence can hold; {@link Long#MAX_VALUE} when unbounded. */
    long positionLimit();

    /**
     * Consumes {@code tokens} (the prompt, or what of it is not already in the state) and returns the next-token
     * logits after the last one. The array may be reused by the next call.
     */
    float[] prefill(int[] tokens);

    /** Consumes one generated token and returns the next-token logits after it. */
    float[] step(int token);
}
