package io.dijiang4j.attention.ops.linear;

import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.simd.Vec;
import io.dijiang4j.attention.simd.VectorOps;
import java.util.Arrays;

/**
 * One Lightning block of kernelized attention against a {@link KernelMemory}, for one head: the intra-block masked
 * product {@code [(Q K^T) o M] V} plus the inter-block term {@code (Q o lambda^(r+1)) S}, all in the stabilized
 * scale, then the merge of the block's keys into the memory. Used by the linear kernel (keys = the block's own
 * tokens) and by the hybrid (keys = the tokens evicted from the window during the block). Holds its scratch, so a
 * block allocates nothing.
 *
 * <p>Scale: key features are stored as {@code exp(a_jl - Mb_l)} with Mb_l the block's maximum per feature, query
 * features as {@code exp(b_il + Mb_l - c_i)} and {@code exp(b_il + offset_l + (i+1) log lambda - c_i)}, with c_i
 * at least the row's largest log-term; every factor is <= 1. Decay inside the block multiplies the score matrix
 * by {@code lambda^(i-j)} (i >= j) and the memory merge uses {@code a_jl + (B-1-j) log lambda}: only non-positive
 * powers of lambda.
 */
public final class ChunkLinearAttention {
    /** Query rows handled together: the causal mask lets a tile skip the key columns after its last row. */
    private static final int ROW_TILE = 16;

    private FeatureMap map;
    private final int d;
    private final int m;
    private final int capacity;
    private float sqrtScale;
    private double logDecay;
    private float[] commitExpT; // keyExpT or keyExpDecayedT
    private double[] commitMax; // keyMax or keyMaxDecayed

    private int rows;
    private final float[] keyRows; // [B][d] contiguous copy (input rows are strided: 4 KB strides alias in L1)
    private final float[] valueRows; // [B][d]
    private final float[] queryRows; // [B][d]
    private final float[] keyLog; // [B][m]
    private final float[] keyLogT; // [m][B]
    private final float[] decayRamp; // (rows-1-j) log lambda
    private final float[] keyMaxF; // Mb as float
    private final float[] stateOffsetsF; // offsets as float
    private final float[] keyExpT; // [m][B], exp(a - Mb)
    private final float[] keyExpDecayedT; // [m][B], exp(a + (rows-1-j) log lambda - Mb2)
    private final double[] keyMax; // Mb [m]
    private final double[] keyMaxDecayed; // Mb2 [m]
    private final float[] decayPowers; // lambda^0 .. lambda^B
    // per-position decay of the loaded block (loadKeys with log decays), else constant logDecay
    private boolean positionDecay;
    private final double[] cumulativeDecay; // [B]: sum of the block's log lambda_t, t <= i (<= 0)
    private float[] rowDecay; // [B][B]: exp(C_i - C_j), j <= i; made on first use
    private final float[] stateSums; // float copy of the memory [m][d]
    private final float[] stateNormalizer; // [m]
    private final double[] stateOffsets; // [m]
    private final float[] queryLog; // [B][m]
    private final float[] queryBlock; // [B][m]
    private final float[] queryState; // [B][m]
    private final double[] memoryMax; // [B]
    private final float[] scores; // [B][B]
    private final float[] blockSums; // [m][d]
    private final float[] blockNormalizer; // [m]
    private final float[] out; // [B][d] unnormalized output of one query head (attend)
    private final float[] den; // [B]

    public ChunkLinearAttention(FeatureMap map, int headDim, int blockSize, double scale) {
        this.map = map;
        this.d = headDim;
        this.m = map.numFeatures();
        this.capacity = blockSize;
        this.sqrtScale = (float) Math.sqrt(scale);
        int b = blockSize;
        keyRows = new float[b * d];
        valueRows = new float[b * d];
        queryRows = new float[b * d];
        keyLog = new float[b * m];
        keyLogT = new float[m * b];
        decayRamp = new float[b];
        keyMaxF = new float[m];
        stateOffsetsF = new float[m];
        keyExpT = new float[m * b];
        keyExpDecayedT = new float[m * b];
        keyMax = new double[m];
        keyMaxDecayed = new double[m];
        decayPowers = new float[b + 1];
        cumulativeDecay = new double[b];
        setDecay(1.0);
        stateSums = new float[m * d];
        stateNormalizer = new float[m];
        stateOffsets = new double[m];
        queryLog = new float[b * m];
        queryBlock = new float[b * m];
        queryState = new float[b * m];
        memoryMax = new double[b];
        scores = new float[b * b];
        blockSums = new float[m * d];
        blockNormalizer = new float[m];
        out = new float[b * d];
        den = new float[b];
    }

