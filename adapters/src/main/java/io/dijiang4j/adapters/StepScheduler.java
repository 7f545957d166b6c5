package io.dijiang4j.adapters;

import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.adapters.engine.InferenceSession;
import io.dijiang4j.plugin.generation.StepModel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * Continuous batching for a {@link DiJiangRuntime} (docs/DESIGN.md §8): up to {@link Scheduling#maxActive()}
 * requests hold a slot, the others wait in arrival order. Each request runs the plugin's decode loop on its own
 * thread over a {@link StepModel} whose prefill and steps are handed to this scheduler, which runs one forward pass
 * ({@link InferenceEngine#advance}) for every slot that asked: each pass advances every active session by one token,
 * plus prompt tokens of sessions that are still prefilling: at most {@link Scheduling#decodingPrefill()} while
 * sessions are decoding (their time per token stays bounded), {@link Scheduling#prefillChunk()} otherwise. Background
 * work ({@link #reserve(BooleanSupplier, boolean)}) is prefilled only while no session decodes, after the requests'
 * prompts: it never slows a stream; it waits and holds sessions apart from the requests (as many again at most), so
 * it never keeps a request from a slot either. Requests join and leave between passes; a cancelled request leaves
 * before the next pass.
 *
 * <p>No scheduler thread: the request whose ask completes the pass (every active slot has asked), or the first to
 * see the linger run out, runs the pass on its own thread while the others wait for their logits. A lone request
 * thus runs its passes itself, without a hand-off.
 */
final class StepScheduler implements AutoCloseable {
    private final InferenceEngine engine;
    private final ReentrantLock engineLock;
    private final Scheduling settings;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition slotFreed = lock.newCondition();
    private final ArrayDeque<Slot> queue = new ArrayDeque<>();
    /**
     * Background slots wait apart and hold sessions of their own, {@link Scheduling#maxActive()} at most: in the
     * requests' queue and slots they held them up, and, prefilled only while no session decodes, a busy server's saves
     * held every slot while its requests queued behind them (README "Serving", eleventh round).
     */
    private final ArrayDeque<Slot> backgroundQueue = new ArrayDeque<>();

    private final List<Slot> active = new ArrayList<>(); // in admission order, background slots included
    private boolean closed;
    private boolean passRunning;
    private long oldestAsk; // System.nanoTime() of the oldest ask not yet in a pass
    private long lastPassNanos;
    private long passes;
    private long rows;
    private long passNanos;

    StepScheduler(InferenceEngine engine, ReentrantLock engineLock, Scheduling settings) {
        this.engine = engine;
        this.engineLock = engineLock;
        this.settings = settings;
    }

    /**
     * A slot now, or a place at the end of the queue ({@link Slot#awaitAdmission()} waits for the slot). Never
     * blocks.
     *
     * @throws QueueFullException when {@link Scheduling#maxQueued()} requests already wait
     */
    Slot reserve(BooleanSupplier cancelled) {
        return reserve(cancelled, false);
    }

    /**
     * As {@link #reserve(BooleanSupplier)}; a {@code background} slot's prompt tokens go into a pass only while no
     * session decodes, after those of the other slots (work no client waits for, such as saving a conversation's
     * state for its next turn).
     */
    Slot reserve(BooleanSupplier cancelled, boolean background) {
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("the model was closed");
            Slot slot = new Slot(cancelled, background);
            ArrayDeque<Slot> waiting = background ? backgroundQueue : queue;
            if (admitted(background) < settings.maxActive() && waiting.isEmpty()) {
                slot.admitted = true;
                active.add(slot);
            } else if (waiting.size() >= settings.maxQueued()) {
                throw new QueueFullException(settings.maxActive() + " requests are running and " + waiting.size()
                        + " waiting, the most this runtime queues; retry later");
            } else {
                waiting.add(slot);
            }
            return slot;
        } finally {
            lock.unlock();
        }
    }

    /** Admitted slots of one kind: requests', or background work's. */
    private int admitted(boolean background) {
        int n = 0;
        for (Slot s : active) if (s.background == background) n++;
        return n;
    }

    /** Sessions held now: requests' and background work's. */
    int activeSessions() {
        lock.lock();
        try {
            return active.size();
        } finally {
            lock.unlock();
        }
    }

    /** Slots waiting for a session: requests' and background work's. */
    int queuedRequests() {
        lock.lock();
        try {
            return queue.size() + backgroundQueue.size();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Forward passes run so far, the session rows they advanced (their ratio is the mean batch) and the nanoseconds
     * they took (against the wall time: how much of it the passes kept the model busy).
     */
    long[] passCounters() {
        lock.lock();
        try {
            return new long[] {passes, rows, passNanos};
        } finally {
            lock.unlock();
        }
    }

    /** One request's hold on the scheduler: a slot, or its place in the queue until it gets one. */
    final class Slot implements AutoCloseable {
        private final Condition ready = lock.newCondition();
        private final BooleanSupplier cancelled;
        private final boolean background;
        private boolean decoding; // has asked for a decode step: its stream is running
        private boolean admitted;
        private boolean released;
        private boolean interrupted;
        private Work pending;

        private Slot(BooleanSupplier cancelled, boolean background) {
            this.cancelled = cancelled;
            this.background = background;
        }

        /** Waits in the queue until this request holds a slot. */
        void awaitAdmission() {
            lock.lock();
            try {
                while (!admitted) {
                    checkLive();
                    await(Long.MAX_VALUE);
                }
            } finally {
                lock.unlock();
                restoreInterrupt();
            }
        }

        /** Throws when the request was cancelled (or its thread interrupted) or the runtime closed. */
        void checkLive() {
            if (cancelled.getAsBoolean() || interrupted)
                throw new CancellationException("the generation was cancelled");
            if (closed) throw new IllegalStateException("the model was closed");
        }

        /** Wakes this request's thread to see a cancellation. */
        void wake() {
            lock.lock();
            try {
                ready.signalAll();
            } finally {
                lock.unlock();
            }
        }

        /** {@code session} seen through this scheduler: prefill in chunks and steps run in the shared passes. */
        StepModel stepModel(InferenceSession session) {
            return new StepModel() {
                @Override
                public long position() {
                    return session.position();
                }

                @Override
                public long positionLimit() {
                    return session.positionLimit();
                }

                @Override
                public float[] prefill(int[] tokens) {
                    if (tokens.length == 0) throw new IllegalArgumentException("no tokens to prefill");
                    return submit(session, tokens, false); // the passes take it in slices
                }

                @Override
                public float[] step(int token) {
                    return submit(session, new int[] {token}, true);
                }
            };
        }

        private float[] submit(InferenceSession session, int[] tokens, boolean step) {
            lock.lock();
            try {
                checkLive();
                decoding |= step;
                Work work = new Work(session, tokens, background);
                if (!hasWork()) oldestAsk = System.nanoTime();
                pending = work;
                while (!work.done) {
                    // a pass that holds the session must finish before the request may leave and close it
                    if (work.inPass == 0 && (cancelled.getAsBoolean() || interrupted || closed)) {
                        pending = null;
                        checkLive();
                    }
                    if (passRunning || !hasWork()) {
                        await(Long.MAX_VALUE);
                        continue;
                    }
                    // the sessions that have not asked yet are sampling or streaming: a moment, so that they share
                    // at least the configured linger, at most a quarter of the last pass: a straggler costs the
                    // others little beside the pass it could share
                    long wait = Math.max(settings.linger().toNanos(), lastPassNanos / 4);
                    long linger = oldestAsk + wait - System.nanoTime();
                    if (linger > 0 && !everyActiveAsked()) await(linger);
                    else lead();
                }
                pending = null;
                if (work.error != null) throw work.error;
                checkLive();
                return work.logits;
            } finally {
                lock.unlock();
                restoreInterrupt();
            }
        }

        /** Runs one pass on this thread (called and returning with the lock held). */
        private void lead() {
            List<Work> batch = take();
            passRunning = true;
            lock.unlock();
            long start = System.nanoTime();
            try {
                execute(batch);
            } finally {
                lock.lock();
                lastPassNanos = System.nanoTime() - start;
                passNanos += lastPassNanos;
                passRunning = false;
                passes++;
                rows += batch.size();
                for (Work w : batch) {
                    w.next += w.inPass;
                    w.inPass = 0;
                    w.done = w.error != null || w.next == w.tokens.length;
                }
                if (hasWork()) oldestAsk = System.nanoTime();
                for (Slot s : active) s.ready.signalAll();
            }
        }

        private void await(long nanos) {
            try {
                if (nanos == Long.MAX_VALUE) ready.await();
                else ready.awaitNanos(nanos);
            } catch (InterruptedException e) {
                interrupted = true; // an interrupted request is a cancelled one
            }
        }

        private void restoreInterrupt() {
            if (interrupted) Thread.currentThread().interrupt();
        }

        /** Leaves: the slot goes to the first request in the queue. */
        @Override
        public void close() {
            lock.lock();
            try {
                if (released) return;
                released = true;
                pending = null;
                ArrayDeque<Slot> waiting = background ? backgroundQueue : queue;
                if (!admitted) {
                    waiting.remove(this);
                    return;
                }
                active.remove(this);
                if (!closed && !waiting.isEmpty()) {
                    Slot next = waiting.poll();
                    next.admitted = true;
                    active.add(next);
                    next.ready.signalAll();
                }
                // the pass that waited for this slot's ask may go
                for (Slot s : active) s.ready.signalAll();
                slotFreed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Tokens for one session, fed over one or more passes (a prompt in slices), and what the last pass gave back.
     */
    private static final class Work {
        final InferenceSession session;
        final int[] tokens;
        final boolean background;
        int next; // tokens[next..] are still to be fed
        int inPass; // tokens[next..next + inPass) are in the pass running now; 0: in none
        boolean done;
        float[] logits;
        RuntimeException error;

        Work(InferenceSession session, int[] tokens, boolean background) {
            this.session = session;
            this.tokens = tokens;
            this.background = background;
        }

        boolean waiting() {
            return !done && inPass == 0;
        }

        /** A decode step (one token after sampling), as opposed to a prompt. */
        boolean decodeRow() {
            return tokens.length == 1;
        }
    }

    private boolean hasWork() {
        boolean streaming = streaming();
        for (Slot s : active) {
            Work w = s.pending;
            if (w != null && w.waiting() && !(w.background && streaming)) return true;
        }
        return false;
    }

    /** Whether an active session decodes (asked for a step, in a pass or sampling its next token). */
    private boolean streaming() {
        for (Slot s : active) if (s.decoding) return true;
        return false;
    }

    private boolean everyActiveAsked() {
        for (Slot s : active) if (s.pending == null || !s.pending.waiting()) return false;
        return true;
    }

    /**
     * Every decode row, then slices of prompts up to the pass's prompt budget: {@link Scheduling#decodingPrefill()}
     * tokens while a session decodes (in this pass, or sampling its next token), else {@link
     * Scheduling#prefillChunk()}; requests' prompts in admission order, then background ones while none decodes.
     */
    private List<Work> take() {
        List<Work> batch = new ArrayList<>();
        List<Work> prompts = new ArrayList<>();
        List<Work> background = new ArrayList<>();
        boolean streaming = streaming();
        for (Slot s : active) {
            Work w = s.pending;
            if (w == null || !w.waiting()) continue;
            if (w.decodeRow()) {
                w.inPass = 1;
                batch.add(w);
            } else {
                (w.background ? background : prompts).add(w);
            }
        }
        int budget = streaming ? settings.decodingPrefill() : settings.prefillChunk();
        if (!streaming) prompts.addAll(background);
        for (Work w : prompts) {
            if (budget == 0) break;
            w.inPass = Math.min(budget, w.tokens.length - w.next);
            budget -= w.inPass;
            batch.add(w);
        }
        return batch;
    }

    private void execute(List<Work> batch) {
        List<InferenceSession> sessions = new ArrayList<>(batch.size());
        List<int[]> tokens = new ArrayList<>(batch.size());
        for (Work w : batch) {
            sessions.add(w.session);
            tokens.add(
                    w.next == 0 && w.inPass == w.tokens.length
                            ? w.tokens
                            : Arrays.copyOfRange(w.tokens, w.next, w.next + w.inPass));
        }
        try {
            float[][] logits;
            engineLock.lock();
            try {
                logits = engine.advance(sessions, tokens);
            } finally {
                engineLock.unlock();
            }
            for (int i = 0; i < batch.size(); i++) batch.get(i).logits = logits[i];
        } catch (RuntimeException | Error e) {
            if (batch.size() == 1) {
                batch.get(0).error = e instanceof RuntimeException r ? r : new IllegalStateException(e);
            } else {
                // the engine checks every row before it moves any session: alone, only the culprit fails
                for (Work w : batch) execute(List.of(w));
            }
        }
    }

    /**
     * Stops admitting; queued requests and requests between passes fail ("the model was closed"), the pass in
     * flight finishes, and this waits (at most {@code timeout}) for the requests to leave.
     */
    void close(long timeout, TimeUnit unit) {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            for (Slot s : queue) s.ready.signalAll();
            for (Slot s : backgroundQueue) s.ready.signalAll();
            for (Slot s : active) s.ready.signalAll();
            long wait = unit.toNanos(timeout);
            while ((!active.isEmpty() || !queue.isEmpty() || !backgroundQueue.isEmpty()) && wait > 0) {
                try {
                    wait = slotFreed.awaitNanos(wait);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        close(10, TimeUnit.SECONDS);
    }
}
