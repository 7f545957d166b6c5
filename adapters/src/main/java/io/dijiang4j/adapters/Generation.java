package io.dijiang4j.adapters;

import io.dijiang4j.plugin.generation.GenerationResult;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;

/**
 * A request submitted to a {@link DiJiangRuntime} ({@link DiJiangRuntime#submit}): its result, and {@link #cancel()}
 * for a client that is gone. Cancelling frees the request's session (or its place in the queue) before the next
 * forward pass; no text reaches the sink after it. The result then completes with a {@link CancellationException}.
 */
public final class Generation {
    private final Result result = new Result();
    private volatile boolean cancelled;
    private volatile StepScheduler.Slot slot;

    Generation() {}

    /** Completes with the generation's result, or exceptionally with what stopped it. */
    public CompletableFuture<GenerationResult> result() {
        return result;
    }

    /** Stops the generation and frees its session; nothing happens once it has finished. */
    public void cancel() {
        cancelled = true;
        StepScheduler.Slot s = slot;
        if (s != null) s.wake();
    }

    public boolean isCancelled() {
        return cancelled;
    }

    void attach(StepScheduler.Slot slot) {
        this.slot = slot;
        if (cancelled) slot.wake();
    }

    void complete(GenerationResult value) {
        result.complete(value);
    }

    void fail(Throwable error) {
        result.completeExceptionally(cancelled ? new CancellationException("the generation was cancelled") : error);
    }

    /** A future whose {@code cancel} cancels the generation too. */
    private final class Result extends CompletableFuture<GenerationResult> {
        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            Generation.this.cancel();
            return super.cancel(mayInterruptIfRunning);
        }
    }
}