    /**
     * Points the block at another layer's feature map and scale (blocks are scratch, shared by every layer of the
     * same sizes on a thread).
     */
    public void setMap(FeatureMap featureMap, double scale) {
        if (featureMap.numFeatures() != m || featureMap.inputDim() != d) {
            throw new IllegalArgumentException("block sized for d=" + d + ", m=" + m + " cannot run " + featureMap);
        }
        this.map = featureMap;
        this.sqrtScale = (float) Math.sqrt(scale);
    }

    /** The decay lambda of the head this block serves next (blocks are reused across heads). */
    public void setDecay(double decay) {
        double log = Math.log(decay);
        if (log == logDecay && commitExpT != null) return;
        logDecay = log;
        for (int i = 0; i <= capacity; i++) decayPowers[i] = (float) Math.exp(i * log);
    }

    public int capacity() {
        return capacity;
    }

    public double logDecay() {
        return logDecay;
    }

    /**
     * Loads the block's keys and values: rows [0, count) at {@code k[kOff + j*kStride]}, {@code v[vOff +
     * j*vStride]}; rows before {@code firstValid} are not keys of the memory (their features are 0).
     */
    public void loadKeys(
            float[] k, int kOff, int kStride, float[] v, int vOff, int vStride, int count, int firstValid) {
        positionDecay = false;
        load(k, kOff, kStride, v, vOff, vStride, count, firstValid);
    }

    /**
     * Loads the block's keys and values (as {@link #loadKeys(float[], int, int, float[], int, int, int, int)}, every
     * row a key) with a decay per position: row j's log lambda_j (finite, <= 0) at {@code logDecay[decayOff +
     * j*decayStride]}, applied as {@code S_j = lambda_j S_(j-1) + phi(k_j) v_j^T}. Query row i then weighs key j <= i
     * by {@code exp(C_i - C_j)} and the memory by {@code exp(C_i)}, C the block's running sum of log lambda: only
     * non-positive exponents, so no overflow at any length. The constant decay of {@link #setDecay} is not used for
     * this block.
     */
    public void loadKeys(
            float[] k,
            int kOff,
            int kStride,
            float[] v,
            int vOff,
            int vStride,
            int count,
            double[] logDecay,
            int decayOff,
            int decayStride) {
        double c = 0;
        for (int j = 0; j < count; j++) {
            double step = logDecay[decayOff + j * decayStride];
            if (!(step <= 0) || step == Double.NEGATIVE_INFINITY) {
                throw new IllegalArgumentException("log decay must be finite and <= 0, got " + step + " at row " + j);
            }
            c += step;
            cumulativeDecay[j] = c;
        }
        if (rowDecay == null) rowDecay = new float[capacity * capacity];
        for (int i = 0; i < count; i++) {
            for (int j = 0; j <= i; j++)
                rowDecay[i * capacity + j] = (float) Math.exp(cumulativeDecay[i] - cumulativeDecay[j]);
        }
        positionDecay = true;
        load(k, kOff, kStride, v, vOff, vStride, count, 0);
    }

