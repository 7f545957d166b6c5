package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.attention.ops.linear.ChunkLinearAttention;
import io.dijiang4j.attention.ops.linear.FusedRecurrentLinearAttention;
import io.dijiang4j.attention.ops.linear.KernelMemory;
import io.dijiang4j.attention.simd.Vec;
import io.dijiang4j.attention.simd.VectorOps;
import java.util.Arrays;

/**
 * The hybrid layer of MATH.md section 3 on the CPU: exact softmax over the first {@code sinks} tokens and the last
 * {@code window} tokens, a kernelized memory of the evicted middle (token j enters it at step j + window, decays by
 * lambda every step after), one normalizer with the maximum taken across both parts:
 *
 * <pre>
 *   c   = max(max_E tau q.k_j, max_l log phi_l(q) + offset_l + log g_h)
 *   num = sum_E exp(tau q.k_j - c) v_j + g_h exp(-c) phi(q)^T S,   den likewise,   o = num / den
 * </pre>
 *
 * Chunked form: the memory part is the linear kernel's Lightning block with keys shifted by {@code window} (query
 * row i sees evicted rows j <= i, decay lambda^(i-j)); the exact part reads the sinks, the ring buffer and the
 * call's own tokens in place. One token runs the recurrent form. Each KV head's memory uses that head's feature map
 * ({@link AttentionSpec#featureMapOf}).
 *
 * <p>Exact cache ({@code spec.exactCache() = C > 0}; the same semantics as {@link
 * io.dijiang4j.attention.ops.hybrid.NaiveHybridAttention}, which states them from the definition):
 *
 * <ul>
 *   <li>Per KV head the cache holds at most C tokens (positions >= sinks) that have left the window.
 *   <li>Token j leaves the window when query n = j + window is processed, before that query is answered. If j >=
 *       sinks it is a cache candidate instead of entering the memory: while the cache holds fewer than C tokens it
 *       is inserted; otherwise it competes with the cache entry of lowest priority (ties: the older position): the
 *       one of lower priority (ties: the older position, i.e. the entry) is folded into the memory (S += phi(k)
 *       v^T, z += phi(k)), the other stays.
 *   <li>Exact set of query n: sinks, cache, window; one normalizer with the memory term as above.
 *   <li>{@link ExactCachePolicy#HEAVY_HITTER}: the priority is the attention the token accumulated, the sum over the
 *       query heads of its KV group and over every query that had it in its exact set (window or cache) of its
 *       normalized probability (the normalizer includes the memory term).
 *   <li>{@link ExactCachePolicy#SELF_RECALL}: the priority is fixed when the token leaves the window: the memory's
 *       recall error |v_j - m(k_j)|^2, m(k) = sum_l phi_l(k) S_l / sum_l phi_l(k) z_l with the query-side map on
 *       sqrt(tau) k_j, the memory as it is before this step's fold; |v_j|^2 while the memory is empty.
 *   <li>No decay: a token folded late would need the weight lambda^(n-w-j) it would have had; the spec is
 *       rejected instead (MATH.md section 6: decay changed nothing measurable).
 *   <li>Every decision depends on earlier queries, so a call of several tokens runs the recurrent form token by
 *       token; C = 0 runs the chunked form unchanged.
 * </ul>
 */
public final class CpuHybridKernel implements AttentionKernel {
    private final AttentionShape shape;
    private final AttentionSpec spec;
    private final StateLayout layout;
    private final float scale;
    private final double[] logGains;
    private final boolean heavyHitter;

    public CpuHybridKernel(AttentionShape shape, AttentionSpec spec) {
        if (spec.method() != AttentionSpec.Method.HYBRID) {
            throw new IllegalArgumentException("CpuHybridKernel runs HYBRID specs, got " + spec.method());
        }
        if (!spec.causal()) {
            throw new IllegalArgumentException("the hybrid layer is causal only (its window is the recent past)");
        }
        CpuKernels.checkMap(shape, spec);
        this.shape = shape;
        this.spec = spec;
        this.layout = StateLayout.of(shape, spec);
        this.scale = (float) spec.scale();
        this.logGains = new double[shape.numHeads()];
        for (int h = 0; h < logGains.length; h++) {
            double g = spec.memoryGainOf(h);
            if (!(g >= 0) || Double.isInfinite(g)) {
                throw new IllegalArgumentException("memory gain of head " + h + " must be finite and >= 0: " + g);
            }
            logGains[h] = Math.log(g); // -infinity switches the memory off
        }
        if (spec.sinks() + spec.window() == 0) {
            throw new IllegalArgumentException("a hybrid layer needs sinks + window >= 1 (else use LINEAR)");
        }
        if (spec.exactCache() > 0 && spec.decay() != null) {
            throw new IllegalArgumentException("an exact cache needs decay == null: a token folded into the memory"
                    + " after its time in the cache would need the decay it missed (use decay 1 or no cache)");
        }
        this.heavyHitter = spec.cachePolicy() == ExactCachePolicy.HEAVY_HITTER;
    }

