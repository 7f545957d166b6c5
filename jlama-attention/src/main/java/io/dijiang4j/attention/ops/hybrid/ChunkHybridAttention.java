package io.dijiang4j.attention.ops.hybrid;

import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.ops.linear.ChunkLinearAttention;
import io.dijiang4j.attention.ops.linear.KernelMemory;
import io.dijiang4j.attention.simd.Vec;
import io.dijiang4j.attention.simd.VectorOps;
import java.util.Arrays;

/**
 * The chunked (prefill) form of the hybrid layer for one KV head, one block of query rows at a time (see {@link
 * FusedRecurrentHybridAttention} for the formula). The memory part is the linear ops' Lightning block ({@link
 * ChunkLinearAttention}) with keys shifted by the window: row i's keys are the tokens that leave the window at row
 * i, so query row i sees evicted rows j <= i with decay lambda^(i-j). The exact part is one product of the block's
 * queries with the sinks and the band of window positions the block's rows see, masked per row. Holds its scratch
 * (a workspace per thread and size), so a block allocates nothing.
 *
 * <p>With the online centroid memory ({@link #loadOnline}) the memory changes with every evicted token, so the block
 * folds its evicted tokens in order and reads the memory terms of each row's query heads right after that row's
 * fold, exactly as the recurrent form does; only the exact part is batched. The memory terms are kept relative to
 * their own maximum and rescaled to the row's maximum once the exact part is known (docs/MATH.md §4).
 */
public final class ChunkHybridAttention {
    private final ChunkLinearAttention memoryBlock;
    private final int d;
    private float scale;
    private final float[] evictedKeys; // [B][d]
    private final float[] evictedValues; // [B][d]
    private final float[] keysT; // [d][sinks + window + B] keys of the block's exact columns, transposed
    private final float[] values; // [sinks + window + B][d]
    private final float[] queries; // [B][d], scaled by tau
    private final float[] scores; // [B][sinks + window + B]
    private final float[] blockOut; // [B][d]
    private final float[] blockDen; // [B]
    private final double[] rowMax; // [B]
    private final double[] memoryMax; // [B]: one head's memory maximum per row (online memory)
    private final float[] keyRow; // [d]: the key being folded (online memory)
    private final double[] recalled; // [d]: one query's memory numerator (online memory)
    // the online memory's terms of the loaded block, per row and query head of the group: maximum (+ log g), and
    // numerator and denominator divided by exp(maximum)
    private double[] onlineMax = new double[0]; // [B * G]
    private double[] onlineDen = new double[0]; // [B * G]
    private double[] onlineNum = new double[0]; // [B * G][d]
    private int onlineHeads;
    // the loaded block
    private int sinks;
    private int window;
    private long first;
    private int rows;
    private int sinkCols;
    private long windowFirst;
    private int cols;

    /** @param exactColumns at least sinks + window + blockSize of every layer this scratch serves */
    public ChunkHybridAttention(FeatureMap map, int headDim, int blockSize, int exactColumns, double scale) {
        memoryBlock = new ChunkLinearAttention(map, headDim, blockSize, scale);
        d = headDim;
        this.scale = (float) scale;
        int b = blockSize;
        evictedKeys = new float[b * d];
        evictedValues = new float[b * d];
        keysT = new float[exactColumns * d];
        values = new float[exactColumns * d];
        queries = new float[b * d];
        scores = new float[b * exactColumns];
        blockOut = new float[b * d];
        blockDen = new float[b];
        rowMax = new double[b];
        memoryMax = new double[b];
        keyRow = new float[d];
        recalled = new double[d];
    }

    /** Points the scratch at a memory's feature map, the layer's scale and the memory's decay. */
    public ChunkHybridAttention configure(FeatureMap map, double tau, double decay) {
        memoryBlock.setMap(map, tau);
        memoryBlock.setDecay(decay);
        this.scale = (float) tau;
        return this;
    }

    public int capacity() {
        return memoryBlock.capacity();
    }

    /**
     * Loads the block of query positions {@code [first, first + rows)}: the tokens leaving the window at these rows
     * (positions >= sinks) as the memory block's keys, the memory as it stands, and the exact columns.
     */
    public void load(ExactTokens tokens, KernelMemory memory, long first, int rows, int sinks, int window) {
        long firstEvicted = first - window;
        int firstValid = (int) Math.max(0, Math.min(rows, sinks - firstEvicted));
        Arrays.fill(evictedKeys, 0, firstValid * d, 0f);
        Arrays.fill(evictedValues, 0, firstValid * d, 0f);
        for (int j = firstValid; j < rows; j++) {
            long pos = firstEvicted + j;
            tokens.copyKey(pos, evictedKeys, j * d, 1);
            System.arraycopy(tokens.values(pos), tokens.valueOffset(pos), evictedValues, j * d, d);
        }
        memoryBlock.loadKeys(evictedKeys, 0, d, evictedValues, 0, d, rows, firstValid);
        memoryBlock.loadState(memory);
        loadExact(tokens, first, rows, sinks, window);
    }

