package io.dijiang4j.attention.ops.softmax;

import io.dijiang4j.attention.AttentionShape;

/** Exact softmax attention in float64 (the target the hybrid must equal when its window covers everything). */
public final class NaiveSoftmaxAttention {
    private NaiveSoftmaxAttention() {}

    public static double[] forward(
            AttentionShape shape, double scale, boolean causal, float[] q, float[] k, float[] v, int length) {
        int d = shape.headDim(), qw = shape.queryWidth(), kw = shape.kvWidth();
        double[] out = new double[length * qw];
        double[] logits = new double[length];
        for (int head = 0; head < shape.numHeads(); head++) {
            int kvh = shape.kvHeadOf(head);
            for (int n = 0; n < length; n++) {
                int last = causal ? n : length - 1;
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= last; j++) {
                    double s = 0;
                    for (int i = 0; i < d; i++) s += (double) q[n * qw + head * d + i] * k[j * kw + kvh * d + i];
                    logits[j] = scale * s;
                    max = Math.max(max, logits[j]);
                }
                double den = 0;
                int o = n * qw + head * d;
                for (int j = 0; j <= last; j++) {
                    double w = Math.exp(logits[j] - max);
                    den += w;
                    for (int i = 0; i < d; i++) out[o + i] += w * v[j * kw + kvh * d + i];
                }
                for (int i = 0; i < d; i++) out[o + i] /= den;
            }
        }
        return out;
    }
}
