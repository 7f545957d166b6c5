package io.dijiang4j.attention.ops.linear;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.FeatureMap;

/**
 * The float64 reference of kernelized attention (MATH.md section 1), quadratic and direct: for every query row n
 * and every key j it may see (j <= n when causal, all j otherwise), the score {@code lambda^(n-j) phi(q_n).phi(k_j)}
 * with phi applied to sqrt(scale) q and sqrt(scale) k, and {@code o_n = sum_j score v_j / sum_j score}. Scores are
 * formed from log-features with a per-feature offset and a per-row maximum (double range, no overflow); the
 * normalizer is then at least about 1 in that scale, so no epsilon is needed. Each KV head uses its own map
 * ({@link AttentionSpec#featureMapOf}).
 */
public final class NaiveLinearAttention {
    private NaiveLinearAttention() {}

    /** Output [length][numHeads*headDim] in double. */
    public static double[] forward(
            AttentionShape shape, AttentionSpec spec, float[] q, float[] k, float[] v, int length) {
        int h = shape.numHeads(), d = shape.headDim();
        int qw = shape.queryWidth(), kw = shape.kvWidth();
        int m = spec.featureMap().numFeatures();
        double root = Math.sqrt(spec.scale());
        double[] out = new double[length * qw];
        double[] x = new double[d];
        for (int head = 0; head < h; head++) {
            int kvh = shape.kvHeadOf(head);
            FeatureMap map = spec.featureMapOf(kvh);
            double lambda = spec.decayOf(head);
            double[][] keyLog = new double[length][m];
            double[] keyMax = new double[m];
            java.util.Arrays.fill(keyMax, Double.NEGATIVE_INFINITY);
            for (int j = 0; j < length; j++) {
                for (int i = 0; i < d; i++) x[i] = root * k[j * kw + kvh * d + i];
                map.logKeyFeatures(x, 0, keyLog[j], 0);
                for (int l = 0; l < m; l++) keyMax[l] = Math.max(keyMax[l], keyLog[j][l]);
            }
            double[][] keyExp = new double[length][m];
            for (int j = 0; j < length; j++) {
                for (int l = 0; l < m; l++) keyExp[j][l] = Math.exp(keyLog[j][l] - keyMax[l]);
            }
            double[] queryLog = new double[m];
            double[] queryExp = new double[m];
            for (int n = 0; n < length; n++) {
                for (int i = 0; i < d; i++) x[i] = root * q[n * qw + head * d + i];
                map.logQueryFeatures(x, 0, queryLog, 0);
                double rowMax = Double.NEGATIVE_INFINITY;
                for (int l = 0; l < m; l++) rowMax = Math.max(rowMax, queryLog[l] + keyMax[l]);
                for (int l = 0; l < m; l++) queryExp[l] = Math.exp(queryLog[l] + keyMax[l] - rowMax);
                int last = spec.causal() ? n : length - 1;
                double den = 0;
                int o = n * qw + head * d;
                for (int j = 0; j <= last; j++) {
                    double s = 0;
                    for (int l = 0; l < m; l++) s += queryExp[l] * keyExp[j][l];
                    if (lambda != 1.0) s *= Math.pow(lambda, n - j);
                    den += s;
                    for (int i = 0; i < d; i++) out[o + i] += s * v[j * kw + kvh * d + i];
                }
                for (int i = 0; i < d; i++) out[o + i] /= den;
            }
        }
        return out;
    }
}
