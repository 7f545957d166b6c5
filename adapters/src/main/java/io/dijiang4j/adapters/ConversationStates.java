package io.dijiang4j.adapters;

import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.adapters.engine.InferenceSession;
import io.dijiang4j.adapters.state.PrefixStateStore;
import io.dijiang4j.adapters.state.StateStoreException;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The runtime's seam to its {@link PrefixStateStore}: opens a request's session from the longest saved prefix of its
 * prompt and saves the states at the ends of turns. Whatever goes wrong with the store (down, slow past its
 * timeout, a damaged state, a state the engine refuses) costs a re-prefill and one log line, never the request: after
 * a store failure the store is left alone for {@link #BACKOFF_NANOS}, so that an outage neither fills the log nor
 * adds a timeout to every request.
 *
 * <p>Engine calls go through the caller's {@code engineCall} (the runtime's engine lock); the store is asked outside
 * it, so that a slow store never holds up the forward passes of the other sessions.
 */
final class ConversationStates {
    static final long BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final System.Logger LOG = System.getLogger(ConversationStates.class.getName());

    /** A session positioned after {@code reusedTokens} prompt tokens (0: a fresh session). */
    record Opened(InferenceSession session, int reusedTokens) {}

    private final PrefixStateStore store;
    private final InferenceEngine engine;
    private final String scope;
    private volatile long retryAtNanos;
    private volatile boolean backingOff;

    ConversationStates(PrefixStateStore store, InferenceEngine engine) {
        this.store = store;
        this.engine = engine;
        this.scope = engine.stateScope();
    }

    PrefixStateStore store() {
        return store;
    }

    /** The session to prefill {@code prompt} in; engine calls run through {@code engineCall}. */
    Opened open(int[] prompt, Function<Supplier<InferenceSession>, InferenceSession> engineCall) {
        if (available()) {
            try {
                Optional<PrefixStateStore.SavedState> saved = store.longestPrefix(scope, prompt);
                if (saved.isPresent()) return restore(saved.get(), engineCall);
            } catch (StateStoreException e) {
                failed(e);
            } catch (RuntimeException e) {
                failed(new StateStoreException("state store failed: " + e, e));
            }
        }
        return new Opened(engineCall.apply(engine::openSession), 0);
    }

    /**
     * As {@link #open}, for a session that is to consume exactly {@code tokens} (nothing after them): a state saved for
     * all of them counts too, and then nothing remains to prefill.
     */
    Opened openAt(int[] tokens, Function<Supplier<InferenceSession>, InferenceSession> engineCall) {
        // a store answers proper prefixes only (a prompt keeps a token for its logits): with one token more, the whole
        // sequence is one, and nothing longer than it can match (the store answers only sequences shorter than this)
        return open(Arrays.copyOf(tokens, tokens.length + 1), engineCall);
    }

    private Opened restore(
            PrefixStateStore.SavedState saved, Function<Supplier<InferenceSession>, InferenceSession> engineCall) {
        InferenceSession session = null;
        try {
            session = engineCall.apply(() -> engine.restoreSession(saved.state()));
            if (session.position() != saved.tokens()) {
                throw new IllegalArgumentException(
                        "it is at position " + session.position() + ", not after its " + saved.tokens() + " tokens");
            }
            return new Opened(session, saved.tokens());
        } catch (RuntimeException e) {
            if (session != null) {
                InferenceSession refused = session;
                engineCall.apply(() -> {
                    refused.close();
                    return null;
                });
            }
            LOG.log(
                    System.Logger.Level.WARNING,
                    "a saved state of " + saved.tokens() + " tokens was refused (" + e.getMessage()
                            + "); prefilling the whole prompt");
            return new Opened(engineCall.apply(engine::openSession), 0);
        }
    }

    /** Saves {@code snapshot}, the state of a session that has consumed exactly {@code tokens}. */
    void remember(int[] tokens, InferenceSession.Snapshot snapshot) {
        if (!available()) return;
        try {
            store.save(scope, tokens, snapshot.bytes());
        } catch (StateStoreException e) {
            failed(e);
        } catch (RuntimeException e) {
            failed(new StateStoreException("state store failed: " + e, e));
        }
    }

    private boolean available() {
        if (!backingOff) return true;
        if (System.nanoTime() - retryAtNanos < 0) return false;
        backingOff = false;
        return true;
    }

    private void failed(StateStoreException e) {
        retryAtNanos = System.nanoTime() + BACKOFF_NANOS;
        backingOff = true;
        LOG.log(
                System.Logger.Level.WARNING,
                e.getMessage() + "; prefilling without saved states, store retried in "
                        + TimeUnit.NANOSECONDS.toSeconds(BACKOFF_NANOS) + " s");
    }
}
