package io.dijiang4j.attention.ops.linear;

import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.simd.Vec;
import io.dijiang4j.attention.simd.VectorOps;

/**
 * The recurrent (decode) form for one head: one token, O(m d) work, the memory of fixed size. Holds its scratch,
 * so a step allocates nothing. {@code kv = lambda kv + phi(k) v^T}; {@code o = phi(q)^T S / phi(q)^T z} with the
 * row maximum of {@code log phi(q) + offset} subtracted before exponentiating.
 */
public final class FusedRecurrentLinearAttention {
    private final FeatureMap map;
    private final int d;
    private final int m;
    private final float sqrtScale;
    private final double logDecay;
    private final float[] scaled;
    private final float[] logFeatures;
    private final double[] numerator;
    private final float[] queryLogWeights;
    private final float[] queryWeights;

    public FusedRecurrentLinearAttention(FeatureMap map, int headDim, double scale, double decay) {
        this.map = map;
        this.d = headDim;
        this.m = map.numFeatures();
        this.sqrtScale = (float) Math.sqrt(scale);
        this.logDecay = Math.log(decay);
        this.scaled = new float[d];
        this.logFeatures = new float[m];
        this.numerator = new double[d];
        this.queryLogWeights = new float[m];
        this.queryWeights = new float[m];
    }

    public double logDecay() {
        return logDecay;
    }

    /** Decays the memory by this head's lambda and adds the key at {@code k[kOff..]} with value {@code v[vOff..]}. */
    public void addKey(KernelMemory memory, float[] k, int kOff, float[] v, int vOff) {
        addKey(memory, k, kOff, v, vOff, logDecay);
    }

    /**
     * Per-position decay: {@code S = lambda_t S + phi(k) v^T} with {@code log lambda_t = stepLogDecay} (finite, <= 0),
     * applied to the memory's log offsets (never a multiplication by lambda^-n).
     */
    public void addKey(KernelMemory memory, float[] k, int kOff, float[] v, int vOff, double stepLogDecay) {
        if (!(stepLogDecay <= 0) || stepLogDecay == Double.NEGATIVE_INFINITY) {
            throw new IllegalArgumentException("log decay must be finite and <= 0, got " + stepLogDecay);
        }
        for (int i = 0; i < d; i++) scaled[i] = sqrtScale * k[kOff + i];
        map.logKeyFeatures(scaled, 0, logFeatures, 0);
        memory.decay(stepLogDecay);
        memory.addKey(logFeatures, 0, v, vOff);
    }

    /**
     * Log features of the query at {@code q[qOff..]}; returns the largest log-term of {@code log phi(q) + offset}
     * (+ logGain) the memory contributes, -infinity when it is empty.
     */
    public double loadQuery(KernelMemory memory, float[] q, int qOff, double logGain) {
        for (int i = 0; i < d; i++) scaled[i] = sqrtScale * q[qOff + i];
        map.logQueryFeatures(scaled, 0, logFeatures, 0);
        double[] off = memory.offsets();
        double max = Double.NEGATIVE_INFINITY;
        for (int l = 0; l < m; l++) max = Math.max(max, logFeatures[l] + off[l]);
        return max + logGain;
    }

    /**
     * After {@link #loadQuery}: adds {@code num / exp(c)} into {@code num[0..d)} and returns {@code den / exp(c)},
     * with {@code c = rowMax} (>= the value loadQuery returned).
     */
    public double accumulate(KernelMemory memory, double rowMax, double logGain, double[] num) {
        double[] off = memory.offsets(), sums = memory.sums(), z = memory.normalizer();
        double den = 0;
        double c = rowMax - logGain;
        for (int l = 0; l < m; l++) queryLogWeights[l] = (float) (logFeatures[l] + off[l] - c); // -inf when empty
        Vec.expShifted(queryLogWeights, 0, 0f, queryWeights, 0, m);
        for (int l = 0; l < m; l++) {
            double w = queryWeights[l];
            if (w == 0) continue;
            VectorOps.axpy(w, sums, l * d, num, 0, d);
            den += w * z[l];
        }
        return den;
    }

    /** Linear attention output of the query at {@code q[qOff..]} into {@code out[outOff..]}. */
    public void query(KernelMemory memory, float[] q, int qOff, float[] out, int outOff) {
        double c = loadQuery(memory, q, qOff, 0);
        java.util.Arrays.fill(numerator, 0);
        double den = accumulate(memory, c, 0, numerator);
        double inv = 1.0 / Math.max(den, Double.MIN_NORMAL);
        for (int i = 0; i < d; i++) out[outOff + i] = (float) (numerator[i] * inv);
    }
}