    @Override
    public AttentionShape shape() {
        return shape;
    }

    @Override
    public AttentionSpec spec() {
        return spec;
    }

    @Override
    public CpuState newState() {
        return new CpuState(shape, spec, layout);
    }

    @Override
    public CpuState restore(byte[] bytes) {
        return CpuState.fromBytes(shape, spec, layout, bytes);
    }

    @Override
    public void forward(AttentionState state, float[] q, float[] k, float[] v, float[] out, int length) {
        CpuState s = CpuKernels.ownState(state, shape, spec);
        Inputs.check(shape, q, k, v, out, length);
        if (length == 0) return;
        if (spec.exactCache() > 0) {
            cachedForward(s, q, k, v, out, length);
            return;
        }
        Tokens tokens = s.tokens(k, v);
        if (length == 1) { // decode: no thread hand-off, no allocation
            for (int m = 0; m < layout.numMemories(); m++) recurrent(s, tokens, m, q, out);
        } else {
            CpuKernels.forEachMemory(layout, length, m -> chunked(s, tokens, m, q, out, length));
        }
        storeTokens(s, k, v, length);
        s.position += length;
    }

    private void recurrent(CpuState s, Tokens tokens, int memory, float[] q, float[] out) {
        int d = shape.headDim(), kvh = layout.kvHeadOf(memory);
        long n = s.position;
        FusedRecurrentLinearAttention rec = s.stepper(memory);
        KernelMemory mem = s.memories[memory];
        long evicted = n - spec.window();
        if (evicted >= spec.sinks()) {
            tokens.copyKey(evicted, kvh, s.keyRow, 0, 1);
            rec.addKey(mem, s.keyRow, 0, tokens.values(evicted, kvh), tokens.offset(evicted, kvh));
        }
        int h0 = layout.firstQueryHead(memory);
        for (int h = h0; h < h0 + layout.queryHeadCount(); h++) {
            int qOff = h * d;
            double memoryMax = rec.loadQuery(mem, q, qOff, logGains[h]);
            float exactMax = exactLogits(s, tokens, n, kvh, q, qOff);
            double c = Math.max(memoryMax, exactMax);
            int count = exactCount(n);
            Vec.expShifted(s.logits, 0, (float) -c, s.logits, 0, count);
            float[] exact = s.exactRow; // the exact part in float (at most sinks + window terms <= 1 each)
            Arrays.fill(exact, 0f);
            int j = 0;
            long sinkEnd = Math.min(spec.sinks(), n + 1);
            for (long pos = 0; pos < sinkEnd; pos++) addExact(tokens, pos, kvh, s.logits[j++], exact);
            for (long pos = windowStart(n); pos <= n; pos++) addExact(tokens, pos, kvh, s.logits[j++], exact);
            double den = Vec.sum(s.logits, 0, count);
            double[] num = s.numerator;
            for (int i = 0; i < d; i++) num[i] = exact[i];
            if (memoryMax > Double.NEGATIVE_INFINITY) den += rec.accumulate(mem, c, logGains[h], num);
            double inv = 1.0 / Math.max(den, Double.MIN_NORMAL);
            for (int i = 0; i < d; i++) out[qOff + i] = (float) (num[i] * inv);
        }
    }

    private void addExact(Tokens tokens, long pos, int kvh, float weight, float[] row) {
        VectorOps.axpy(weight, tokens.values(pos, kvh), tokens.offset(pos, kvh), row, 0, row.length);
    }

    private int exactCount(long n) {
        return (int) (Math.min(spec.sinks(), n + 1) + Math.max(0, n + 1 - windowStart(n)));
    }

    private long windowStart(long n) {
        return Math.max(spec.sinks(), n - spec.window() + 1);
    }

