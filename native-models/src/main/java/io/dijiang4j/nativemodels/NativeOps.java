package io.dijiang4j.nativemodels;

/** The per-token operations the native models share (norms, activations, softmax); dense layers are {@link Linear}. */
public final class NativeOps {

    private NativeOps() {}

    public static float[] layerNorm(float[] x, float[] weight, float[] bias, double eps) {
        int n = x.length;
        double mean = 0;
        for (float v : x) mean += v;
        mean /= n;
        double var = 0;
        for (float v : x) var += (v - mean) * (v - mean);
        var /= n;
        double inv = 1.0 / Math.sqrt(var + eps);
        float[] y = new float[n];
        for (int i = 0; i < n; i++) y[i] = (float) ((x[i] - mean) * inv * weight[i] + bias[i]);
        return y;
    }

    /** x / sqrt(mean(x^2) + eps), optionally times a weight (null: no scale, as TransNormer's SRMSNorm). */
    public static float[] rmsNorm(float[] x, float[] weight, double eps) {
        double ss = 0;
        for (float v : x) ss += (double) v * v;
        double inv = 1.0 / Math.sqrt(ss / x.length + eps);
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) y[i] = (float) (x[i] * inv * (weight == null ? 1.0 : weight[i]));
        return y;
    }

    public static double silu(double x) {
        return x / (1.0 + Math.exp(-x));
    }

    public static double sigmoid(double x) {
        return x >= 0 ? 1.0 / (1.0 + Math.exp(-x)) : Math.exp(x) / (1.0 + Math.exp(x));
    }

    /** Exact GELU, x Phi(x), as torch's default ("gelu" in HF configs). */
    public static double gelu(double x) {
        return 0.5 * x * (1.0 + erf(x / Math.sqrt(2.0)));
    }

    /** The tanh approximation ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"). */
    public static double geluTanh(double x) {
        return 0.5 * x * (1.0 + Math.tanh(Math.sqrt(2.0 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    /** erf with relative error below 1.2e-7 everywhere (Numerical Recipes' Chebyshev fit of erfc). */
    public static double erf(double x) {
        double z = Math.abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double ans = t
                * Math.exp(
                        -z * z
                                - 1.26551223
                                + t
                                        * (1.00002368
                                                + t
                                                        * (0.37409196
                                                                + t
                                                                        * (0.09678418
                                                                                + t
                                                                                        * (-0.18628806
                                                                                                + t
                                                                                                        * (0.27886807
                                                                                                                + t
                                                                                                                        * (-1.13520398
                                                                                                                                + t
                                                                                                                                        * (1.48851587
                                                                                                                                                + t
                                                                                                                                                        * (-0.82215223
                                                                                                                                                                + t
                                                                                                                                                                        * 0.17087277)))))))));
        return x >= 0 ? 1.0 - ans : ans - 1.0;
    }

    /** Activation by its HF config name; an unknown name is a one-line error. */
    public static java.util.function.DoubleUnaryOperator activation(String name) {
        return switch (name) {
            case "gelu" -> NativeOps::gelu;
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> NativeOps::geluTanh;
            case "silu", "swish" -> NativeOps::silu;
            case "relu" -> v -> Math.max(0, v);
            case "sigmoid" -> NativeOps::sigmoid;
            default -> throw new IllegalArgumentException("unsupported activation '" + name + "'");
        };
    }

    /** In-place softmax of x[off..off+n), max-subtracted. */
    public static void softmax(double[] x, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            x[off + i] = Math.exp(x[off + i] - max);
            sum += x[off + i];
        }
        for (int i = 0; i < n; i++) x[off + i] /= sum;
    }

    /**
     * Runs body(i) for i in [0, n): in parallel over the common pool when there are several (the per-token and
     * per-head work of a prefill is independent), inline for one or two (decode).
     */
    public static void forEachIndex(int n, java.util.function.IntConsumer body) {
        if (n <= 2) {
            for (int i = 0; i < n; i++) body.accept(i);
        } else {
            java.util.stream.IntStream.range(0, n).parallel().forEach(body);
        }
    }

    /** Throws if a value is NaN or infinite: no non-finite value leaves a model. */
    public static float[] requireFinite(float[] x, String what) {
        for (float v : x) {
            if (!Float.isFinite(v)) throw new ArithmeticException(what + " is not finite");
        }
        return x;
    }
}
