package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.linear.KernelMemory;
import io.dijiang4j.attention.linear.MemoryBlock;
import io.dijiang4j.attention.linear.RecurrentLinearAttention;
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
 * call's own tokens in place. One token runs the recurrent form.
 */
public final class CpuHybridKernel implements AttentionKernel {
    private final AttentionShape shape;
    private final AttentionSpec spec;
    private final StateLayout layout;
    private final float scale;
    private final double[] logGains;

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
        RecurrentLinearAttention rec = s.stepper(memory);
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
        MemoryBlock block = w.block(spec.decayOf(layout.decayHead(memory)));
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
