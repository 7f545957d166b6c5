package io.dijiang4j.attention.ops.hybrid;

import io.dijiang4j.attention.simd.Vec;
import io.dijiang4j.attention.simd.VectorOps;
import java.util.Arrays;

/**
 * The recurrent (decode) form of the hybrid layer for one KV head and one token n: exact softmax over the sinks
 * {@code j < s0}, the window {@code max(s0, n-w+1) <= j <= n} and the exact cache, the kernelized memory of the
 * evicted tokens, one normalizer with the maximum taken across both parts:
 *
 * <pre>
 *   c   = max(max_E tau q.k_j, max_l log phi_l(q) + offset_l + log g_h)
 *   num = sum_E exp(tau q.k_j - c) v_j + g_h exp(-c) phi(q)^T S,   den likewise,   o = num / den
 * </pre>
 *
 * The memory is an {@link EvictedMemory}: the linear ops' recurrent form over a kernel memory ({@link
 * FeatureMemory}) or the online centroid memory ({@link OnlineCentroidMemory}).
 * With an exact cache every decision depends on earlier queries, so the backend runs this form token by token. Holds
 * scratch only (one per state is enough: decode visits the heads in turn); allocates nothing per token.
 */
public final class FusedRecurrentHybridAttention {
    private final int d;
    private final int sinks;
    private final int window;
    private final float scale;
    private final float[] weights; // exact logits, then their weights: sinks, window, cache
    private final float[] exactRow; // the exact part of one query's numerator, in float (each weight <= 1)
    private final double[] numerator;
    private final float[] keyRow; // the key leaving the window

    public FusedRecurrentHybridAttention(int headDim, double scale, int sinks, int window, int cacheSize) {
        this.d = headDim;
        this.sinks = sinks;
        this.window = window;
        this.scale = (float) scale;
        weights = new float[sinks + window + 1 + cacheSize];
        exactRow = new float[headDim];
        numerator = new double[headDim];
        keyRow = new float[headDim];
    }

    /** First window position of query n (positions before are sinks or have left the window). */
    public long windowStart(long n) {
        return Math.max(sinks, n - window + 1);
    }

    /** Sinks and window positions query n sees exactly (the cache aside). */
    public int exactCount(long n) {
        return (int) (Math.min(sinks, n + 1) + Math.max(0, n + 1 - windowStart(n)));
    }

    /** Folds the token at {@code pos} (it left the window) into the memory, decaying it first. */
    public void fold(EvictedMemory memory, ExactTokens tokens, long pos) {
        tokens.copyKey(pos, keyRow, 0, 1);
        memory.fold(keyRow, 0, tokens.values(pos), tokens.valueOffset(pos));
    }

    /**
     * The output of the query at {@code q[qOff..]} (position n) into {@code out[qOff..]}; {@code cache} may be null.
     * Returns 1/den; {@link #weights()} then holds the unnormalized weights of the exact set (sinks, window, cache), so
     * {@code weights[j] * 1/den} is token j's probability.
     */
    public double attend(
            EvictedMemory memory,
            ExactTokens tokens,
            ExactCache cache,
            long n,
            float[] q,
            int qOff,
            double logGain,
            float[] out) {
        double memoryMax = memory.loadQuery(q, qOff, logGain);
        long sinkEnd = Math.min(sinks, n + 1), first = windowStart(n);
        float exactMax = tokens.logits(0, sinkEnd, q, qOff, scale, weights, 0);
        exactMax = Math.max(exactMax, tokens.logits(first, n + 1, q, qOff, scale, weights, (int) sinkEnd));
        int count = exactCount(n), cached = cache == null ? 0 : cache.count;
        for (int e = 0; e < cached; e++) { // then the cache
            float l = scale * VectorOps.dot(q, qOff, cache.keys, e * d, d);
            weights[count + e] = l;
            exactMax = Math.max(exactMax, l);
        }
        int total = count + cached;
        double c = Math.max(memoryMax, exactMax);
        Vec.expShifted(weights, 0, (float) -c, weights, 0, total);
        Arrays.fill(exactRow, 0f);
        tokens.addValues(0, sinkEnd, weights, 0, exactRow, d);
        tokens.addValues(first, n + 1, weights, (int) sinkEnd, exactRow, d);
        if (cached > 0) VectorOps.addWeightedRows(weights, count, cache.values, 0, d, cached, exactRow, 0, d);
        double den = Vec.sum(weights, 0, total);
        double[] num = numerator;
        for (int i = 0; i < d; i++) num[i] = exactRow[i];
        if (memoryMax > Double.NEGATIVE_INFINITY) den += memory.accumulate(c, logGain, num);
        double inv = 1.0 / Math.max(den, Double.MIN_NORMAL);
        for (int i = 0; i < d; i++) out[qOff + i] = (float) (num[i] * inv);
        return inv;
    }

