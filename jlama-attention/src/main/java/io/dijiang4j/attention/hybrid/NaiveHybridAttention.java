package io.dijiang4j.attention.hybrid;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.FeatureMap;
import java.util.Arrays;

/**
 * The float64 reference of the hybrid layer (MATH.md section 3), written from the definition: for query n, the
 * exact set is the sinks {@code j < s0} and the window {@code max(s0, n-w+1) <= j <= n}; the evicted tokens
 * {@code s0 <= j <= n-w} enter through {@code g_h lambda^(n-w-j) phi(q_n).phi(k_j)}; one normalizer over both.
 */
public final class NaiveHybridAttention {
    private NaiveHybridAttention() {}

    public static double[] forward(
            AttentionShape shape, AttentionSpec spec, float[] q, float[] k, float[] v, int length) {
        int d = shape.headDim(), qw = shape.queryWidth(), kw = shape.kvWidth();
        int s0 = spec.sinks(), w = spec.window();
        FeatureMap map = spec.featureMap();
        int m = map.numFeatures();
        double root = Math.sqrt(spec.scale());
        double[] out = new double[length * qw];
        double[] x = new double[d];
        double[] num = new double[d];
        for (int head = 0; head < shape.numHeads(); head++) {
            int kvh = shape.kvHeadOf(head);
            double lambda = spec.decayOf(head);
            double gain = spec.memoryGainOf(head);
            double[][] keyLog = new double[length][m];
            for (int j = 0; j < length; j++) {
                for (int i = 0; i < d; i++) x[i] = root * k[j * kw + kvh * d + i];
                map.logKeyFeatures(x, 0, keyLog[j], 0);
            }
            double[] queryLog = new double[m];
            double[] logits = new double[length];
            boolean[] exact = new boolean[length];
            for (int n = 0; n < length; n++) {
                for (int i = 0; i < d; i++) x[i] = root * q[n * qw + head * d + i];
                map.logQueryFeatures(x, 0, queryLog, 0);
                double c = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= n; j++) {
                    exact[j] = j < s0 || j > n - w;
                    if (exact[j]) {
                        double dot = 0;
                        for (int i = 0; i < d; i++) dot += (double) q[n * qw + head * d + i] * k[j * kw + kvh * d + i];
                        logits[j] = spec.scale() * dot;
                    } else if (gain > 0) { // log of g lambda^(n-w-j) phi(q).phi(k_j), by log-sum-exp over features
                        double max = Double.NEGATIVE_INFINITY;
                        for (int l = 0; l < m; l++) max = Math.max(max, queryLog[l] + keyLog[j][l]);
                        double sum = 0;
                        for (int l = 0; l < m; l++) sum += Math.exp(queryLog[l] + keyLog[j][l] - max);
                        logits[j] = Math.log(gain) + (n - w - j) * Math.log(lambda) + max + Math.log(sum);
                    } else {
                        logits[j] = Double.NEGATIVE_INFINITY;
                    }
                    c = Math.max(c, logits[j]);
                }
                Arrays.fill(num, 0);
                double den = 0;
                for (int j = 0; j <= n; j++) {
                    double e = Math.exp(logits[j] - c);
                    den += e;
                    for (int i = 0; i < d; i++) num[i] += e * v[j * kw + kvh * d + i];
                }
                for (int i = 0; i < d; i++) out[n * qw + head * d + i] = num[i] / den;
            }
        }
        return out;
    }
}
