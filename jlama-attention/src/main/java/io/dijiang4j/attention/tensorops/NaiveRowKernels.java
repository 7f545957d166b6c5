package io.dijiang4j.attention.tensorops;

/** The float64 twins of {@link RowKernels}, written from their definitions. For tests. */
public final class NaiveRowKernels {
    private NaiveRowKernels() {}

    /** {@link RowKernels#rmsNorm} in double. */
    public static double[] rmsNorm(float[] x, int xo, int n, float[] w, float adjust, float divisor, float eps) {
        double ss = 0;
        for (int j = 0; j < n; j++) ss += (double) x[xo + j] * x[xo + j];
        double inv = 1 / Math.sqrt(ss / divisor + eps);
        double[] out = new double[n];
        for (int j = 0; j < n; j++) out[j] = ((double) adjust + w[j]) * x[xo + j] * inv;
        return out;
    }

    /** {@link RowKernels#siluMul} in double, returned instead of written. */
    public static double[] siluMul(float[] gate, int g, float[] up, int u, int n) {
        double[] out = new double[n];
        for (int j = 0; j < n; j++) {
            double x = gate[g + j];
            out[j] = x / (1 + Math.exp(-x)) * up[u + j];
        }
        return out;
    }
}