    /** The exact set's weights of the last {@link #attend} (sinks, window, cache). */
    public float[] weights() {
        return weights;
    }

    /**
     * Heavy hitters, after {@link #attend} returned {@code inv} for query n: every non-sink exact token's normalized
     * probability adds to its priority.
     */
    public void accumulatePriorities(ExactCache cache, long n, double inv) {
        int j = (int) Math.min(sinks, n + 1), count = exactCount(n);
        for (long pos = windowStart(n); pos <= n; pos++)
            cache.windowPriorities[cache.windowSlot(pos)] += weights[j++] * inv;
        for (int e = 0; e < cache.count; e++) cache.priorities[e] += weights[count + e] * inv;
    }

    /** Heavy hitters: token n takes the window slot of the token that just left, its attention starts at 0. */
    public void enterWindow(ExactCache cache, long n) {
        if (window > 0 && n >= sinks) cache.windowPriorities[cache.windowSlot(n)] = 0;
    }

    /**
     * Token {@code leaving} has left the window: it enters the cache, or competes with the entry of lowest priority
     * (ties: the older); the loser of the two (ties: the entry) is folded into the memory. Its priority is the
     * attention it accumulated (heavy hitters) or the memory's recall error of it (self-recall).
     */
    public void admit(EvictedMemory memory, ExactTokens tokens, ExactCache cache, long leaving, boolean heavyHitter) {
        float[] key = keyRow;
        tokens.copyKey(leaving, key, 0, 1);
        float[] value = tokens.values(leaving);
        int valueOff = tokens.valueOffset(leaving);
        double priority;
        if (heavyHitter) {
            priority = window > 0 ? cache.windowPriorities[cache.windowSlot(leaving)] : 0;
        } else {
            priority = recallError(memory, key, value, valueOff);
        }
        int count = cache.count;
        long[] positions = cache.positions;
        double[] priorities = cache.priorities;
        int slot;
        if (count < positions.length) {
            slot = count;
            cache.count = count + 1;
        } else {
            slot = 0;
            for (int e = 1; e < count; e++) {
                if (priorities[e] < priorities[slot]
                        || (priorities[e] == priorities[slot] && positions[e] < positions[slot])) {
                    slot = e;
                }
            }
            if (priority < priorities[slot]) { // the candidate is the newest: on a tie the entry goes
                memory.fold(key, 0, value, valueOff);
                return;
            }
            memory.fold(cache.keys, slot * d, cache.values, slot * d);
        }
        System.arraycopy(key, 0, cache.keys, slot * d, d);
        System.arraycopy(value, valueOff, cache.values, slot * d, d);
        positions[slot] = leaving;
        priorities[slot] = priority;
    }

    /** |v - m(k)|^2 of the memory queried with the token's own key through the query-side map; |v|^2 if empty. */
    private double recallError(EvictedMemory memory, float[] key, float[] value, int valueOff) {
        double max = memory.loadQuery(key, 0, 0);
        double[] recalled = numerator;
        Arrays.fill(recalled, 0);
        double den = max > Double.NEGATIVE_INFINITY ? memory.accumulate(max, 0, recalled) : 0;
        double error = 0;
        for (int i = 0; i < d; i++) {
            double diff = value[valueOff + i] - (den > 0 ? recalled[i] / den : 0);
            error += diff * diff;
        }
        return error;
    }
}
