package io.dijiang4j.adapters;

/**
 * The runtime's queue of waiting requests is full ({@link Scheduling#maxQueued()}): the request was not started.
 * A server answers it with 503 and Retry-After.
 */
public final class QueueFullException extends IllegalStateException {
    public QueueFullException(String message) {
        super(message);
    }
}
