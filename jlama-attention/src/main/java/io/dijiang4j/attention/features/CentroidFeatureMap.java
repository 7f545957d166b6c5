package io.dijiang4j.attention.features;

import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.SpecFingerprint;
import java.util.Arrays;
import java.util.Objects;

/**
 * The data-fitted memory of docs/MATH.md §3 for one KV head: m centroids {@code c_l} of that head's calibration
 * keys (k-means) with kernel weights {@code w_l}:
 *
 * <pre>
 *   log phi_l(query x) = x . c'_l + log w_l
 *   log phi_l(key x)   = 0 for l = the centroid nearest to x (Euclidean), {@link #LOG_FLOOR} for every other l
 *   phi(q) . phi(k)    = w_c exp(tau q . c_c),   c = the centroid nearest to k
 * </pre>
 *
 * The memory state is then a per-cluster value sum (S) and key count (z), the same running sums as linear
 * attention. Kernels call phi on {@code sqrt(tau) x} (see {@link io.dijiang4j.attention.AttentionSpec}), so this
 * map stores the centroids multiplied by {@code sqrt(tau)}: {@code c'_l = sqrt(tau) c_l}; then {@code sqrt(tau) q
 * . c'_l = tau q . c_l}, and the nearest centroid of {@code sqrt(tau) k} among the {@code c'} is the nearest of
 * {@code k} among the {@code c}.
 *
 * <p>The parameters are float (the scaled centroids and the query log weights) so every backend evaluates the same
 * map; every overload computes in double from them (dot products, nearest centroid, ties to the lowest index) and
 * rounds only its output. The key floor is finite, as the log-domain memory ({@code ops.linear.KernelMemory}, {@code
 * ChunkLinearAttention}, {@code FusedRecurrentLinearAttention}) requires: its exp is exactly 0 in float and double, also after
 * adding any realistic query log-feature, so the other clusters receive exactly nothing. This map is not of the
 * projection form {@link io.dijiang4j.attention.FeatureMap.Normalization} describes (the key side is a hard
 * argmax), so backends that only run projection maps cannot run it.
 */
public final class CentroidFeatureMap implements FeatureMap {
    public static final String NAME = "centroids";

    /** Key log-feature of every centroid but the nearest: finite; exp of it (plus any query log-feature) is 0. */
    public static final float LOG_FLOOR = -1e5f;

    private final int inputDim;
    private final int numFeatures;
    private final float[] scaledCentroids; // [m][d], sqrt(tau) c_l
    private final float[] logWeights; // [m], log w_l on the query side
    private final double[] halfSquaredNorms; // |c'_l|^2 / 2, for the nearest centroid as argmax of x.c' - |c'|^2/2

    /**
     * @param inputDim d
     * @param scaledCentroids row-major [m][d], the key centroids already multiplied by sqrt(tau)
     * @param logWeights [m] log kernel weights (finite; {@link ProjectionFeatureMap#LOG_ZERO_WEIGHT} for weight 0)
     */
    public CentroidFeatureMap(int inputDim, float[] scaledCentroids, float[] logWeights) {
        if (inputDim < 1 || scaledCentroids == null || scaledCentroids.length == 0) {
            throw new IllegalArgumentException("a centroid map needs input dim >= 1 and at least one centroid");
        }
        if (scaledCentroids.length % inputDim != 0) {
            throw new IllegalArgumentException(
                    "centroid values (" + scaledCentroids.length + ") are not a multiple of the input dim " + inputDim);
        }
        this.inputDim = inputDim;
        this.numFeatures = scaledCentroids.length / inputDim;
        if (logWeights == null || logWeights.length != numFeatures) {
            throw new IllegalArgumentException("need " + numFeatures + " log weights, got "
                    + (logWeights == null ? "null" : String.valueOf(logWeights.length)));
        }
        for (float v : scaledCentroids) {
            if (!Float.isFinite(v)) throw new IllegalArgumentException("centroids hold a NaN or infinite value");
        }
        for (float v : logWeights) {
            if (!Float.isFinite(v)) throw new IllegalArgumentException("log weights hold a NaN or infinite value");
        }
        this.scaledCentroids = scaledCentroids.clone();
        this.logWeights = logWeights.clone();
        this.halfSquaredNorms = new double[numFeatures];
        for (int l = 0; l < numFeatures; l++) {
            double s = 0;
            for (int i = 0; i < inputDim; i++) {
                double c = this.scaledCentroids[l * inputDim + i];
                s += c * c;
            }
            halfSquaredNorms[l] = 0.5 * s;
        }
    }

    /**
     * A map from centroids of the raw (unscaled, post-RoPE) keys, with weights 1: {@code phi(q).phi(k) = exp(tau q .
     * c)} for the centroid c nearest to k.
     *
     * @param centroids [m][d] in key space
     * @param scale tau, the softmax temperature of the layer
     */
    public static CentroidFeatureMap fromKeyCentroids(double[][] centroids, double scale) {
        if (centroids == null || centroids.length == 0) throw new IllegalArgumentException("no centroids");
        if (!(scale > 0) || Double.isInfinite(scale)) throw new IllegalArgumentException("scale must be > 0");
        int d = centroids[0].length, m = centroids.length;
        double root = Math.sqrt(scale);
        float[] scaled = new float[m * d];
        for (int l = 0; l < m; l++) {
            if (centroids[l].length != d) throw new IllegalArgumentException("centroids differ in dimension");
            for (int i = 0; i < d; i++) scaled[l * d + i] = (float) (root * centroids[l][i]);
        }
        return new CentroidFeatureMap(d, scaled, new float[m]);
    }