    /**
     * tau q.k_j of the exact set of decode position n (sinks, then the window, oldest first) into s.logits; returns
     * their maximum. The ring part is one matrix-vector product over the transposed window keys.
     */
    private float exactLogits(CpuState s, Tokens tokens, long n, int kvh, float[] q, int qOff) {
        int d = shape.headDim(), window = spec.window();
        float[] logits = s.logits;
        int count = 0;
        float max = Float.NEGATIVE_INFINITY;
        long sinkEnd = Math.min(spec.sinks(), n + 1);
        for (long pos = 0; pos < sinkEnd; pos++) {
            float l = scale * VectorOps.dot(q, qOff, tokens.rowKeys(pos, kvh), tokens.offset(pos, kvh), d);
            logits[count++] = l;
            max = Math.max(max, l);
        }
        long first = windowStart(n);
        if (first < n) { // window positions before this token live in the ring
            float[] ring = s.windowKeys[kvh], all = s.windowLogits;
            Arrays.fill(all, 0f);
            for (int i = 0; i < d; i++) VectorOps.axpy(q[qOff + i], ring, i * window, all, 0, window);
            for (long pos = first; pos < n; pos++) {
                float l = scale * all[tokens.slot(pos)];
                logits[count++] = l;
                max = Math.max(max, l);
            }
        }
        if (n >= first) { // the token itself, from the call's input (a sink when n < sinks: counted above)
            float l = scale * VectorOps.dot(q, qOff, tokens.rowKeys(n, kvh), tokens.offset(n, kvh), d);
            logits[count++] = l;
            max = Math.max(max, l);
        }
        return max;
    }

    private void chunked(CpuState s, Tokens tokens, int memory, float[] q, float[] out, int length) {
        int d = shape.headDim(), kvh = layout.kvHeadOf(memory), qw = shape.queryWidth();
        int sinks = spec.sinks(), window = spec.window();
        Workspace w = Workspace.forThread(shape, spec);
        ChunkLinearAttention block = w.block(spec.featureMapOf(kvh), spec.decayOf(layout.decayHead(memory)));
        KernelMemory mem = s.memories[memory];
        int b = block.capacity();
        float[] evictedKeys = w.evictedKeys, evictedValues = w.evictedValues;
        float[] keysT = w.exactKeysT, values = w.exactValues, queries = w.exactQueries, scores = w.exactScores;
        int h0 = layout.firstQueryHead(memory);
        for (int t0 = 0; t0 < length; t0 += b) {
            int rows = Math.min(b, length - t0);
            long first = tokens.start + t0; // absolute position of the block's first query
            // memory part: the tokens leaving the window at these rows (a Lightning block shifted by the window)
            long firstEvicted = first - window;
            int firstValid = (int) Math.max(0, Math.min(rows, sinks - firstEvicted));
            Arrays.fill(evictedKeys, 0, firstValid * d, 0f);
            Arrays.fill(evictedValues, 0, firstValid * d, 0f);
            for (int j = firstValid; j < rows; j++) {
                long pos = firstEvicted + j;
                int off = tokens.offset(pos, kvh);
                tokens.copyKey(pos, kvh, evictedKeys, j * d, 1);
                System.arraycopy(tokens.values(pos, kvh), off, evictedValues, j * d, d);
            }
            block.loadKeys(evictedKeys, 0, d, evictedValues, 0, d, rows, firstValid);
            block.loadState(mem);
            // exact part: the sinks and the band of window positions the block's rows see, as columns
            int sinkCols = (int) Math.min(sinks, first + rows);
            long windowFirst = Math.max(sinks, first - window + 1);
            int windowCols = (int) Math.max(0, first + rows - windowFirst);
            int cols = sinkCols + windowCols;
            for (int c = 0; c < cols; c++) {
                long pos = c < sinkCols ? c : windowFirst + (c - sinkCols);
                tokens.copyKey(pos, kvh, keysT, c, cols);
                System.arraycopy(tokens.values(pos, kvh), tokens.offset(pos, kvh), values, c * d, d);
            }
            for (int h = h0; h < h0 + layout.queryHeadCount(); h++) {
                int qBase = t0 * qw + h * d;
                double[] memoryMax = block.loadQueries(q, qBase, qw, rows, logGains[h], true);
                for (int i = 0; i < rows; i++) VectorOps.scaleInto(scale, q, qBase + i * qw, queries, i * d, d);
                Arrays.fill(scores, 0, rows * cols, 0f);
                VectorOps.gemm(queries, 0, d, keysT, 0, cols, scores, 0, cols, rows, d, cols);
                for (int i = 0; i < rows; i++) {
                    long n = first + i;
                    int row = i * cols;
                    int sinkEnd = (int) Math.min(sinkCols, n + 1);
                    int bandFrom = sinkCols + (int) (Math.max(sinks, n - window + 1) - windowFirst);
                    int bandTo = sinkCols + (int) (n - windowFirst) + 1; // exclusive
                    Arrays.fill(scores, row + sinkEnd, row + Math.max(sinkEnd, bandFrom), Float.NEGATIVE_INFINITY);
                    Arrays.fill(scores, row + Math.max(bandTo, sinkEnd), row + cols, Float.NEGATIVE_INFINITY);
                    double c = Math.max(memoryMax[i], Vec.max(scores, row, cols));
                    w.rowMax[i] = c;
                    Vec.expShifted(scores, row, (float) -c, scores, row, cols);
                    w.blockDen[i] = Vec.sum(scores, row, cols);
                }
                Arrays.fill(w.blockOut, 0, rows * d, 0f);
                VectorOps.gemm(scores, 0, cols, values, 0, d, w.blockOut, 0, d, rows, cols, d);
                if (logGains[h] > Double.NEGATIVE_INFINITY) {
                    block.accumulate(w.rowMax, logGains[h], true, w.blockOut, w.blockDen);
                }
                CpuKernels.normalize(w.blockOut, w.blockDen, rows, d, out, qBase, qw);
            }
            block.commitKeys(mem);
        }
    }

