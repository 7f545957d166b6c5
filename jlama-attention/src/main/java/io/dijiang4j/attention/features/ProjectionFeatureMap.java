package io.dijiang4j.attention.features;

import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.SpecFingerprint;
import io.dijiang4j.attention.simd.Vec;
import io.dijiang4j.attention.simd.VectorOps;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.Objects;

/**
 * Every feature map the project ships: {@code log phi_l(x) = (x P)_l + logWeight_l + norm(x)} with
 *
 * <ul>
 *   <li>{@link Normalization#NONE}: {@code norm = 0} (WDCF as the paper writes it, {@code D o exp(T C x)});
 *   <li>{@link Normalization#GAUSSIAN}: {@code norm = -|x|^2/2} (positive random features);
 *   <li>{@link Normalization#SOFTMAX}: {@code norm = -logsumexp_l (x P)_l}, the softmax over features of the raw
 *       projection; the weights multiply the softmax from outside.
 * </ul>
 *
 * P is row-major {@code [inputDim][numFeatures]}; queries and keys may use different P and weights (asymmetric
 * maps), the shipped maps are symmetric. Immutable; the float arrays are the exact parameters, so every backend
 * (CPU float, float64 reference, CUDA) evaluates the same map. A zero feature weight is stored as the finite log
 * weight {@link #LOG_ZERO_WEIGHT} (its feature then underflows to exactly 0).
 */
public final class ProjectionFeatureMap implements FeatureMap {
    /** The log weight that stands for a zero weight: finite, and exp of it is 0 in float and double. */
    public static final float LOG_ZERO_WEIGHT = -1e4f;

    private static final int MAGIC = 0x444a464d; // "DJFM"
    private static final int VERSION = 1;

    private final String name;
    private final int inputDim;
    private final int numFeatures;
    private final Normalization normalization;
    private final float[] queryProjection;
    private final float[] keyProjection;
    private final float[] queryLogWeights;
    private final float[] keyLogWeights;

    public ProjectionFeatureMap(
            String name,
            int inputDim,
            int numFeatures,
            Normalization normalization,
            float[] queryProjection,
            float[] keyProjection,
            float[] queryLogWeights,
            float[] keyLogWeights) {
        this.name = Objects.requireNonNull(name, "name");
        if (inputDim < 1 || numFeatures < 1) {
            throw new IllegalArgumentException(
                    "feature map needs input dim >= 1 and features >= 1, got " + inputDim + ", " + numFeatures);
        }
        this.inputDim = inputDim;
        this.numFeatures = numFeatures;
        this.normalization = Objects.requireNonNull(normalization, "normalization");
        this.queryProjection = checked(queryProjection, inputDim * numFeatures, "query projection");
        this.keyProjection = keyProjection == queryProjection
                ? this.queryProjection
                : checked(keyProjection, inputDim * numFeatures, "key projection");
        this.queryLogWeights = checked(queryLogWeights, numFeatures, "query log weights");
        this.keyLogWeights = keyLogWeights == queryLogWeights
                ? this.queryLogWeights
                : checked(keyLogWeights, numFeatures, "key log weights");
    }

    /** A symmetric map (queries and keys share P and the weights). */
    public static ProjectionFeatureMap symmetric(
            String name, int inputDim, int numFeatures, Normalization norm, float[] projection, float[] logWeights) {
        return new ProjectionFeatureMap(
                name, inputDim, numFeatures, norm, projection, projection, logWeights, logWeights);
    }

    private static float[] checked(float[] values, int length, String what) {
        if (values == null || values.length != length) {
            throw new IllegalArgumentException(what + " must hold " + length + " values, got "
                    + (values == null ? "null" : String.valueOf(values.length)));
        }
        for (float v : values) {
            if (!Float.isFinite(v)) throw new IllegalArgumentException(what + " holds a NaN or infinite value");
        }
        return values.clone();
    }

    /**
     * The same map with per-feature weights D (phi = D o exp(...), on queries and keys, so the kernel weight of
     * feature l is D_l^2). Weights must be finite and >= 0, not all zero.
     */
    public ProjectionFeatureMap withWeights(double[] weights) {
        FeatureWeights.check(weights, numFeatures, "feature weight");
        float[] logs = new float[numFeatures];
        for (int l = 0; l < numFeatures; l++) logs[l] = FeatureWeights.log(weights[l]);
        return new ProjectionFeatureMap(
                name, inputDim, numFeatures, normalization, queryProjection, keyProjection, logs, logs);
    }