    /**
     * The same centroids with kernel weights {@code w} ({@code phi(q).phi(k) = w_c exp(tau q.c)}): absolute, not
     * relative to the current ones. Finite, >= 0, not all 0; a weight 0 is stored as {@link
     * ProjectionFeatureMap#LOG_ZERO_WEIGHT} (that cluster then contributes exactly nothing).
     */
    public CentroidFeatureMap withWeights(double[] weights) {
        FeatureWeights.check(weights, numFeatures, "centroid weight");
        float[] logs = new float[numFeatures];
        for (int l = 0; l < numFeatures; l++) logs[l] = FeatureWeights.log(weights[l]);
        return new CentroidFeatureMap(inputDim, scaledCentroids, logs);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int inputDim() {
        return inputDim;
    }

    @Override
    public int numFeatures() {
        return numFeatures;
    }

    /** The centroids times sqrt(tau), row-major [m][d] (a copy). */
    public float[] scaledCentroids() {
        return scaledCentroids.clone();
    }

    /** log w_l (a copy). */
    public float[] logWeights() {
        return logWeights.clone();
    }

    /** w_l = exp(log w_l); 0 for a switched-off cluster. */
    public double[] weights() {
        double[] w = new double[numFeatures];
        for (int l = 0; l < numFeatures; l++) {
            w[l] = logWeights[l] <= ProjectionFeatureMap.LOG_ZERO_WEIGHT ? 0 : Math.exp(logWeights[l]);
        }
        return w;
    }

    /**
     * The centroid nearest to {@code x[off..off+d)}, an input in the map's space (a key already multiplied by
     * sqrt(tau)); ties to the lowest index. The key features are 0 at this index.
     */
    public int nearest(double[] x, int off) {
        return nearest(null, x, off, 1f);
    }

    /**
     * Nearest centroid of the double row {@code xd}, or (xd null) of the float row {@code (float) (inputScale *
     * xf[i])}, scaled as the kernels scale it. argmin |x - c|^2 = argmax x.c - |c|^2/2.
     */
    private int nearest(float[] xf, double[] xd, int off, float inputScale) {
        int best = 0;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (int l = 0; l < numFeatures; l++) {
            double dot = xd != null ? dot(xd, off, l) : dot(xf, off, inputScale, l);
            double score = dot - halfSquaredNorms[l];
            if (score > bestScore) {
                bestScore = score;
                best = l;
            }
        }
        return best;
    }

    private double dot(double[] x, int off, int l) {
        double s = 0;
        int c = l * inputDim;
        for (int i = 0; i < inputDim; i++) s += x[off + i] * scaledCentroids[c + i];
        return s;
    }

    /**
     * x' . c'_l with {@code x'_i = (float) (inputScale * x_i)}: the batched forms round the scaled input to float as
     * the single-row callers do, so both give the same features (and the same nearest centroid) bit for bit.
     */
    private double dot(float[] x, int off, float inputScale, int l) {
        double s = 0;
        int c = l * inputDim;
        for (int i = 0; i < inputDim; i++) s += (double) (inputScale * x[off + i]) * scaledCentroids[c + i];
        return s;
    }

    @Override
    public void logQueryFeatures(float[] x, int off, float[] out, int outOff) {
        for (int l = 0; l < numFeatures; l++) out[outOff + l] = (float) (dot(x, off, 1f, l) + logWeights[l]);
    }

    @Override
    public void logKeyFeatures(float[] x, int off, float[] out, int outOff) {
        Arrays.fill(out, outOff, outOff + numFeatures, LOG_FLOOR);
        out[outOff + nearest(x, null, off, 1f)] = 0f;
    }

    @Override
    public void logQueryFeatures(double[] x, int off, double[] out, int outOff) {
        for (int l = 0; l < numFeatures; l++) out[outOff + l] = dot(x, off, l) + logWeights[l];
    }

    @Override
    public void logKeyFeatures(double[] x, int off, double[] out, int outOff) {
        Arrays.fill(out, outOff, outOff + numFeatures, LOG_FLOOR);
        out[outOff + nearest(x, off)] = 0.0;
    }

    @Override
    public void logQueryFeatures(float[] x, int off, int stride, int rows, float inputScale, float[] out, int outOff) {
        for (int r = 0; r < rows; r++) {
            int row = off + r * stride, o = outOff + r * numFeatures;
            for (int l = 0; l < numFeatures; l++) {
                out[o + l] = (float) (dot(x, row, inputScale, l) + logWeights[l]);
            }
        }
    }

    @Override
    public void logKeyFeatures(float[] x, int off, int stride, int rows, float inputScale, float[] out, int outOff) {
        for (int r = 0; r < rows; r++) {
            int o = outOff + r * numFeatures;
            Arrays.fill(out, o, o + numFeatures, LOG_FLOOR);
            out[o + nearest(x, null, off + r * stride, inputScale)] = 0f;
        }
    }

    /** Fitted maps: a state of another calibration is refused. */
    @Override
    public void addTo(SpecFingerprint h) {
        FeatureMap.super.addTo(h);
        h.add(scaledCentroids).add(logWeights);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CentroidFeatureMap f
                && inputDim == f.inputDim
                && Arrays.equals(scaledCentroids, f.scaledCentroids)
                && Arrays.equals(logWeights, f.logWeights);
    }

    @Override
    public int hashCode() {
        return Objects.hash(inputDim, Arrays.hashCode(scaledCentroids), Arrays.hashCode(logWeights));
    }

    @Override
    public String toString() {
        return NAME + "(d=" + inputDim + ", m=" + numFeatures + ")";
    }
}