    /** With an exact cache: the recurrent form one token at a time (no memory layout other than one per KV head). */
    private void cachedForward(CpuState s, float[] q, float[] k, float[] v, float[] out, int length) {
        if (length == 1) { // decode: no copies, no allocation
            cachedToken(s, q, k, v, out);
            return;
        }
        int qw = shape.queryWidth(), kw = shape.kvWidth();
        for (int t = 0; t < length; t++) {
            System.arraycopy(q, t * qw, s.queryRow, 0, qw);
            System.arraycopy(k, t * kw, s.keyRowIn, 0, kw);
            System.arraycopy(v, t * kw, s.valueRowIn, 0, kw);
            cachedToken(s, s.queryRow, s.keyRowIn, s.valueRowIn, s.outRow);
            System.arraycopy(s.outRow, 0, out, t * qw, qw);
        }
    }

    private void cachedToken(CpuState s, float[] q, float[] k, float[] v, float[] out) {
        Tokens tokens = s.tokens(k, v);
        for (int kvh = 0; kvh < shape.numKvHeads(); kvh++) cachedStep(s, tokens, kvh, q, out);
        storeTokens(s, k, v, 1);
        s.position++;
    }

    /** Query n = s.position of the heads of one KV group (memory kvh: no decay, so one memory per KV head). */
    private void cachedStep(CpuState s, Tokens tokens, int kvh, float[] q, float[] out) {
        int d = shape.headDim();
        long n = s.position;
        FusedRecurrentLinearAttention rec = s.stepper(kvh);
        KernelMemory mem = s.memories[kvh];
        long leaving = n - spec.window();
        if (leaving >= spec.sinks()) admit(s, tokens, kvh, leaving, rec, mem);
        double[] windowPriority = s.windowPriorities[kvh];
        // token n takes the ring slot of the token that just left: its accumulated attention starts at 0
        if (heavyHitter && spec.window() > 0 && n >= spec.sinks()) windowPriority[tokens.slot(n)] = 0;
        int cached = s.cacheCount[kvh];
        float[] cacheKeys = s.cacheKeys[kvh], cacheValues = s.cacheValues[kvh];
        double[] cachePriority = s.cachePriorities[kvh];
        int h0 = kvh * shape.groupSize();
        for (int h = h0; h < h0 + shape.groupSize(); h++) {
            int qOff = h * d;
            double memoryMax = rec.loadQuery(mem, q, qOff, logGains[h]);
            float exactMax = exactLogits(s, tokens, n, kvh, q, qOff); // sinks, then the window
            int count = exactCount(n);
            float[] logits = s.logits;
            for (int e = 0; e < cached; e++) { // then the cache
                float l = scale * VectorOps.dot(q, qOff, cacheKeys, e * d, d);
                logits[count + e] = l;
                exactMax = Math.max(exactMax, l);
            }
            int total = count + cached;
            double c = Math.max(memoryMax, exactMax);
            Vec.expShifted(logits, 0, (float) -c, logits, 0, total);
            float[] exact = s.exactRow;
            Arrays.fill(exact, 0f);
            int j = 0;
            long sinkEnd = Math.min(spec.sinks(), n + 1);
            for (long pos = 0; pos < sinkEnd; pos++) addExact(tokens, pos, kvh, logits[j++], exact);
            long first = windowStart(n);
            for (long pos = first; pos <= n; pos++) addExact(tokens, pos, kvh, logits[j++], exact);
            for (int e = 0; e < cached; e++) VectorOps.axpy(logits[count + e], cacheValues, e * d, exact, 0, d);
            double den = Vec.sum(logits, 0, total);
            double[] num = s.numerator;
            for (int i = 0; i < d; i++) num[i] = exact[i];
            if (memoryMax > Double.NEGATIVE_INFINITY) den += rec.accumulate(mem, c, logGains[h], num);
            double inv = 1.0 / Math.max(den, Double.MIN_NORMAL);
            for (int i = 0; i < d; i++) out[qOff + i] = (float) (num[i] * inv);
            if (heavyHitter) { // the normalized probability of every non-sink exact token
                j = (int) sinkEnd;
                for (long pos = first; pos <= n; pos++) windowPriority[tokens.slot(pos)] += logits[j++] * inv;
                for (int e = 0; e < cached; e++) cachePriority[e] += logits[count + e] * inv;
            }
        }
    }

