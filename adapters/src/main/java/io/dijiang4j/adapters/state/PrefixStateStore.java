package io.dijiang4j.adapters.state;

import java.util.Optional;

/**
 * Where the runtime keeps the session states at the ends of earlier turns (prefix reuse, docs/DESIGN.md §5): a
 * request whose tokens start with a saved sequence restores that state and prefills only the rest. A state belongs to
 * a scope (the model and profile it was computed on, {@code InferenceEngine#stateScope()}) and to the exact token
 * sequence it consumed; a store answers only for the same scope and a token prefix that matches exactly.
 *
 * <p>A store may be shared by several runtimes and processes ({@link RedisPrefixStateStore}); implementations are
 * thread-safe. Failures (a store that is down, a state that fails its checksum) surface as {@link
 * StateStoreException}: the runtime then prefills the whole prompt, never answers from a doubtful state.
 */
public interface PrefixStateStore extends AutoCloseable {

    /**
     * The saved state of the longest token sequence of {@code scope} that is a proper prefix of {@code prompt} (at
     * least one prompt token must remain to give the next-token logits), or empty.
     *
     * @throws StateStoreException when the store cannot be read or a candidate state is damaged
     */
    Optional<SavedState> longestPrefix(String scope, int[] prompt);

    /**
     * Saves the state after consuming {@code tokens}, replacing one saved for the same tokens. A store may decline
     * (a state over its size limit, a sequence too short to index) without an error.
     *
     * @throws StateStoreException when the store cannot be written
     */
    void save(String scope, int[] tokens, byte[] state);

    /** Bytes of saved states this process holds (0 for a store whose states live elsewhere). */
    long bytes();

    /** Forgets every saved state of this store (a shared store: only those this store's namespace holds). */
    void clear();

    @Override
    default void close() {}

    /** A state found for a prompt: the number of prompt tokens it covers and its bytes. */
    record SavedState(int tokens, byte[] state) {}
}
