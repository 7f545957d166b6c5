package io.dijiang4j.adapters;

import io.dijiang4j.adapters.engine.InferenceSession;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.Iterator;

/**
 * Session states saved at the ends of earlier turns, keyed by the exact tokens they consumed. A new prompt that starts
 * with those tokens restores the state and prefills only the rest (prefix reuse). Most recently used first; the
 * oldest checkpoints are dropped beyond the capacity. Not thread-safe: the runtime guards it.
 */
final class ConversationCache {
    record Checkpoint(int[] tokens, InferenceSession.Snapshot snapshot) {}

    private final int capacity;
    private final Deque<Checkpoint> checkpoints = new ArrayDeque<>();

    ConversationCache(int capacity) {
        if (capacity < 0) {
            throw new IllegalArgumentException("conversation cache capacity must be >= 0, got " + capacity);
        }
        this.capacity = capacity;
    }

    /**
     * The longest checkpoint whose tokens are a proper prefix of the prompt (at least one prompt token must remain to
     * produce the next-token logits), or null.
     */
    Checkpoint longestPrefixOf(int[] prompt) {
        Checkpoint best = null;
        for (Checkpoint checkpoint : checkpoints) {
            int length = checkpoint.tokens.length;
            if (length < prompt.length
                    && (best == null || length > best.tokens.length)
                    && Arrays.equals(checkpoint.tokens, 0, length, prompt, 0, length)) {
                best = checkpoint;
            }
        }
        if (best != null) {
            checkpoints.remove(best);
            checkpoints.addFirst(best);
        }
        return best;
    }

    void remember(int[] tokens, InferenceSession.Snapshot snapshot) {
        if (capacity == 0) {
            return;
        }
        for (Iterator<Checkpoint> it = checkpoints.iterator(); it.hasNext(); ) {
            if (Arrays.equals(it.next().tokens, tokens)) {
                it.remove();
            }
        }
        checkpoints.addFirst(new Checkpoint(tokens.clone(), snapshot));
        while (checkpoints.size() > capacity) {
            checkpoints.removeLast();
        }
    }

    long bytes() {
        long total = 0;
        for (Checkpoint checkpoint : checkpoints) {
            total += checkpoint.snapshot.sizeInBytes();
        }
        return total;
    }

    int size() {
        return checkpoints.size();
    }

    void clear() {
        checkpoints.clear();
    }
}
