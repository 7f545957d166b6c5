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
        this.sinks = sinks;
        this.window = window;
        this.first = first;
        this.rows = rows;
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
        // exact part: the sinks and the band of window positions the block's rows see, as columns
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
        if (logGain > Double.NEGATIVE_INFINITY) memoryBlock.accumulate(rowMax, logGain, true, blockOut, blockDen);
        ChunkLinearAttention.normalize(blockOut, blockDen, rows, d, out, qBase, stride);
    }

    /** Merges the block's evicted tokens into the memory (after every head of the block has attended). */
    public void commit(KernelMemory memory) {
        memoryBlock.commitKeys(memory);
    }
}
