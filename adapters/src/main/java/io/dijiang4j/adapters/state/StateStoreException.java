package io.dijiang4j.adapters.state;

/** A prefix-state store that could not answer, or a saved state that failed its check; costs a re-prefill. */
public class StateStoreException extends RuntimeException {
    public StateStoreException(String message) {
        super(message);
    }

    public StateStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