    /**
     * Loads the block of query positions {@code [first, first + rows)} over the online centroid memory: folds the
     * tokens leaving the window at these rows into {@code memory} in order (as the recurrent form does, so the memory
     * ends the block as token-by-token prefill leaves it) and, after each row's fold, reads the memory terms of the
     * row's {@code heads} query heads, queries at {@code q[qBase + i*stride + hh*d]}, gains {@code logGains[h0 +
     * hh]}. Then {@link #attendOnline} per head; there is nothing to commit.
     */
    public void loadOnline(
            ExactTokens tokens,
            OnlineCentroidMemory memory,
            long first,
            int rows,
            int sinks,
            int window,
            float[] q,
            int qBase,
            int stride,
            int heads,
            double[] logGains,
            int h0) {
        if (onlineMax.length < rows * heads) {
            onlineMax = new double[memoryBlock.capacity() * heads];
            onlineDen = new double[memoryBlock.capacity() * heads];
            onlineNum = new double[memoryBlock.capacity() * heads * d];
        }
        onlineHeads = heads;
        for (int i = 0; i < rows; i++) {
            long leaving = first + i - window;
            if (leaving >= sinks) {
                tokens.copyKey(leaving, keyRow, 0, 1);
                memory.fold(keyRow, 0, tokens.values(leaving), tokens.valueOffset(leaving));
            }
            for (int hh = 0; hh < heads; hh++) {
                int slot = i * heads + hh;
                double logGain = logGains[h0 + hh];
                double max = memory.loadQuery(q, qBase + i * stride + hh * d, logGain);
                onlineMax[slot] = max;
                if (max == Double.NEGATIVE_INFINITY) continue; // empty, or the head's memory is off
                Arrays.fill(recalled, 0);
                onlineDen[slot] = memory.accumulate(max, logGain, recalled);
                System.arraycopy(recalled, 0, onlineNum, slot * d, d);
            }
        }
        loadExact(tokens, first, rows, sinks, window);
    }

    /** The exact part of the block: the sinks and the band of window positions its rows see, as columns. */
    private void loadExact(ExactTokens tokens, long first, int rows, int sinks, int window) {
        this.sinks = sinks;
        this.window = window;
        this.first = first;
        this.rows = rows;
        sinkCols = (int) Math.min(sinks, first + rows);
        windowFirst = Math.max(sinks, first - window + 1);
        int windowCols = (int) Math.max(0, first + rows - windowFirst);
        cols = sinkCols + windowCols;
        for (int c = 0; c < cols; c++) {
            long pos = c < sinkCols ? c : windowFirst + (c - sinkCols);
            tokens.copyKey(pos, keysT, c, cols);
            System.arraycopy(tokens.values(pos), tokens.valueOffset(pos), values, c * d, d);
        }
    }

    /**
     * One query head over the loaded block: queries at {@code q[qBase + i*stride]}, outputs into {@code out[qBase +
     * i*stride]}; {@code logGain} = log g_h (-infinity switches the memory off).
     */
    public void attend(float[] q, int qBase, int stride, double logGain, float[] out) {
        double[] memoryMax = memoryBlock.loadQueries(q, qBase, stride, rows, logGain, true);
        exactPart(q, qBase, stride, memoryMax);
        if (logGain > Double.NEGATIVE_INFINITY) memoryBlock.accumulate(rowMax, logGain, true, blockOut, blockDen);
        ChunkLinearAttention.normalize(blockOut, blockDen, rows, d, out, qBase, stride);
    }

    /**
     * Query head {@code hh} of the group loaded by {@link #loadOnline} (queries at {@code q[qBase + i*stride]}, the
     * same rows it was loaded with), outputs into {@code out[qBase + i*stride]}: the exact part as {@link #attend},
     * the memory terms of the load rescaled to each row's maximum, numerator and denominator in double as the
     * recurrent form sums them.
     */
    public void attendOnline(float[] q, int qBase, int stride, int hh, float[] out) {
        int heads = onlineHeads;
        for (int i = 0; i < rows; i++) memoryMax[i] = onlineMax[i * heads + hh];
        exactPart(q, qBase, stride, memoryMax);
        for (int i = 0; i < rows; i++) {
            int slot = i * heads + hh, o = qBase + i * stride;
            double den = blockDen[i], weight = 0;
            if (memoryMax[i] > Double.NEGATIVE_INFINITY) {
                weight = Math.exp(memoryMax[i] - rowMax[i]); // <= 1: rowMax >= memoryMax
                den += weight * onlineDen[slot];
            }
            double inv = 1.0 / Math.max(den, Double.MIN_NORMAL);
            for (int j = 0; j < d; j++) {
                out[o + j] = (float) ((blockOut[i * d + j] + weight * onlineNum[slot * d + j]) * inv);
            }
        }
    }

    /**
     * The exact part of one head over the loaded block: masked scores, each row's maximum over them and {@code
     * memoryMax} into {@link #rowMax}, then their weights' sum into {@link #blockDen} and weighted values into
     * {@link #blockOut}.
     */
    private void exactPart(float[] q, int qBase, int stride, double[] memoryMax) {
        for (int i = 0; i < rows; i++) VectorOps.scaleInto(scale, q, qBase + i * stride, queries, i * d, d);
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
            rowMax[i] = c;
            Vec.expShifted(scores, row, (float) -c, scores, row, cols);
            blockDen[i] = Vec.sum(scores, row, cols);
        }
        Arrays.fill(blockOut, 0, rows * d, 0f);
        VectorOps.gemm(scores, 0, cols, values, 0, d, blockOut, 0, d, rows, cols, d);
    }

    /** Merges the block's evicted tokens into the memory (after every head of the block has attended). */
    public void commit(KernelMemory memory) {
        memoryBlock.commitKeys(memory);
    }
}