    private void load(float[] k, int kOff, int kStride, float[] v, int vOff, int vStride, int count, int firstValid) {
        this.rows = count;
        int b = capacity;
        for (int j = 0; j < count; j++) {
            System.arraycopy(k, kOff + j * kStride, keyRows, j * d, d);
            System.arraycopy(v, vOff + j * vStride, valueRows, j * d, d);
        }
        map.logKeyFeatures(keyRows, 0, d, count, sqrtScale, keyLog, 0);
        for (int j = 0; j < count; j++) { // transpose: feature-major rows make the exps and the products contiguous
            for (int l = 0; l < m; l++) keyLogT[l * b + j] = keyLog[j * m + l];
        }
        boolean decays = logDecay != 0 || positionDecay;
        commitExpT = decays ? keyExpDecayedT : keyExpT;
        commitMax = decays ? keyMaxDecayed : keyMax;
        if (positionDecay) {
            for (int j = 0; j < count; j++) decayRamp[j] = (float) (cumulativeDecay[count - 1] - cumulativeDecay[j]);
        } else if (decays) {
            for (int j = 0; j < count; j++) decayRamp[j] = (float) ((count - 1 - j) * logDecay);
        }
        for (int l = 0; l < m; l++) {
            int row = l * b;
            float max = Vec.max(keyLogT, row + firstValid, count - firstValid);
            keyMax[l] = max;
            keyMaxF[l] = max;
            Arrays.fill(keyExpT, row, row + firstValid, 0f);
            Vec.expShifted(keyLogT, row + firstValid, -max, keyExpT, row + firstValid, count - firstValid);
            if (decays) {
                float maxDecayed = Vec.maxSum(keyLogT, row + firstValid, decayRamp, firstValid, count - firstValid);
                keyMaxDecayed[l] = maxDecayed;
                Arrays.fill(keyExpDecayedT, row, row + firstValid, 0f);
                Vec.expSumShifted(
                        keyLogT,
                        row + firstValid,
                        decayRamp,
                        firstValid,
                        -maxDecayed,
                        keyExpDecayedT,
                        row + firstValid,
                        count - firstValid);
            }
        }
    }

    /** Takes a float snapshot of the memory as it stands before this block. */
    public void loadState(KernelMemory memory) {
        double[] s = memory.sums(), z = memory.normalizer(), off = memory.offsets();
        for (int i = 0; i < s.length; i++) stateSums[i] = (float) s[i];
        for (int l = 0; l < m; l++) stateNormalizer[l] = (float) z[l];
        System.arraycopy(off, 0, stateOffsets, 0, m);
        for (int l = 0; l < m; l++) stateOffsetsF[l] = (float) off[l];
    }

    /**
     * Log features of the block's queries (rows at {@code q[off + i*stride]}); returns per row, in
     * {@code memoryMax()}, the largest log-term the memory part can contribute (+ logGain).
     *
     * @param count rows of queries (equal to the loaded keys when withBlockKeys)
     * @param withBlockKeys whether the block's keys are visible to these queries (false: state only)
     */
    public double[] loadQueries(float[] q, int off, int stride, int count, double logGain, boolean withBlockKeys) {
        if (withBlockKeys && count != rows) {
            throw new IllegalStateException("queries (" + count + ") and loaded keys (" + rows + ") differ");
        }
        this.rows = count;
        for (int i = 0; i < count; i++) System.arraycopy(q, off + i * stride, queryRows, i * d, d);
        map.logQueryFeatures(queryRows, 0, d, count, sqrtScale, queryLog, 0);
        for (int i = 0; i < count; i++) {
            float shift = stateDecay(i);
            float max = Vec.maxSum(queryLog, i * m, stateOffsetsF, 0, m) + shift;
            if (withBlockKeys) max = Math.max(max, Vec.maxSum(queryLog, i * m, keyMaxF, 0, m));
            memoryMax[i] = max + logGain;
        }
        return memoryMax;
    }

    /** log of the decay query row i applies to the memory as it stood before the block (<= 0). */
    private float stateDecay(int i) {
        return positionDecay ? (float) cumulativeDecay[i] : (float) ((i + 1) * logDecay);
    }

    /** Rows of this block (keys and queries). */
    public int rows() {
        return rows;
    }

