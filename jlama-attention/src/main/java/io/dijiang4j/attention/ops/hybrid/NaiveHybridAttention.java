package io.dijiang4j.attention.ops.hybrid;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.OnlineCentroidMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The float64 reference of the hybrid layer (docs/MATH.md §4), written from the definition: for query n, the
 * exact set is the sinks {@code j < s0}, the window {@code max(s0, n-w+1) <= j <= n} and the exact cache; the
 * evicted tokens folded into the memory enter through {@code g_h lambda^(n-w-j) phi(q_n).phi(k_j)}; one normalizer
 * over both. Each KV head uses its own feature map ({@link AttentionSpec#featureMapOf}).
 *
 * <p>Exact cache ({@code C = spec.exactCache() > 0}), per KV head, processed query by query:
 *
 * <ol>
 *   <li>Token j = n - w leaves the window when query n is processed (before it is answered). If j >= s0 it is a
 *       candidate: with fewer than C tokens in the cache it is inserted; otherwise it competes with the cache entry
 *       of lowest priority (ties: the older position), and the one of lower priority (ties: the older position,
 *       i.e. the entry) is folded into the memory, the other stays. With C = 0 every such token is folded.
 *   <li>Query n attends exactly to the sinks, the cache and the window, and to the folded tokens through the
 *       memory, all under one normalizer.
 *   <li>{@link ExactCachePolicy#HEAVY_HITTER}: a token's priority is the sum, over the query heads of its KV group
 *       and over every query n' that had it in its exact set (window or cache), of its normalized probability
 *       p(n', j) (the normalizer includes the memory term).
 *   <li>{@link ExactCachePolicy#SELF_RECALL}: a token's priority, fixed when it leaves the window, is the memory's
 *       recall error |v_j - m(k_j)|^2, m(k) = sum_l phi_l(k) S_l / sum_l phi_l(k) z_l (phi the query-side map of
 *       sqrt(tau) k, S and z the folded tokens before this step's fold); |v_j|^2 while nothing is folded.
 *   <li>Decay and a cache together are rejected (a token folded late would need lambda^(n-w-j)).
 * </ol>
 *
 * <p>Online centroid memory ({@link OnlineCentroidMap}, L = its number of clusters), per KV head: the folded tokens
 * form a list of clusters (sets of positions). A folded token is appended as a cluster of its own; when the list then
 * holds L + 1 clusters, the pair a < b whose key means are closest (squared Euclidean distance of the raw keys'
 * means; ties to the first pair in the order (0,1), (0,2), ..., (1,2), ...) becomes one cluster at place a, and the
 * last cluster takes place b (unless b is the last). Query n sees cluster l as one term of weight {@code g |l| exp(tau
 * q . mean_l(k))} and value {@code mean_l(v)}; self-recall reads the same terms with the key as the query.
 */
public final class NaiveHybridAttention {
    private NaiveHybridAttention() {}

    public static double[] forward(
            AttentionShape shape, AttentionSpec spec, float[] q, float[] k, float[] v, int length) {
        int d = shape.headDim(), qw = shape.queryWidth(), kw = shape.kvWidth(), group = shape.groupSize();
        int s0 = spec.sinks(), w = spec.window(), cacheSize = spec.exactCache();
        if (cacheSize > 0 && spec.decay() != null) {
            throw new IllegalArgumentException("an exact cache needs decay == null");
        }
        boolean heavyHitter = spec.cachePolicy() == ExactCachePolicy.HEAVY_HITTER;
        int m = spec.featureMap().numFeatures();
        boolean online = spec.featureMap() instanceof OnlineCentroidMap;
        double root = Math.sqrt(spec.scale());
        double[] out = new double[length * qw];
        double[] x = new double[d];
        double[] num = new double[d];
        for (int kvh = 0; kvh < shape.numKvHeads(); kvh++) {
            FeatureMap map = spec.featureMapOf(kvh);
            double[][] keyLog = new double[length][m];
            double[][] keyAsQueryLog = new double[length][m]; // self-recall: the key through the query-side map
            for (int j = 0; j < length && !online; j++) {
                for (int i = 0; i < d; i++) x[i] = root * k[j * kw + kvh * d + i];
                map.logKeyFeatures(x, 0, keyLog[j], 0);
                map.logQueryFeatures(x, 0, keyAsQueryLog[j], 0);
            }
            Clusters clusters = online ? new Clusters(m, k, v, kw, kvh * d, d) : null;
            boolean[] folded = new boolean[length];
            boolean[] cached = new boolean[length];
            double[] priority = new double[length];
            int cacheCount = 0;
            double[] queryLog = new double[m];
            double[] logits = new double[length];
            boolean[] exact = new boolean[length];
            for (int n = 0; n < length; n++) {
                int leaving = n - w;
                if (leaving >= s0) {
                    if (cacheSize == 0) {
                        folded[leaving] = true;
                        if (online) clusters.fold(leaving);
                    } else {
                        if (!heavyHitter)
                            priority[leaving] = online
                                    ? clusters.recallError(leaving, spec.scale())
                                    : recallError(keyAsQueryLog[leaving], keyLog, folded, v, kw, kvh, d, leaving);
                        if (cacheCount < cacheSize) {
                            cached[leaving] = true;
                            cacheCount++;
                        } else {
                            int lowest = -1;
                            for (int j = 0; j < leaving; j++) {
                                if (cached[j] && (lowest < 0 || priority[j] < priority[lowest]))
                                    lowest = j; // ascending: ties keep the older
                            }
                            int loser = priority[leaving] < priority[lowest] ? leaving : lowest;
                            cached[loser] = false;
                            folded[loser] = true;
                            cached[leaving] = loser != leaving;
                            if (online) clusters.fold(loser);
                        }
                    }
                }
                for (int head = kvh * group; head < (kvh + 1) * group; head++) {
                    double lambda = spec.decayOf(head);
                    double gain = spec.memoryGainOf(head);
                    for (int i = 0; i < d; i++) x[i] = root * q[n * qw + head * d + i];
                    if (!online) map.logQueryFeatures(x, 0, queryLog, 0);
                    double c = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= n; j++) {
                        exact[j] = j < s0 || j > n - w || cached[j];
                        if (exact[j]) {
                            double dot = 0;
                            for (int i = 0; i < d; i++)
                                dot += (double) q[n * qw + head * d + i] * k[j * kw + kvh * d + i];
                            logits[j] = spec.scale() * dot;
                        } else if (gain > 0 && !online) { // log g lambda^(n-w-j) phi(q).phi(k_j), log-sum-exp over l
                            logits[j] = Math.log(gain) + (n - w - j) * Math.log(lambda) + logDot(queryLog, keyLog[j]);
                        } else {
                            logits[j] = Double.NEGATIVE_INFINITY;
                        }
                        c = Math.max(c, logits[j]);
                    }
                    double[] clusterLogits = new double[0];
                    if (online && gain > 0) {
                        double[] query = new double[d];
                        for (int i = 0; i < d; i++) query[i] = q[n * qw + head * d + i];
                        clusterLogits = clusters.logits(query, spec.scale(), Math.log(gain));
                        for (double l : clusterLogits) c = Math.max(c, l);
                    }
                    Arrays.fill(num, 0);
                    double den = 0;
                    for (int j = 0; j <= n; j++) {
                        double e = Math.exp(logits[j] - c);
                        den += e;
                        for (int i = 0; i < d; i++) num[i] += e * v[j * kw + kvh * d + i];
                    }
                    for (int l = 0; l < clusterLogits.length; l++) {
                        double e = Math.exp(clusterLogits[l] - c);
                        den += e;
                        double[] mean = clusters.meanValue(l);
                        for (int i = 0; i < d; i++) num[i] += e * mean[i];
                    }
                    for (int i = 0; i < d; i++) out[n * qw + head * d + i] = num[i] / den;
                    if (cacheSize > 0 && heavyHitter) {
                        for (int j = s0; j <= n; j++) {
                            if (exact[j]) priority[j] += Math.exp(logits[j] - c) / den;
                        }
                    }
                }
            }
        }
        return out;
    }

    /** The online centroid memory of one KV head from the definition: clusters as lists of positions. */
    private static final class Clusters {
        private final int capacity;
        private final float[] k;
        private final float[] v;
        private final int stride;
        private final int offset;
        private final int d;
        private final List<List<Integer>> members = new ArrayList<>();

        Clusters(int capacity, float[] k, float[] v, int stride, int offset, int d) {
            this.capacity = capacity;
            this.k = k;
            this.v = v;
            this.stride = stride;
            this.offset = offset;
            this.d = d;
        }

        void fold(int j) {
            members.add(new ArrayList<>(List.of(j)));
            if (members.size() <= capacity) return;
            int bestA = -1, bestB = -1;
            double best = Double.POSITIVE_INFINITY;
            for (int a = 0; a < members.size(); a++) {
                for (int b = a + 1; b < members.size(); b++) {
                    double[] ca = mean(k, a), cb = mean(k, b);
                    double dist = 0;
                    for (int i = 0; i < d; i++) dist += (ca[i] - cb[i]) * (ca[i] - cb[i]);
                    if (dist < best) {
                        best = dist;
                        bestA = a;
                        bestB = b;
                    }
                }
            }
            members.get(bestA).addAll(members.get(bestB));
            int last = members.size() - 1;
            members.set(bestB, members.get(last));
            members.remove(last);
        }

        private double[] mean(float[] rows, int cluster) {
            double[] sum = new double[d];
            List<Integer> positions = members.get(cluster);
            for (int j : positions) for (int i = 0; i < d; i++) sum[i] += rows[j * stride + offset + i];
            for (int i = 0; i < d; i++) sum[i] /= positions.size();
            return sum;
        }

        double[] meanValue(int cluster) {
            return mean(v, cluster);
        }

        /** log of g |l| exp(tau q . mean_l(k)) for every cluster l. */
        double[] logits(double[] query, double tau, double logGain) {
            double[] out = new double[members.size()];
            for (int l = 0; l < out.length; l++) {
                double[] c = mean(k, l);
                double dot = 0;
                for (int i = 0; i < d; i++) dot += query[i] * c[i];
                out[l] = logGain + tau * dot + Math.log(members.get(l).size());
            }
            return out;
        }

        /** |v_j - m(k_j)|^2, m the clusters' mean values weighted as a query k_j weighs them; |v_j|^2 if empty. */
        double recallError(int j, double tau) {
            double[] key = new double[d];
            for (int i = 0; i < d; i++) key[i] = k[j * stride + offset + i];
            double[] logits = logits(key, tau, 0);
            double max = Double.NEGATIVE_INFINITY;
            for (double l : logits) max = Math.max(max, l);
            double[] recalled = new double[d];
            double den = 0;
            for (int l = 0; l < logits.length; l++) {
                double e = Math.exp(logits[l] - max);
                den += e;
                double[] mean = meanValue(l);
                for (int i = 0; i < d; i++) recalled[i] += e * mean[i];
            }
            double error = 0;
            for (int i = 0; i < d; i++) {
                double diff = v[j * stride + offset + i] - (den > 0 ? recalled[i] / den : 0);
                error += diff * diff;
            }
            return error;
        }
    }

    /** log sum_l exp(a_l + b_l); -infinity when every term is. */
    private static double logDot(double[] a, double[] b) {
        double max = Double.NEGATIVE_INFINITY;
        for (int l = 0; l < a.length; l++) max = Math.max(max, a[l] + b[l]);
        if (max == Double.NEGATIVE_INFINITY) return max;
        double sum = 0;
        for (int l = 0; l < a.length; l++) sum += Math.exp(a[l] + b[l] - max);
        return max + Math.log(sum);
    }

    /** |v_j - m(k_j)|^2 with m the folded tokens' values weighted by phi_q(k_j).phi_k(k_i); |v_j|^2 if none. */
    private static double recallError(
            double[] keyAsQueryLog, double[][] keyLog, boolean[] folded, float[] v, int kw, int kvh, int d, int j) {
        double max = Double.NEGATIVE_INFINITY;
        double[] logWeight = new double[j];
        for (int i = 0; i < j; i++) {
            logWeight[i] = folded[i] ? logDot(keyAsQueryLog, keyLog[i]) : Double.NEGATIVE_INFINITY;
            max = Math.max(max, logWeight[i]);
        }
        double[] recalled = new double[d];
        if (max > Double.NEGATIVE_INFINITY) {
            double den = 0;
            for (int i = 0; i < j; i++) {
                if (logWeight[i] == Double.NEGATIVE_INFINITY) continue;
                double e = Math.exp(logWeight[i] - max);
                den += e;
                for (int t = 0; t < d; t++) recalled[t] += e * v[i * kw + kvh * d + t];
            }
            for (int t = 0; t < d; t++) recalled[t] /= den;
        }
        double error = 0;
        for (int t = 0; t < d; t++) {
            double diff = v[j * kw + kvh * d + t] - recalled[t];
            error += diff * diff;
        }
        return error;
    }
}
