package io.dijiang4j.adapters.state;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.Iterator;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * The default store: states in this process's memory, most recently used first, bounded by a number of entries and
 * by their bytes (the least recently used go first), optionally expiring. Keys are the exact token sequences, so a
 * lookup compares tokens, not hashes.
 */
public final class LocalPrefixStateStore implements PrefixStateStore {
    private record Entry(String scope, int[] tokens, byte[] state, long savedNanos) {}

    private final int maxEntries;
    private final long maxBytes;
    private final long ttlNanos;
    private final LongSupplier clock;
    private final Deque<Entry> entries = new ArrayDeque<>();
    private long bytes;

    /** @param maxEntries saved states at most (0: none are kept) */
    public LocalPrefixStateStore(int maxEntries) {
        this(maxEntries, Long.MAX_VALUE, null);
    }

    /**
     * @param maxEntries saved states at most (0: none are kept)
     * @param maxBytes bytes of states at most; a single state larger than this is not kept
     * @param ttl how long a state stays usable after it was saved; null: until evicted
     */
    public LocalPrefixStateStore(int maxEntries, long maxBytes, Duration ttl) {
        this(maxEntries, maxBytes, ttl, System::nanoTime);
    }

    LocalPrefixStateStore(int maxEntries, long maxBytes, Duration ttl, LongSupplier clock) {
        if (maxEntries < 0) throw new IllegalArgumentException("state store entries must be >= 0, got " + maxEntries);
        if (maxBytes < 0) throw new IllegalArgumentException("state store bytes must be >= 0, got " + maxBytes);
        if (ttl != null && (ttl.isNegative() || ttl.isZero())) {
            throw new IllegalArgumentException("state TTL must be positive, got " + ttl);
        }
        this.maxEntries = maxEntries;
        this.maxBytes = maxBytes;
        this.ttlNanos = ttl == null ? Long.MAX_VALUE : ttl.toNanos();
        this.clock = clock;
    }

    @Override
    public synchronized Optional<SavedState> longestPrefix(String scope, int[] prompt) {
        dropExpired();
        Entry best = null;
        for (Entry e : entries) {
            int length = e.tokens.length;
            if (length < prompt.length
                    && (best == null || length > best.tokens.length)
                    && e.scope.equals(scope)
                    && Arrays.equals(e.tokens, 0, length, prompt, 0, length)) {
                best = e;
            }
        }
        if (best == null) return Optional.empty();
        entries.remove(best);
        entries.addFirst(best);
        return Optional.of(new SavedState(best.tokens.length, best.state));
    }

    @Override
    public synchronized void save(String scope, int[] tokens, byte[] state) {
        if (maxEntries == 0 || state.length > maxBytes) return;
        for (Iterator<Entry> it = entries.iterator(); it.hasNext(); ) {
            Entry e = it.next();
            if (e.scope.equals(scope) && Arrays.equals(e.tokens, tokens)) {
                it.remove();
                bytes -= e.state.length;
            }
        }
        entries.addFirst(new Entry(scope, tokens.clone(), state, clock.getAsLong()));
        bytes += state.length;
        while (entries.size() > maxEntries || bytes > maxBytes) {
            bytes -= entries.removeLast().state.length;
        }
    }

    private void dropExpired() {
        if (ttlNanos == Long.MAX_VALUE) return;
        long now = clock.getAsLong();
        entries.removeIf(e -> {
            boolean expired = now - e.savedNanos > ttlNanos;
            if (expired) bytes -= e.state.length;
            return expired;
        });
    }

    @Override
    public synchronized long bytes() {
        return bytes;
    }

    public synchronized int size() {
        return entries.size();
    }

    @Override
    public synchronized void clear() {
        entries.clear();
        bytes = 0;
    }
}
