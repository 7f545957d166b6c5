package io.dijiang4j.adapters;

import java.util.concurrent.Executor;
import java.util.concurrent.ThreadFactory;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a streaming generation so that the handler sees exactly one terminal call: a handler that throws from a
 * partial-response callback stops the generation and gets onError; one that throws from its terminal callback is
 * logged and ignored. Either way the model stays usable.
 */
final class StreamingCallbacks {
    private static final Logger LOG = LoggerFactory.getLogger(StreamingCallbacks.class);
    private static final ThreadFactory THREADS =
            Thread.ofVirtual().name("dijiang-stream-", 0).factory();

    /** The default executor of the streaming models: one virtual thread per request. */
    static final Executor NEW_VIRTUAL_THREAD = task -> THREADS.newThread(task).start();

    private StreamingCallbacks() {}

    /** Thrown through the generation loop when the handler fails, to tell it apart from a model failure. */
    static final class HandlerFailure extends RuntimeException {
        HandlerFailure(RuntimeException cause) {
            super(cause);
        }
    }

    /** Wraps a partial-text callback so that its exception stops the generation as a {@link HandlerFailure}. */
    static TextSink partials(Consumer<String> onPartial) {
        return text -> {
            try {
                onPartial.accept(text);
            } catch (RuntimeException e) {
                throw new HandlerFailure(e);
            }
        };
    }

    static Throwable unwrap(Throwable error) {
        return error instanceof HandlerFailure failure ? failure.getCause() : error;
    }

    static void quietly(String callback, Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            LOG.warn("the streaming handler threw from {}; ignored", callback, e);
        }
    }
}
