package io.dijiang4j.nativemodels;

import io.dijiang4j.attention.simd.VectorOps;
import java.util.stream.IntStream;

/**
 * A dense layer y = x W (+ b) with W kept as [in][out] (transposed once at load from nn.Linear's [out][in]), so a
 * single token is a sequence of vectorized axpy over rows and a batch of tokens is one register-blocked GEMM
 * (the kernel library's), split over the common pool in row blocks.
 */
public final class Linear {

    private static final int ROW_BLOCK = 32;

    private final float[] weightInOut;
    private final float[] bias;
    private final int in;
    private final int out;

    private Linear(float[] weightInOut, float[] bias, int in, int out) {
        this.weightInOut = weightInOut;
        this.bias = bias;
        this.in = in;
        this.out = out;
    }

    /** From nn.Linear's row-major [out][in] weight; bias may be null. */
    public static Linear fromOutIn(float[] w, float[] bias, int out, int in) {
        float[] t = new float[in * out];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) t[i * out + o] = w[o * in + i];
        }
        return new Linear(t, bias, in, out);
    }

    /** From a parameter used as {@code x @ W}, row-major [in][out]. */
    public static Linear fromInOut(float[] w, int in, int out) {
        return new Linear(w, null, in, out);
    }

    public int in() {
        return in;
    }

    public int out() {
        return out;
    }

    public float[] apply(float[] x) {
        float[] y = bias == null ? new float[out] : bias.clone();
        for (int i = 0; i < in; i++) {
            if (x[i] != 0) VectorOps.axpy(x[i], weightInOut, i * out, y, 0, out);
        }
        return y;
    }

    /** One row of output per row of xs. */
    public float[][] apply(float[][] xs) {
        int t = xs.length;
        float[][] ys = new float[t][];
        if (t < 4) {
            for (int r = 0; r < t; r++) ys[r] = apply(xs[r]);
            return ys;
        }
        int blocks = (t + ROW_BLOCK - 1) / ROW_BLOCK;
        IntStream.range(0, blocks).parallel().forEach(b -> {
            int r0 = b * ROW_BLOCK;
            int rows = Math.min(ROW_BLOCK, t - r0);
            float[] a = new float[rows * in];
            float[] c = new float[rows * out];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(xs[r0 + r], 0, a, r * in, in);
                if (bias != null) System.arraycopy(bias, 0, c, r * out, out);
            }
            VectorOps.gemm(a, 0, in, weightInOut, 0, out, c, 0, out, rows, in, out);
            for (int r = 0; r < rows; r++) {
                ys[r0 + r] = java.util.Arrays.copyOfRange(c, r * out, (r + 1) * out);
            }
        });
        return ys;
    }
}
