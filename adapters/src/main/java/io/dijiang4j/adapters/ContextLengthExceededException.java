package io.dijiang4j.adapters;

/** The prompt does not fit in the positions the model can attend to. */
public final class ContextLengthExceededException extends IllegalArgumentException {
    public ContextLengthExceededException(String message) {
        super(message);
    }
}