    /**
     * Adds the memory part to the unnormalized outputs: {@code out[i] += num_i / exp(c_i)}, {@code den[i] += den_i /
     * exp(c_i)}. {@code rowMax[i]} must be >= memoryMax[i].
     */
    public void accumulate(double[] rowMax, double logGain, boolean withBlockKeys, float[] out, float[] den) {
        int count = rows, b = capacity;
        for (int i = 0; i < count; i++) {
            float c = (float) (rowMax[i] - logGain);
            float shift = stateDecay(i);
            if (withBlockKeys) Vec.expSumShifted(queryLog, i * m, keyMaxF, 0, -c, queryBlock, i * m, m);
            Vec.expSumShifted(queryLog, i * m, stateOffsetsF, 0, shift - c, queryState, i * m, m);
        }
        if (withBlockKeys) {
            for (int r0 = 0; r0 < count; r0 += ROW_TILE) {
                int tileRows = Math.min(ROW_TILE, count - r0);
                int cols = r0 + tileRows; // causal: keys after the tile's last row are masked
                Arrays.fill(scores, 0, tileRows * b, 0f);
                VectorOps.gemm(queryBlock, r0 * m, m, keyExpT, 0, b, scores, 0, b, tileRows, m, cols);
                for (int r = 0; r < tileRows; r++) {
                    int i = r0 + r;
                    int row = r * b;
                    for (int j = i + 1; j < cols; j++) scores[row + j] = 0f;
                    if (positionDecay) {
                        for (int j = 0; j <= i; j++) scores[row + j] *= rowDecay[i * b + j];
                    } else if (logDecay != 0) {
                        for (int j = 0; j <= i; j++) scores[row + j] *= decayPowers[i - j];
                    }
                    float sum = 0f;
                    for (int j = 0; j <= i; j++) sum += scores[row + j];
                    den[i] += sum;
                }
                VectorOps.gemm(scores, 0, b, valueRows, 0, d, out, r0 * d, d, tileRows, cols, d);
            }
        }
        VectorOps.gemm(queryState, 0, m, stateSums, 0, d, out, 0, d, count, m, d);
        for (int i = 0; i < count; i++) den[i] += VectorOps.dot(queryState, i * m, stateNormalizer, 0, m);
    }

    /**
     * Linear attention of one query head: {@code count} queries at {@code q[off + i*stride]}, outputs into {@code
     * output[off + i*stride]} (the layout of the layer's q and out). {@code withBlockKeys}: the loaded block's keys
     * are visible (causal, count equal to the loaded rows); false: the memory only (the non-causal second pass, after
     * every key is committed and the state loaded).
     */
    public void attend(float[] q, int off, int stride, int count, boolean withBlockKeys, float[] output) {
        double[] rowMax = loadQueries(q, off, stride, count, 0, withBlockKeys);
        Arrays.fill(out, 0, count * d, 0f);
        Arrays.fill(den, 0, count, 0f);
        accumulate(rowMax, 0, withBlockKeys, out, den);
        normalize(out, den, count, d, output, off, stride);
    }

    /**
     * {@code out[outOff + r*stride + c] = blockOut[r*d + c] / max(den[r], FLT_MIN)}: in the scale where the row's
     * largest log-term is 0 the FLT_MIN only guards a zero denominator and changes no finite result.
     */
    public static void normalize(float[] blockOut, float[] den, int rows, int d, float[] out, int outOff, int stride) {
        for (int r = 0; r < rows; r++) {
            float inv = 1f / Math.max(den[r], Float.MIN_NORMAL);
            VectorOps.scaleInto(inv, blockOut, r * d, out, outOff + r * stride, d);
        }
    }

    /** Merges the block's keys and values into the memory, decaying it first. */
    public void commitKeys(KernelMemory memory) {
        int count = rows;
        Arrays.fill(blockSums, 0f);
        VectorOps.gemm(commitExpT, 0, capacity, valueRows, 0, d, blockSums, 0, d, m, count, d);
        for (int l = 0; l < m; l++) blockNormalizer[l] = Vec.sum(commitExpT, l * capacity, count);
        memory.addBlock(
                positionDecay ? cumulativeDecay[count - 1] : count * logDecay, blockSums, blockNormalizer, commitMax);
    }
}