    /**
     * Token {@code leaving} has left the window: it enters the cache, or competes with the entry of lowest priority
     * (ties: the older); the loser of the two is folded into the memory.
     */
    private void admit(
            CpuState s, Tokens tokens, int kvh, long leaving, FusedRecurrentLinearAttention rec, KernelMemory mem) {
        int d = shape.headDim();
        float[] key = s.keyRow;
        tokens.copyKey(leaving, kvh, key, 0, 1);
        float[] value = tokens.values(leaving, kvh);
        int valueOff = tokens.offset(leaving, kvh);
        double priority;
        if (heavyHitter) {
            priority = spec.window() > 0 ? s.windowPriorities[kvh][tokens.slot(leaving)] : 0;
        } else {
            priority = recallError(s, rec, mem, key, value, valueOff);
        }
        int count = s.cacheCount[kvh];
        long[] positions = s.cachePositions[kvh];
        double[] priorities = s.cachePriorities[kvh];
        float[] cacheKeys = s.cacheKeys[kvh], cacheValues = s.cacheValues[kvh];
        int slot;
        if (count < spec.exactCache()) {
            slot = count;
            s.cacheCount[kvh] = count + 1;
        } else {
            slot = 0;
            for (int e = 1; e < count; e++) {
                if (priorities[e] < priorities[slot]
                        || (priorities[e] == priorities[slot] && positions[e] < positions[slot])) {
                    slot = e;
                }
            }
            if (priority < priorities[slot]) { // the candidate is the newest: on a tie the entry goes
                rec.addKey(mem, key, 0, value, valueOff);
                return;
            }
            rec.addKey(mem, cacheKeys, slot * d, cacheValues, slot * d);
        }
        System.arraycopy(key, 0, cacheKeys, slot * d, d);
        System.arraycopy(value, valueOff, cacheValues, slot * d, d);
        positions[slot] = leaving;
        priorities[slot] = priority;
    }

    /** |v - m(k)|^2 of the memory queried with the token's own key through the query-side map; |v|^2 if empty. */
    private double recallError(
            CpuState s, FusedRecurrentLinearAttention rec, KernelMemory mem, float[] key, float[] value, int valueOff) {
        int d = shape.headDim();
        double max = rec.loadQuery(mem, key, 0, 0);
        double[] recalled = s.numerator;
        Arrays.fill(recalled, 0);
        double den = max > Double.NEGATIVE_INFINITY ? rec.accumulate(mem, max, 0, recalled) : 0;
        double error = 0;
        for (int i = 0; i < d; i++) {
            double diff = value[valueOff + i] - (den > 0 ? recalled[i] / den : 0);
            error += diff * diff;
        }
        return error;
    }

    /** Writes the call's tokens into the sinks and the ring buffer (after every head has read the old ones). */
    private void storeTokens(CpuState s, float[] k, float[] v, int length) {
        int d = shape.headDim(), kw = shape.kvWidth();
        int sinks = spec.sinks(), window = spec.window();
        long start = s.position;
        for (int kvh = 0; kvh < shape.numKvHeads(); kvh++) {
            for (int t = 0; t < length; t++) {
                long pos = start + t;
                int src = t * kw + kvh * d;
                if (pos < sinks) {
                    System.arraycopy(k, src, s.sinkKeys[kvh], (int) pos * d, d);
                    System.arraycopy(v, src, s.sinkValues[kvh], (int) pos * d, d);
                } else if (window > 0 && t >= length - window) {
                    int slot = (int) ((pos - sinks) % window);
                    float[] ring = s.windowKeys[kvh];
                    for (int i = 0; i < d; i++) ring[i * window + slot] = k[src + i];
                    System.arraycopy(v, src, s.windowValues[kvh], slot * d, d);
                }
            }
        }
    }
}
