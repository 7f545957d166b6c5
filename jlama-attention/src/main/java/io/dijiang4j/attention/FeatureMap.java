package io.dijiang4j.attention;

/**
 * A positive feature map phi: R^d -> R^m_+, evaluated in the log domain so that no exponential can overflow:
 * {@code out[l] = log phi_l(x)}, finite. Every map the project ships is a projection followed by an exponential,
 * {@code log phi_l(x) = (x P)_l + logWeight_l + norm(x)}, with {@code norm} one of {@link Normalization}; that
 * common form is what the GPU module implements. Maps may treat queries and keys differently (asymmetric maps).
 */
public interface FeatureMap {
    enum Normalization {
        /** WDCF as the paper writes it: D o exp(T C x). */
        NONE,
        /**
         * Positive random features (Performer / PRF / PFF): exp(w.x - |x|^2/2) / sqrt(m); norm(x) = -|x|^2/2, the
         * 1/sqrt(m) (or the weights) in logWeight.
         */
        GAUSSIAN,
        /**
         * The released DiJiang code: softmax over the m features of x P; norm(x) = -logsumexp_l (x P)_l, the weights
         * multiply the softmax from outside.
         */
        SOFTMAX
    }

    /** A short identifier used in profiles and logs: "wdcf", "dijiang-code", "performer", ... */
    String name();

    int inputDim();

    int numFeatures();

    /**
     * Adds what identifies this map's values to a state fingerprint: its name and sizes here; a map with parameters
     * (projections, weights, centroids) must add them too, else states of another calibration are not refused.
     */
    default void addTo(SpecFingerprint h) {
        h.add(name()).add(inputDim()).add(numFeatures());
    }

    /** log phi(x) of a query, x = q[off .. off+inputDim), into out[outOff .. outOff+numFeatures). */
    void logQueryFeatures(float[] x, int off, float[] out, int outOff);

    /** log phi(x) of a key; equal to the query form for symmetric maps. */
    default void logKeyFeatures(float[] x, int off, float[] out, int outOff) {
        logQueryFeatures(x, off, out, outOff);
    }

    /**
     * log phi of a query in float64, for the naive references. The default rounds x to float and widens the float
     * result; maps with exact parameters override it to evaluate in double.
     */
    default void logQueryFeatures(double[] x, int off, double[] out, int outOff) {
        float[] xf = new float[inputDim()];
        for (int i = 0; i < xf.length; i++) xf[i] = (float) x[off + i];
        float[] of = new float[numFeatures()];
        logQueryFeatures(xf, 0, of, 0);
        for (int l = 0; l < of.length; l++) out[outOff + l] = of[l];
    }

    /** log phi of a key in float64; see {@link #logQueryFeatures(double[], int, double[], int)}. */
    default void logKeyFeatures(double[] x, int off, double[] out, int outOff) {
        float[] xf = new float[inputDim()];
        for (int i = 0; i < xf.length; i++) xf[i] = (float) x[off + i];
        float[] of = new float[numFeatures()];
        logKeyFeatures(xf, 0, of, 0);
        for (int l = 0; l < of.length; l++) out[outOff + l] = of[l];
    }

    /**
     * log phi of {@code rows} queries {@code inputScale * x[off + r*stride ..]}, into {@code out[outOff +
     * r*numFeatures]}. The scale is applied inside so callers need not copy their rows.
     */
    default void logQueryFeatures(float[] x, int off, int stride, int rows, float inputScale, float[] out, int outOff) {
        float[] row = new float[inputDim()];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < row.length; i++) row[i] = inputScale * x[off + r * stride + i];
            logQueryFeatures(row, 0, out, outOff + r * numFeatures());
        }
    }

    /** log phi of {@code rows} keys; see {@link #logQueryFeatures(float[], int, int, int, float, float[], int)}. */
    default void logKeyFeatures(float[] x, int off, int stride, int rows, float inputScale, float[] out, int outOff) {
        float[] row = new float[inputDim()];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < row.length; i++) row[i] = inputScale * x[off + r * stride + i];
            logKeyFeatures(row, 0, out, outOff + r * numFeatures());
        }
    }
}
