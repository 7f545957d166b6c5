package io.dijiang4j.attention.ops.linear;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.FeatureMap;

/**
 * The float64 reference of kernelized attention (docs/MATH.md §1), quadratic and direct: for every query row n
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
        return forward(shape, spec, q, k, v, length, null);
    }

    /**
     * Causal, with a decay per position and query head: {@code logDecay[t*numHeads + h]} = log lambda_(t,h) (finite,
     * <= 0), {@code S_t = lambda_t S_(t-1) + phi(k_t) v_t^T}, so key j weighs {@code prod_(j < t <= n) lambda_t} in
     * query n; the product is summed in log space from n down to j, never formed as a ratio. The spec's constant
     * decay must be null.
     */
    public static double[] forwardWithPositionDecay(
            AttentionShape shape, AttentionSpec spec, float[] q, float[] k, float[] v, int length, double[] logDecay) {
        if (spec.decay() != null || !spec.causal()) {
            throw new IllegalArgumentException("per-position decay needs a causal spec without constant decay");
        }
        if (logDecay.length < (long) length * shape.numHeads()) {
            throw new IllegalArgumentException(
                    "logDecay holds " + logDecay.length + " values, need " + length * shape.numHeads());
        }
        return forward(shape, spec, q, k, v, length, logDecay);
    }

    private static double[] forward(
            AttentionShape shape, AttentionSpec spec, float[] q, float[] k, float[] v, int length, double[] logDecay) {
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
            double[] weight = new double[length];
            for (int n = 0; n < length; n++) {
                for (int i = 0; i < d; i++) x[i] = root * q[n * qw + head * d + i];
                map.logQueryFeatures(x, 0, queryLog, 0);
                double rowMax = Double.NEGATIVE_INFINITY;
                for (int l = 0; l < m; l++) rowMax = Math.max(rowMax, queryLog[l] + keyMax[l]);
                for (int l = 0; l < m; l++) queryExp[l] = Math.exp(queryLog[l] + keyMax[l] - rowMax);
                int last = spec.causal() ? n : length - 1;
                if (logDecay != null) { // weight[j] = exp(sum of log lambda_t over j < t <= n)
                    double sum = 0;
                    for (int j = n; j >= 0; j--) {
                        weight[j] = Math.exp(sum);
                        sum += logDecay[j * h + head];
                    }
                }
                double den = 0;
                int o = n * qw + head * d;
                for (int j = 0; j <= last; j++) {
                    double s = 0;
                    for (int l = 0; l < m; l++) s += queryExp[l] * keyExp[j][l];
                    if (lambda != 1.0) s *= Math.pow(lambda, n - j);
                    if (logDecay != null) s *= weight[j];
                    den += s;
                    for (int i = 0; i < d; i++) out[o + i] += s * v[j * kw + kvh * d + i];
                }
                for (int i = 0; i < d; i++) out[o + i] /= den;
            }
        }
        return out;
    }
}
