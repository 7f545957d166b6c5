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
        /** Positive random features (Performer / PRF / PFF): exp(w.x - |x|^2/2) / sqrt(m). */
        GAUSSIAN,
        /** The released DiJiang code: softmax over the m features of x P. */
        SOFTMAX
    }

    /** A short identifier used in profiles and logs: "wdcf", "dijiang-code", "performer", ... */
    String name();

    int inputDim();

    int numFeatures();

    /** log phi(x) of a query, x = q[off .. off+inputDim), into out[outOff .. outOff+numFeatures). */
    void logQueryFeatures(float[] x, int off, float[] out, int outOff);

    /** log phi(x) of a key; equal to the query form for symmetric maps. */
    default void logKeyFeatures(float[] x, int off, float[] out, int outOff) {
        logQueryFeatures(x, off, out, outOff);
    }
}
