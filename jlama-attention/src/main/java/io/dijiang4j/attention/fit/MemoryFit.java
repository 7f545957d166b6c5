package io.dijiang4j.attention.fit;

import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.CentroidFeatureMap;
import io.dijiang4j.attention.features.FeatureMaps;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Training-free fit of the kernelized memory of one KV head (docs/MATH.md §5, step 2), in
 * float64: the empirical weighted-QMC objective
 *
 * <pre>
 *   min_{x >= 0}  sum_{n, j}  P_nj (a_nj . x - t_nj)^2,      s0 <= j <= n - w  (the keys the memory holds for query n)
 *   t_nj   = exp(tau q_n.k_j - c_n),   c_n = max_{j' <= n} tau q_n.k_j',   P_nj = the full softmax probability
 *   a_nj,l = phi_l(q_n) phi_l(k_j) exp(-c_n) = exp(log phi_l(q_n) + log phi_l(k_j) - c_n)
 * </pre>
 *
 * over every query head of the group and every calibration sequence, with phi the base map evaluated on {@code
 * sqrt(tau) q} and {@code sqrt(tau) k} as the kernels do. Everything stays in the log domain until the final exp.
 *
 * <p><b>Weight convention.</b> The solution x multiplies the base map's kernel terms: the fitted kernel is {@code
 * sum_l x_l phi_l(q) phi_l(k)}. For a map {@code phi = D o f} this is {@code x_l = D_l^2 / D0_l^2} relative to the
 * base map's weights D0 (the paper's {@code w_l = D_l^2} when D0 = 1). Apply it with {@link Result#apply} ({@link
 * FeatureMaps#withKernelWeights}), never with {@code ProjectionFeatureMap.withWeights}, which sets absolute D.
 *
 * <p><b>Sampling.</b> With more candidate pairs than {@link FitSettings#maxPairs()}, pair (n, j) is drawn with
 * probability {@code pi_nj = min(1, K P_nj)} (systematic sampling in row order from one seeded offset) and enters
 * with weight {@code P_nj / pi_nj}: an unbiased estimate of the full objective that keeps every high-probability
 * pair. K comes from the evicted mass of every 8th row, so that at most about maxPairs pairs are drawn.
 * Deterministic for a seed.
 *
 * <p><b>Scaling.</b> Columns are scaled to a maximum of 1 before the normal equations are formed (NNLS is invariant
 * to column scaling), so no exponential overflows whatever the map's scale. A feature no sampled pair activates
 * (its largest term more than e^690 below the largest target, e.g. a centroid that is never the nearest) is left out
 * of the solve and keeps weight 1 (the objective says nothing about it).
 */
public final class MemoryFit {
    /** Columns this far (in log) below the largest target are left out: their weight would have to exceed e^690. */
    private static final double INACTIVE_LOG_GAP = 690;

    private MemoryFit() {}

    /**
     * A fitted weight vector and the weighted objective on the pairs it was fitted on (estimates of the full
     * objective when subsampled; equal to {@link #objective} when not).
     *
     * @param weights x, per feature, finite and >= 0 (see the class comment for the convention)
     * @param candidatePairs all (query, evicted key) pairs of the calibration data
     * @param sampledPairs the pairs that entered the normal equations
     * @param zeroObjective the objective at x = 0 (no memory): the weighted sum of t^2
     * @param uniformObjective at x = 1 (the base map unchanged)
     * @param fittedObjective at x = weights
     */
    public record Result(
            double[] weights,
            long candidatePairs,
            int sampledPairs,
            double zeroObjective,
            double uniformObjective,
            double fittedObjective) {
        /** The base map with these kernel weights ({@link FeatureMaps#withKernelWeights}). */
        public FeatureMap apply(FeatureMap base) {
            return FeatureMaps.withKernelWeights(base, weights);
        }
    }

    /**
     * Data-fitted centroid map of one KV head: k-means ({@link KMeans}, m clusters) of {@code sqrt(tau) k} over the
     * given raw post-RoPE keys, weights 1 (fit them afterwards with {@link #fitWeights}).
     *
     * @param keys [n][d], unscaled (e.g. {@link #keysOf} of the calibration sequences)
     */
    public static CentroidFeatureMap fitCentroids(double[][] keys, int m, double scale, long seed) {
        if (keys == null || keys.length == 0) throw new IllegalArgumentException("no calibration keys");
        if (!(scale > 0) || Double.isInfinite(scale)) throw new IllegalArgumentException("scale must be > 0");
        int d = keys[0].length;
        double root = Math.sqrt(scale);
        double[][] scaled = new double[keys.length][d];
        for (int n = 0; n < keys.length; n++) {
            if (keys[n].length != d) throw new IllegalArgumentException("keys differ in dimension");
            for (int i = 0; i < d; i++) scaled[n][i] = root * keys[n][i];
        }
        double[][] centroids = KMeans.fit(scaled, m, seed).centroids();
        float[] flat = new float[m * d];
        for (int l = 0; l < m; l++) {
            for (int i = 0; i < d; i++) flat[l * d + i] = (float) centroids[l][i];
        }
        return new CentroidFeatureMap(d, flat, new float[m]);
    }

    /**
     * The keys of every sequence at positions >= firstPosition (pass the sink count: sinks never reach the memory).
     */
    public static double[][] keysOf(List<KvHeadSequence> sequences, int firstPosition) {
        int total = 0;
        for (KvHeadSequence s : sequences) total += Math.max(0, s.length() - firstPosition);
        if (total == 0) throw new IllegalArgumentException("no calibration keys at positions >= " + firstPosition);
        double[][] keys = new double[total][];
        int next = 0;
        for (KvHeadSequence s : sequences) {
            for (int n = Math.max(0, firstPosition); n < s.length(); n++) keys[next++] = s.keys()[n];
        }
        return keys;
    }

    /** Fits the kernel weights x >= 0 of {@code base} for one KV head (see the class comment). */
    public static Result fitWeights(FeatureMap base, List<KvHeadSequence> sequences, FitSettings settings) {
        return fitWeights(base, sequences, settings, true);
    }

    /**
     * As {@link #fitWeights(FeatureMap, List, FitSettings)}; with {@code objectives} false the uniform and fitted
     * objectives of the result are NaN (they cost two more passes of m exponentials per pair).
     */
    public static Result fitWeights(
            FeatureMap base, List<KvHeadSequence> sequences, FitSettings settings, boolean objectives) {
        Features features = Features.of(base, sequences, settings.scale());
        int m = base.numFeatures();
        Pairs pairs = samplePairs(features, sequences, settings);

        // column scales: M_l = max over pairs of log(sqrt(omega) a_l)
        double[] columnMax = new double[m];
        Arrays.fill(columnMax, Double.NEGATIVE_INFINITY);
        double targetMax = Double.NEGATIVE_INFINITY;
        double[] logTerm = new double[m];
        for (int p = 0; p < pairs.count; p++) {
            pairs.logTerms(p, features, logTerm);
            for (int l = 0; l < m; l++) columnMax[l] = Math.max(columnMax[l], logTerm[l]);
            targetMax = Math.max(targetMax, pairs.logScaledTarget(p));
        }
        int[] active = new int[m];
        int columns = 0;
        for (int l = 0; l < m; l++) {
            if (columnMax[l] > targetMax - INACTIVE_LOG_GAP) active[columns++] = l;
        }

        // normal equations in the scaled columns a'_l = sqrt(omega) a_l / exp(M_l) <= 1
        double[] gram = new double[columns * columns];
        double[] rhs = new double[columns];
        double[] scaled = new double[columns];
        double zero = 0, uniform = 0;
        for (int p = 0; p < pairs.count; p++) {
            pairs.logTerms(p, features, logTerm);
            double target = Math.exp(pairs.logScaledTarget(p));
            for (int c = 0; c < columns; c++) scaled[c] = Math.exp(logTerm[active[c]] - columnMax[active[c]]);
            for (int c = 0; c < columns; c++) {
                double ac = scaled[c];
                if (ac == 0) continue; // one-hot maps: most columns of a pair are exactly 0
                rhs[c] += ac * target;
                int row = c * columns;
                for (int e = c; e < columns; e++) gram[row + e] += ac * scaled[e];
            }
            zero += target * target;
            if (objectives) {
                double residual = Math.exp(logSumExp(logTerm, null)) - target;
                uniform += residual * residual;
            }
        }
        double[][] g = new double[columns][columns];
        for (int c = 0; c < columns; c++) {
            for (int e = c; e < columns; e++) g[c][e] = g[e][c] = gram[c * columns + e];
        }
        double[] weights = new double[m];
        Arrays.fill(weights, 1.0);
        if (columns > 0) {
            double[] y = Nnls.solveNormal(g, rhs);
            for (int c = 0; c < columns; c++) {
                int l = active[c];
                weights[l] = y[c] > 0 ? Math.exp(Math.min(Math.log(y[c]) - columnMax[l], 700)) : 0;
            }
        }
        double[] logWeights = new double[m];
        for (int l = 0; l < m; l++) logWeights[l] = Math.log(weights[l]); // -inf for 0
        if (!objectives) return new Result(weights, pairs.candidates, pairs.count, zero, Double.NaN, Double.NaN);
        double fitted = 0;
        for (int p = 0; p < pairs.count; p++) {
            pairs.logTerms(p, features, logTerm);
            double residual = Math.exp(logSumExp(logTerm, logWeights)) - Math.exp(pairs.logScaledTarget(p));
            fitted += residual * residual;
        }
        return new Result(weights, pairs.candidates, pairs.count, zero, uniform, fitted);
    }

    /**
     * The kernel weights of {@code base} for several windows at once, from one pass over the data: the pairs are
     * sampled once for the smallest window (every pair of a larger window is one of them: s0 <= j <= n - w), each
     * sampled pair's normal-equation terms are added once, into the bucket of the largest window that still holds it,
     * and window i's normal equations are the sum of the buckets i and above. Every window then solves exactly the
     * objective of {@link #fitWeights(FeatureMap, List, FitSettings)} over its own pairs, where the sampling
     * (inclusion probabilities from the smallest window's evicted mass) and the column scaling (shared) are those of
     * the smallest window. Without subsampling the pairs are all candidates, so each window's solution equals the
     * single-window fit's (up to rounding) where the same features are active. The objectives of the results are
     * NaN except {@code zeroObjective}. Costs about one single-window fit, not one per window.
     *
     * @param windows candidate windows, ascending, each >= 0 ({@code settings.window()} is ignored)
     * @return one result per window, in order
     */
    public static Result[] fitWeights(
            FeatureMap base, List<KvHeadSequence> sequences, FitSettings settings, int[] windows) {
        if (windows.length == 0) throw new IllegalArgumentException("no window");
        for (int i = 1; i < windows.length; i++) {
            if (windows[i] <= windows[i - 1]) throw new IllegalArgumentException("windows must ascend");
        }
        FitSettings smallest =
                new FitSettings(settings.scale(), settings.sinks(), windows[0], settings.maxPairs(), settings.seed());
        Features features = Features.of(base, sequences, settings.scale());
        int m = base.numFeatures(), buckets = windows.length;
        Pairs pairs = samplePairs(features, sequences, smallest);
        int[] bucket = new int[pairs.count];
        long[] candidates = new long[buckets];
        for (KvHeadSequence seq : sequences) {
            for (int b = 0; b < buckets; b++) {
                for (int n = settings.sinks() + windows[b]; n < seq.length(); n++) {
                    candidates[b] += (long) seq.groupHeads() * (n - windows[b] - settings.sinks() + 1);
                }
            }
        }
        double[] columnMax = new double[m];
        Arrays.fill(columnMax, Double.NEGATIVE_INFINITY);
        double targetMax = Double.NEGATIVE_INFINITY;
        double[] logTerm = new double[m];
        for (int p = 0; p < pairs.count; p++) {
            int gap = pairs.query[p] - pairs.key[p];
            int b = 0;
            while (b + 1 < buckets && windows[b + 1] <= gap) b++;
            bucket[p] = b;
            pairs.logTerms(p, features, logTerm);
            for (int l = 0; l < m; l++) columnMax[l] = Math.max(columnMax[l], logTerm[l]);
            targetMax = Math.max(targetMax, pairs.logScaledTarget(p));
        }
        int[] active = new int[m];
        int columns = 0;
        for (int l = 0; l < m; l++) {
            if (columnMax[l] > targetMax - INACTIVE_LOG_GAP) active[columns++] = l;
        }
        double[][] gram = new double[buckets][columns * columns];
        double[][] rhs = new double[buckets][columns];
        double[] zero = new double[buckets];
        int[] count = new int[buckets];
        double[] scaled = new double[columns];
        for (int p = 0; p < pairs.count; p++) {
            pairs.logTerms(p, features, logTerm);
            double target = Math.exp(pairs.logScaledTarget(p));
            for (int c = 0; c < columns; c++) scaled[c] = Math.exp(logTerm[active[c]] - columnMax[active[c]]);
            double[] gb = gram[bucket[p]], rb = rhs[bucket[p]];
            for (int c = 0; c < columns; c++) {
                double ac = scaled[c];
                if (ac == 0) continue;
                rb[c] += ac * target;
                int row = c * columns;
                for (int e = c; e < columns; e++) gb[row + e] += ac * scaled[e];
            }
            zero[bucket[p]] += target * target;
            count[bucket[p]]++;
        }
        Result[] out = new Result[buckets];
        for (int b = buckets - 2; b >= 0; b--) { // suffix sums: window b holds the pairs of buckets b and above
            for (int i = 0; i < gram[b].length; i++) gram[b][i] += gram[b + 1][i];
            for (int i = 0; i < columns; i++) rhs[b][i] += rhs[b + 1][i];
            zero[b] += zero[b + 1];
            count[b] += count[b + 1];
        }
        for (int b = 0; b < buckets; b++) {
            double[] weights = new double[m];
            Arrays.fill(weights, 1.0);
            if (columns > 0 && count[b] > 0) {
                double[][] g = new double[columns][columns];
                for (int c = 0; c < columns; c++) {
                    for (int e = c; e < columns; e++) g[c][e] = g[e][c] = gram[b][c * columns + e];
                }
                double[] y = Nnls.solveNormal(g, rhs[b]);
                for (int c = 0; c < columns; c++) {
                    int l = active[c];
                    weights[l] = y[c] > 0 ? Math.exp(Math.min(Math.log(y[c]) - columnMax[l], 700)) : 0;
                }
            }
            out[b] = new Result(weights, candidates[b], count[b], zero[b], Double.NaN, Double.NaN);
        }
        return out;
    }

    /**
     * The full (unsampled) objective {@code sum P_nj (phi(q_n).phi(k_j) exp(-c_n) - t_nj)^2} of {@code map} as it
     * stands (its weights included), over every query head and every evicted pair. Costs one feature evaluation per
     * key and per query and O(m) per pair.
     */
    public static double objective(FeatureMap map, List<KvHeadSequence> sequences, FitSettings settings) {
        Features features = Features.of(map, sequences, settings.scale());
        int s0 = settings.sinks(), w = settings.window(), m = map.numFeatures();
        double tau = settings.scale();
        double[] logTerm = new double[m];
        double total = 0;
        for (int s = 0; s < sequences.size(); s++) {
            KvHeadSequence seq = sequences.get(s);
            double[] logits = new double[seq.length()];
            for (int h = 0; h < seq.groupHeads(); h++) {
                for (int n = settings.firstEvictedRow(); n < seq.length(); n++) {
                    double[] q = seq.queries()[h][n];
                    double c = rowLogits(q, seq.keys(), n, tau, logits);
                    double logZ = logSumExpShifted(logits, n, c);
                    double[] queryLog = features.queryLog[s][h][n];
                    for (int j = s0; j <= n - w; j++) {
                        double[] keyLog = features.keyLog[s][j];
                        for (int l = 0; l < m; l++) logTerm[l] = queryLog[l] + keyLog[l] - c;
                        double residual = Math.exp(logSumExp(logTerm, null)) - Math.exp(logits[j] - c);
                        total += Math.exp(logits[j] - c - logZ) * residual * residual;
                    }
                }
            }
        }
        return total;
    }

    /** log phi of every key and query (on sqrt(tau) x), per sequence. */
    private record Features(double[][][] keyLog, double[][][][] queryLog) {
        static Features of(FeatureMap map, List<KvHeadSequence> sequences, double scale) {
            if (sequences == null || sequences.isEmpty()) throw new IllegalArgumentException("no calibration data");
            int d = map.inputDim(), m = map.numFeatures();
            double root = Math.sqrt(scale);
            double[] x = new double[d];
            double[][][] keyLog = new double[sequences.size()][][];
            double[][][][] queryLog = new double[sequences.size()][][][];
            for (int s = 0; s < sequences.size(); s++) {
                KvHeadSequence seq = sequences.get(s);
                if (seq.headDim() != d) {
                    throw new IllegalArgumentException(
                            "calibration head size " + seq.headDim() + " differs from the map's input size " + d);
                }
                keyLog[s] = new double[seq.length()][m];
                for (int n = 0; n < seq.length(); n++) {
                    for (int i = 0; i < d; i++) x[i] = root * seq.keys()[n][i];
                    map.logKeyFeatures(x, 0, keyLog[s][n], 0);
                }
                queryLog[s] = new double[seq.groupHeads()][seq.length()][m];
                for (int h = 0; h < seq.groupHeads(); h++) {
                    for (int n = 0; n < seq.length(); n++) {
                        for (int i = 0; i < d; i++) x[i] = root * seq.queries()[h][n][i];
                        map.logQueryFeatures(x, 0, queryLog[s][h][n], 0);
                    }
                }
            }
            return new Features(keyLog, queryLog);
        }
    }

    /** The sampled pairs: where they are, their row maximum c_n, log of their weight omega and of t. */
    private static final class Pairs {
        long candidates;
        int count;
        int[] sequence = new int[1024], head = new int[1024], query = new int[1024], key = new int[1024];
        double[] rowMax = new double[1024], logOmega = new double[1024], logTarget = new double[1024];

        void add(int s, int h, int n, int j, double c, double logWeight, double logT) {
            if (count == sequence.length) {
                int size = 2 * count;
                sequence = Arrays.copyOf(sequence, size);
                head = Arrays.copyOf(head, size);
                query = Arrays.copyOf(query, size);
                key = Arrays.copyOf(key, size);
                rowMax = Arrays.copyOf(rowMax, size);
                logOmega = Arrays.copyOf(logOmega, size);
                logTarget = Arrays.copyOf(logTarget, size);
            }
            sequence[count] = s;
            head[count] = h;
            query[count] = n;
            key[count] = j;
            rowMax[count] = c;
            logOmega[count] = logWeight;
            logTarget[count] = logT;
            count++;
        }

        /** log(sqrt(omega) a_l) of pair p. */
        void logTerms(int p, Features features, double[] out) {
            double[] queryLog = features.queryLog[sequence[p]][head[p]][query[p]];
            double[] keyLog = features.keyLog[sequence[p]][key[p]];
            double shift = 0.5 * logOmega[p] - rowMax[p];
            for (int l = 0; l < out.length; l++) out[l] = queryLog[l] + keyLog[l] + shift;
        }

        /** log(sqrt(omega) t) of pair p. */
        double logScaledTarget(int p) {
            return logTarget[p] + 0.5 * logOmega[p];
        }
    }

    private static Pairs samplePairs(Features features, List<KvHeadSequence> sequences, FitSettings settings) {
        int s0 = settings.sinks(), w = settings.window();
        double tau = settings.scale();
        Pairs pairs = new Pairs();
        long rows = 0;
        for (KvHeadSequence seq : sequences) {
            for (int n = settings.firstEvictedRow(); n < seq.length(); n++) {
                pairs.candidates += (long) seq.groupHeads() * (n - w - s0 + 1);
                rows += seq.groupHeads();
            }
        }
        if (pairs.candidates == 0) {
            throw new IllegalArgumentException(
                    "no evicted pairs: every calibration sequence is at most sinks + window ("
                            + settings.firstEvictedRow() + ") positions long");
        }
        // K of pi = min(1, K P): from the evicted mass of every stride-th row, about maxPairs pairs in all
        boolean sampling = pairs.candidates > settings.maxPairs();
        double k = 1, logK = 0;
        if (sampling) {
            int stride = rows >= 512 ? 8 : 1;
            double mass = evictedMass(sequences, settings, stride) * stride;
            k = settings.maxPairs() / Math.max(mass, Double.MIN_NORMAL);
            logK = Math.log(k);
        }
        // systematic sampling: one uniform offset, a pair is drawn when the running sum of pi crosses the next
        // integer (+ offset); each pair is drawn with probability exactly pi, with no random number per pair
        double threshold = new SplittableRandom(settings.seed()).nextDouble(), running = 0;
        for (int s = 0; s < sequences.size(); s++) {
            KvHeadSequence seq = sequences.get(s);
            double[] logits = new double[seq.length()], shifted = new double[seq.length()];
            for (int h = 0; h < seq.groupHeads(); h++) {
                for (int n = settings.firstEvictedRow(); n < seq.length(); n++) {
                    double c = rowLogits(seq.queries()[h][n], seq.keys(), n, tau, logits);
                    double z = 0;
                    for (int j = 0; j <= n; j++) z += shifted[j] = Math.exp(logits[j] - c);
                    double logZ = Math.log(z);
                    for (int j = s0; j <= n - w; j++) {
                        double pi = 1;
                        if (sampling) {
                            pi = Math.min(1, k * shifted[j] / z);
                            running += pi;
                            if (running < threshold) continue;
                            threshold += 1;
                        }
                        // omega = P / pi: P where pi = 1, 1/K where pi = K P < 1
                        double logOmega = pi < 1 ? -logK : logits[j] - c - logZ;
                        pairs.add(s, h, n, j, c, logOmega, logits[j] - c);
                    }
                }
            }
        }
        return pairs;
    }

    /** Sum over every stride-th row (in row order) of the softmax mass on its evicted keys. */
    private static double evictedMass(List<KvHeadSequence> sequences, FitSettings settings, int stride) {
        int s0 = settings.sinks(), w = settings.window();
        double mass = 0;
        long row = 0;
        for (KvHeadSequence seq : sequences) {
            double[] logits = new double[seq.length()];
            for (int h = 0; h < seq.groupHeads(); h++) {
                for (int n = settings.firstEvictedRow(); n < seq.length(); n++, row++) {
                    if (row % stride != 0) continue;
                    double c = rowLogits(seq.queries()[h][n], seq.keys(), n, settings.scale(), logits);
                    double z = 0, evicted = 0;
                    for (int j = 0; j <= n; j++) {
                        double e = Math.exp(logits[j] - c);
                        z += e;
                        if (j >= s0 && j <= n - w) evicted += e;
                    }
                    mass += evicted / z;
                }
            }
        }
        return mass;
    }

    /** logits[j] = tau q.k_j for j <= n; returns their maximum. */
    static double rowLogits(double[] q, double[][] keys, int n, double tau, double[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        int d = q.length;
        for (int j = 0; j <= n; j++) {
            double[] k = keys[j];
            double dot = 0;
            for (int i = 0; i < d; i++) dot += q[i] * k[i];
            logits[j] = tau * dot;
            max = Math.max(max, logits[j]);
        }
        return max;
    }

    /** log sum_{j <= n} exp(logits[j] - c), c >= the maximum. */
    private static double logSumExpShifted(double[] logits, int n, double c) {
        double z = 0;
        for (int j = 0; j <= n; j++) z += Math.exp(logits[j] - c);
        return Math.log(z);
    }

    /** log sum_l exp(a_l + b_l) (b null: 0); -infinity when every term is. */
    private static double logSumExp(double[] a, double[] b) {
        double max = Double.NEGATIVE_INFINITY;
        for (int l = 0; l < a.length; l++) max = Math.max(max, a[l] + (b == null ? 0 : b[l]));
        if (max == Double.NEGATIVE_INFINITY) return max;
        double sum = 0;
        for (int l = 0; l < a.length; l++) sum += Math.exp(a[l] + (b == null ? 0 : b[l]) - max);
        return max + Math.log(sum);
    }
}