    /**
     * The same map with the kernel term of feature l, {@code phi_l(q) phi_l(k)}, multiplied by {@code factors[l]}
     * (relative to the current weights, unlike {@link #withWeights}): {@code 0.5 log factor_l} is added to the query
     * and the key log weight, so the map stays symmetric when it was. This is how NNLS weights fitted on this map's
     * features apply ({@code io.dijiang4j.attention.fit.MemoryFit}). Factors finite and >= 0, not all 0; a factor 0
     * stores {@link #LOG_ZERO_WEIGHT} on both sides (the feature is switched off by a finite floor).
     */
    public ProjectionFeatureMap withKernelWeights(double[] factors) {
        FeatureWeights.check(factors, numFeatures, "kernel weight");
        float[] queryLogs = new float[numFeatures];
        float[] keyLogs = new float[numFeatures];
        for (int l = 0; l < numFeatures; l++) {
            double half = factors[l] > 0 ? 0.5 * Math.log(factors[l]) : Double.NEGATIVE_INFINITY;
            queryLogs[l] = (float) Math.max(queryLogWeights[l] + half, LOG_ZERO_WEIGHT);
            keyLogs[l] = (float) Math.max(keyLogWeights[l] + half, LOG_ZERO_WEIGHT);
        }
        boolean shared = queryLogWeights == keyLogWeights || Arrays.equals(queryLogWeights, keyLogWeights);
        return new ProjectionFeatureMap(
                name,
                inputDim,
                numFeatures,
                normalization,
                queryProjection,
                keyProjection,
                queryLogs,
                shared ? queryLogs : keyLogs);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int inputDim() {
        return inputDim;
    }

    @Override
    public int numFeatures() {
        return numFeatures;
    }

    public Normalization normalization() {
        return normalization;
    }

    public boolean isSymmetric() {
        return Arrays.equals(queryProjection, keyProjection) && Arrays.equals(queryLogWeights, keyLogWeights);
    }

    /** P for queries, row-major [inputDim][numFeatures] (a copy). */
    public float[] queryProjection() {
        return queryProjection.clone();
    }

    /** P for keys, row-major [inputDim][numFeatures] (a copy). */
    public float[] keyProjection() {
        return keyProjection.clone();
    }

    /** log weights of queries (a copy). */
    public float[] queryLogWeights() {
        return queryLogWeights.clone();
    }

    /** log weights of keys (a copy). */
    public float[] keyLogWeights() {
        return keyLogWeights.clone();
    }

    @Override
    public void logQueryFeatures(float[] x, int off, float[] out, int outOff) {
        evaluate(queryProjection, queryLogWeights, x, off, out, outOff);
    }

    @Override
    public void logKeyFeatures(float[] x, int off, float[] out, int outOff) {
        evaluate(keyProjection, keyLogWeights, x, off, out, outOff);
    }

    @Override
    public void logQueryFeatures(double[] x, int off, double[] out, int outOff) {
        evaluate(queryProjection, queryLogWeights, x, off, out, outOff);
    }

    @Override
    public void logKeyFeatures(double[] x, int off, double[] out, int outOff) {
        evaluate(keyProjection, keyLogWeights, x, off, out, outOff);
    }

    @Override
    public void logQueryFeatures(float[] x, int off, int stride, int rows, float inputScale, float[] out, int outOff) {
        evaluateRows(queryProjection, queryLogWeights, x, off, stride, rows, inputScale, out, outOff);
    }

    @Override
    public void logKeyFeatures(float[] x, int off, int stride, int rows, float inputScale, float[] out, int outOff) {
        evaluateRows(keyProjection, keyLogWeights, x, off, stride, rows, inputScale, out, outOff);
    }

    private void evaluate(float[] p, float[] logWeights, float[] x, int off, float[] out, int outOff) {
        int m = numFeatures;
        Arrays.fill(out, outOff, outOff + m, 0f);
        for (int i = 0; i < inputDim; i++) {
            float xi = x[off + i];
            if (xi != 0f) VectorOps.axpy(xi, p, i * m, out, outOff, m);
        }
        finish(logWeights, x, off, out, outOff);
    }

    private void evaluateRows(
            float[] p,
            float[] logWeights,
            float[] x,
            int off,
            int stride,
            int rows,
            float inputScale,
            float[] out,
            int outOff) {
        int m = numFeatures;
        Arrays.fill(out, outOff, outOff + rows * m, 0f);
        VectorOps.gemm(x, off, stride, p, 0, m, out, outOff, m, rows, inputDim, m);
        for (int r = 0; r < rows; r++) {
            int o = outOff + r * m;
            float shift = 0f;
            if (normalization == Normalization.GAUSSIAN) {
                shift = -0.5f
                        * inputScale
                        * inputScale
                        * VectorOps.dot(x, off + r * stride, x, off + r * stride, inputDim);
            }
            VectorOps.scaleAdd(inputScale, out, o, logWeights, 0, shift, m);
            if (normalization == Normalization.SOFTMAX) softmaxShift(logWeights, out, o);
        }
    }

    private void finish(float[] logWeights, float[] x, int off, float[] out, int outOff) {
        int m = numFeatures;
        if (normalization == Normalization.SOFTMAX) {
            for (int l = 0; l < m; l++) out[outOff + l] += logWeights[l];
            softmaxShift(logWeights, out, outOff);
            return;
        }
        float shift = normalization == Normalization.GAUSSIAN ? -0.5f * VectorOps.dot(x, off, x, off, inputDim) : 0f;
        for (int l = 0; l < m; l++) out[outOff + l] += logWeights[l] + shift;
    }

    /**
     * out holds (x P)_l + logWeight_l: subtracts logsumexp_l (x P)_l (the softmax over the raw projection; the
     * weights stay outside).
     */
    private void softmaxShift(float[] logWeights, float[] out, int o) {
        int m = numFeatures;
        float max = Float.NEGATIVE_INFINITY;
        for (int l = 0; l < m; l++) max = Math.max(max, out[o + l] - logWeights[l]);
        double sum = 0;
        for (int l = 0; l < m; l++) sum += Vec.exp(out[o + l] - logWeights[l] - max);
        float shift = (float) (-max - Math.log(sum));
        for (int l = 0; l < m; l++) out[o + l] += shift;
    }

    private void evaluate(float[] p, float[] logWeights, double[] x, int off, double[] out, int outOff) {
        int m = numFeatures;
        Arrays.fill(out, outOff, outOff + m, 0.0);
        for (int i = 0; i < inputDim; i++) {
            double xi = x[off + i];
            int row = i * m;
            for (int l = 0; l < m; l++) out[outOff + l] += xi * p[row + l];
        }
        double shift = 0;
        switch (normalization) {
            case NONE -> {}
            case GAUSSIAN -> {
                double sq = 0;
                for (int i = 0; i < inputDim; i++) sq += x[off + i] * x[off + i];
                shift = -0.5 * sq;
            }
            case SOFTMAX -> {
                double max = Double.NEGATIVE_INFINITY;
                for (int l = 0; l < m; l++) max = Math.max(max, out[outOff + l]);
                double sum = 0;
                for (int l = 0; l < m; l++) sum += Math.exp(out[outOff + l] - max);
                shift = -max - Math.log(sum);
            }
        }
        for (int l = 0; l < m; l++) out[outOff + l] += logWeights[l] + shift;
    }

    /** Serializes the map (name, sizes, normalization, P and the weights). */
    public byte[] toBytes() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeInt(VERSION);
            out.writeUTF(name);
            out.writeInt(inputDim);
            out.writeInt(numFeatures);
            out.writeUTF(normalization.name());
            for (float[] a : new float[][] {queryProjection, keyProjection, queryLogWeights, keyLogWeights}) {
                for (float v : a) out.writeFloat(v);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** Reads {@link #toBytes()}; bytes of anything else are rejected with one clear message. */
    public static ProjectionFeatureMap fromBytes(byte[] bytes) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            if (in.readInt() != MAGIC) throw new IllegalArgumentException("not a serialized feature map");
            int version = in.readInt();
            if (version != VERSION) throw new IllegalArgumentException("unsupported feature map version " + version);
            String name = in.readUTF();
            int d = in.readInt(), m = in.readInt();
            if (d < 1 || m < 1 || (long) d * m > (1 << 26)) {
                throw new IllegalArgumentException("corrupt feature map sizes " + d + " x " + m);
            }
            Normalization norm = Normalization.valueOf(in.readUTF());
            float[] qp = readFloats(in, d * m), kp = readFloats(in, d * m);
            float[] qw = readFloats(in, m), kw = readFloats(in, m);
            if (in.available() > 0) throw new IllegalArgumentException("trailing bytes after the feature map");
            return new ProjectionFeatureMap(name, d, m, norm, qp, kp, qw, kw);
        } catch (IOException e) {
            throw new IllegalArgumentException("truncated or corrupt feature map bytes: " + e.getMessage());
        }
    }

    private static float[] readFloats(DataInputStream in, int n) throws IOException {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = in.readFloat();
        return a;
    }

    @Override
    public void addTo(SpecFingerprint h) {
        FeatureMap.super.addTo(h);
        h.add(normalization)
                .add(queryProjection)
                .add(keyProjection)
                .add(queryLogWeights)
                .add(keyLogWeights);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ProjectionFeatureMap f
                && name.equals(f.name)
                && inputDim == f.inputDim
                && numFeatures == f.numFeatures
                && normalization == f.normalization
                && Arrays.equals(queryProjection, f.queryProjection)
                && Arrays.equals(keyProjection, f.keyProjection)
                && Arrays.equals(queryLogWeights, f.queryLogWeights)
                && Arrays.equals(keyLogWeights, f.keyLogWeights);
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                name,
                inputDim,
                numFeatures,
                normalization.name(),
                Arrays.hashCode(queryProjection),
                Arrays.hashCode(keyProjection),
                Arrays.hashCode(queryLogWeights),
                Arrays.hashCode(keyLogWeights));
    }

    @Override
    public String toString() {
        return name + "(d=" + inputDim + ", m=" + numFeatures + ", " + normalization + ")";
    }
}
