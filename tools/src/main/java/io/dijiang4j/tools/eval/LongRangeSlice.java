package io.dijiang4j.tools.eval;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The long-range slice of eval: the predicted positions whose next token appeared earlier in the sequence, but only
 * where no exact part of the plan can hold it. With {@code sinks} S and {@code span} E (the widest sinks + window +
 * exact cache over the plan's layers), position t (its logits predict token t+1) is in the slice when
 *
 * <ul>
 *   <li>token[t+1] occurs at some position j <= t - E (more than E positions before t+1), and
 *   <li>it occurs nowhere in the last E positions, t - E < j <= t, nor among the sinks, j < S.
 * </ul>
 *
 * Only a memory of evicted tokens can recall such a token; a hybrid that relies on its window alone cannot, so its
 * KL there is no better than the window-only variant's. Positions count from the start of the sequence (eval's
 * window of the softmax limit), as for the beyond-window metrics.
 *
 * @param sinks S: leading positions always exact (the largest sinks over the layers)
 * @param span E: sinks + window + exact cache, the largest over the layers (0 for pure dijiang)
 */
public record LongRangeSlice(int sinks, int span) {
    public LongRangeSlice {
        if (sinks < 0 || span < 0) {
            throw new IllegalArgumentException(
                    "long-range slice needs sinks >= 0 and span >= 0, got " + sinks + ", " + span);
        }
    }

    /**
     * Which predicted positions of {@code tokens} are in the slice: entry t for t = 0 .. length - 2 (the logits at t
     * predict token t+1); an empty array for fewer than 2 tokens.
     */
    public boolean[] select(int[] tokens) {
        if (tokens.length < 2) return new boolean[0];
        boolean[] in = new boolean[tokens.length - 1];
        Map<Integer, Integer> last = new HashMap<>(); // token -> its latest position <= t
        Set<Integer> inSinks = new HashSet<>(); // tokens at a position < sinks
        for (int t = 0; t + 1 < tokens.length; t++) {
            last.put(tokens[t], t);
            if (t < sinks) inSinks.add(tokens[t]);
            int next = tokens[t + 1];
            Integer j = last.get(next);
            // the latest occurrence is the nearest one: it must be more than span positions back, and no
            // occurrence may sit among the sinks
            in[t] = j != null && j <= t - span && !inSinks.contains(next);
        }
        return in;
    }
}
