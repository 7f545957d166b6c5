package io.dijiang4j.plugin.generation;

/**
 * Restricts which tokens the {@link Sampler} may pick (constrained decoding): before each pick the logits of the
 * tokens that may not come next are set to negative infinity, after it the constraint learns the pick. One per
 * generation (it holds the output's state).
 */
public interface TokenConstraint {
    /** Sets the logits of every token that may not come next to {@link Float#NEGATIVE_INFINITY}. */
    void mask(float[] logits);

    /** The sampler picked {@code token} (one that {@link #mask} left). */
    void accept(int token);
}
