package io.dijiang4j.gpu;

import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.SpecFingerprint;
import io.dijiang4j.attention.features.ProjectionFeatureMap;
import java.util.Objects;

/**
 * The numbers of a feature map in the common form the CUDA kernels evaluate:
 * {@code log phi_l(x) = (x P)_l + logWeight_l + norm(x)}, separately for queries and keys (asymmetric maps).
 *
 * @param inputDim d, the head size
 * @param numFeatures m
 * @param queryProjection P for queries, row-major [d][m]
 * @param keyProjection P for keys, row-major [d][m] (the same array for symmetric maps)
 * @param queryLogWeights [m]
 * @param keyLogWeights [m]
 */
public record FeatureMapParameters(
        int inputDim,
        int numFeatures,
        float[] queryProjection,
        float[] keyProjection,
        float[] queryLogWeights,
        float[] keyLogWeights,
        FeatureMap.Normalization normalization) {

    public FeatureMapParameters {
        Objects.requireNonNull(normalization, "normalization");
        if (inputDim < 1 || numFeatures < 1) throw new IllegalArgumentException("d and m must be >= 1");
        requireLength(queryProjection, (long) inputDim * numFeatures, "query projection");
        requireLength(keyProjection, (long) inputDim * numFeatures, "key projection");
        requireLength(queryLogWeights, numFeatures, "query log weights");
        requireLength(keyLogWeights, numFeatures, "key log weights");
    }

    private static void requireLength(float[] values, long expected, String what) {
        if (values == null || values.length != expected) {
            throw new IllegalArgumentException(
                    what + " must hold " + expected + " floats, got " + (values == null ? "null" : values.length));
        }
        for (float v : values) {
            if (Float.isNaN(v) || v == Float.POSITIVE_INFINITY) {
                throw new IllegalArgumentException(what + " holds a NaN or +infinity");
            }
        }
    }

    /** Adds these numbers to a state fingerprint (by value: the normalization's name, the floats' bits). */
    public SpecFingerprint addTo(SpecFingerprint h) {
        return h.add(inputDim)
                .add(numFeatures)
                .add(normalization)
                .add(queryProjection)
                .add(keyProjection)
                .add(queryLogWeights)
                .add(keyLogWeights);
    }

    /** The parameters of a map of the project's feature-map library ({@link ProjectionFeatureMap}). */
    public static FeatureMapParameters of(FeatureMap map) {
        if (map instanceof ProjectionFeatureMap p) {
            return new FeatureMapParameters(
                    p.inputDim(),
                    p.numFeatures(),
                    p.queryProjection(),
                    p.keyProjection(),
                    p.queryLogWeights(),
                    p.keyLogWeights(),
                    p.normalization());
        }
        throw new IllegalArgumentException(
                "feature map '" + map.name() + "' (" + map.getClass().getName()
                        + ") does not expose its projection, log weights and normalization to the cuda backend");
    }

    /** Row-major [d][m] float copy of a projection given as [d][m] doubles. */
    public static float[] flatten(double[][] projection) {
        int d = projection.length, m = projection[0].length;
        float[] out = new float[d * m];
        for (int i = 0; i < d; i++) {
            if (projection[i].length != m) throw new IllegalArgumentException("ragged projection matrix");
            for (int l = 0; l < m; l++) out[i * m + l] = (float) projection[i][l];
        }
        return out;
    }

    public static float[] toFloats(double[] values) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) out[i] = (float) values[i];
        return out;
    }
}
