package io.dijiang4j.attention.tensorops;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The element-wise parts of a transformer block that Jlama runs one {@code get}/{@code set} at a time: RMS
 * normalization of a row and the gated SiLU of the feed-forward block, vectorized over one row in a float array.
 * Their float64 twins are {@link NaiveRowKernels}.
 */
public final class RowKernels {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private RowKernels() {}

    /**
     * out[o + j] = (adjust + w[j]) * (x[xo + j] / sqrt(sum_j x[xo + j]^2 / divisor + eps)) for j < n: Jlama's {@code
     * RMSNorm} (it divides by the embedding length, {@code divisor}, also when normalizing a part of the row).
     */
    public static void rmsNorm(
            float[] x, int xo, int n, float[] w, float adjust, float divisor, float eps, float[] out, int o) {
        FloatVector acc = FloatVector.zero(F);
        int j = 0;
        for (int bound = F.loopBound(n); j < bound; j += F.length()) {
            FloatVector v = FloatVector.fromArray(F, x, xo + j);
            acc = v.fma(v, acc);
        }
        double ss = acc.reduceLanes(VectorOperators.ADD);
        for (; j < n; j++) ss += x[xo + j] * x[xo + j];
        float inv = (float) (1.0 / Math.sqrt(ss / divisor + eps));
        j = 0;
        for (int bound = F.loopBound(n); j < bound; j += F.length()) {
            FloatVector wv = FloatVector.fromArray(F, w, j).add(adjust);
            wv.mul(FloatVector.fromArray(F, x, xo + j).mul(inv)).intoArray(out, o + j);
        }
        for (; j < n; j++) out[o + j] = (adjust + w[j]) * (inv * x[xo + j]);
    }

    /**
     * gate[g + j] = silu(gate[g + j]) * up[u + j] for j < n, silu(x) = x / (1 + e^-x): the gated activation of a
     * llama feed-forward block. e^-x overflows to infinity for x below about -88, which gives -0, not NaN.
     */
    public static void siluMul(float[] gate, int g, float[] up, int u, int n) {
        int j = 0;
        for (int bound = F.loopBound(n); j < bound; j += F.length()) {
            FloatVector x = FloatVector.fromArray(F, gate, g + j);
            FloatVector e = x.neg().lanewise(VectorOperators.EXP);
            x.div(e.add(1f)).mul(FloatVector.fromArray(F, up, u + j)).intoArray(gate, g + j);
        }
        for (; j < n; j++) {
            float x = gate[g + j];
            gate[g + j] = (float) (x / (1 + Math.exp(-x))) * up[u + j];
        }
    }
}
