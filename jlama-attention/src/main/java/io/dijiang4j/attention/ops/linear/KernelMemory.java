package io.dijiang4j.attention.ops.linear;

import io.dijiang4j.attention.simd.Vec;
import io.dijiang4j.attention.simd.VectorOps;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The running sums of kernelized attention for one head, kept with a per-feature log offset (online-softmax
 * style) so that no exponential overflows: the true sums are {@code S_l = exp(offset_l) s_l} (a row of m x d) and
 * {@code z_l = exp(offset_l) z_l}. A key whose log-feature exceeds the offset raises it (the row is rescaled);
 * decay lowers the offset by {@code log lambda} instead of multiplying the sums (never lambda^-n).
 *
 * <p>The sums are float64: without decay a float32 running sum of a million positive terms carries rounding of
 * order sqrt(n) ulp(total), 1e-5 to 1e-4 relative, too close to the 1e-4 the long-sequence test allows; the
 * offsets are float64 because decay moves them by a small step every token and float32 would drift. Everything that enters the sums (features, values, block products) is
 * float32.
 */
public final class KernelMemory {
    private final int numFeatures;
    private final int valueDim;
    private final double[] sums; // [m][d]
    private final double[] normalizer; // [m]
    private final double[] offsets; // [m], -infinity while empty
    private final float[] logWeights; // scratch of addKey
    private final float[] weights; // scratch of addKey

    public KernelMemory(int numFeatures, int valueDim) {
        this.numFeatures = numFeatures;
        this.valueDim = valueDim;
        this.sums = new double[numFeatures * valueDim];
        this.normalizer = new double[numFeatures];
        this.offsets = new double[numFeatures];
        Arrays.fill(offsets, Double.NEGATIVE_INFINITY);
        this.logWeights = new float[numFeatures];
        this.weights = new float[numFeatures];
    }

    public int numFeatures() {
        return numFeatures;
    }

    public int valueDim() {
        return valueDim;
    }

    public double[] sums() {
        return sums;
    }

    public double[] normalizer() {
        return normalizer;
    }

    public double[] offsets() {
        return offsets;
    }

    public void clear() {
        Arrays.fill(sums, 0);
        Arrays.fill(normalizer, 0);
        Arrays.fill(offsets, Double.NEGATIVE_INFINITY);
    }

    /** Multiplies the whole memory by lambda = exp(logDecay) (logDecay <= 0). */
    public void decay(double logDecay) {
        if (logDecay == 0) return;
        for (int l = 0; l < numFeatures; l++) offsets[l] += logDecay; // -inf stays -inf
    }

    /** S += phi(k) v^T, z += phi(k), with logFeatures = log phi(k). */
    public void addKey(float[] logFeatures, int featureOff, float[] value, int valueOff) {
        int d = valueDim;
        for (int l = 0; l < numFeatures; l++) {
            double a = logFeatures[featureOff + l];
            if (a > offsets[l]) {
                rescaleRow(l, Math.exp(offsets[l] - a)); // exp(-inf) = 0 when empty
                offsets[l] = a;
            }
            // <= 0; a feature that is off (log 0, one-hot maps) adds nothing, even to an empty row (-inf - -inf)
            logWeights[l] = a == Double.NEGATIVE_INFINITY ? Float.NEGATIVE_INFINITY : (float) (a - offsets[l]);
        }
        Vec.expShifted(logWeights, 0, 0f, weights, 0, numFeatures);
        for (int l = 0; l < numFeatures; l++) {
            float w = weights[l];
            if (w == 0f) continue;
            VectorOps.axpy(w, value, valueOff, sums, l * d, d);
            normalizer[l] += w;
        }
    }

    /**
     * Merges a block: the memory is first decayed by exp(logDecayOfOld), then {@code exp(blockOffsets_l) *
     * blockSums_l} is added (blockSums float [m][d], blockNormalizer float [m]).
     */
    public void addBlock(double logDecayOfOld, float[] blockSums, float[] blockNormalizer, double[] blockOffsets) {
        int d = valueDim;
        for (int l = 0; l < numFeatures; l++) {
            double old = offsets[l] + logDecayOfOld;
            double fresh = blockOffsets[l];
            if (fresh == Double.NEGATIVE_INFINITY) {
                offsets[l] = old;
                continue;
            }
            double top = Math.max(old, fresh);
            double oldScale = Math.exp(old - top); // 0 when the memory was empty
            double freshScale = Math.exp(fresh - top);
            VectorOps.scaleAdd(oldScale, sums, l * d, freshScale, blockSums, l * d, d);
            normalizer[l] = oldScale * normalizer[l] + freshScale * blockNormalizer[l];
            offsets[l] = top;
        }
    }

    private void rescaleRow(int l, double scale) {
        int d = valueDim;
        for (int i = 0; i < d; i++) sums[l * d + i] *= scale;
        normalizer[l] *= scale;
    }

    public void copyFrom(KernelMemory other) {
        System.arraycopy(other.sums, 0, sums, 0, sums.length);
        System.arraycopy(other.normalizer, 0, normalizer, 0, normalizer.length);
        System.arraycopy(other.offsets, 0, offsets, 0, offsets.length);
    }

    public static int serializedBytes(int numFeatures, int valueDim) {
        return 8 * (numFeatures * valueDim + 2 * numFeatures);
    }

    public void write(ByteBuffer out) {
        for (double x : sums) out.putDouble(x);
        for (double x : normalizer) out.putDouble(x);
        for (double x : offsets) out.putDouble(x);
    }

    public void read(ByteBuffer in) {
        for (int i = 0; i < sums.length; i++) sums[i] = in.getDouble();
        for (int i = 0; i < normalizer.length; i++) normalizer[i] = in.getDouble();
        for (int i = 0; i < offsets.length; i++) offsets[i] = in.getDouble();
    }

    public long sizeBytes() {
        return serializedBytes(numFeatures, valueDim);
    }
}
