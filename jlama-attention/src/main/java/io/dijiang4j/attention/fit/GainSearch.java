package io.dijiang4j.attention.fit;

import io.dijiang4j.attention.FeatureMap;
import java.util.List;

/**
 * The per-query-head mixing scale g_h of the hybrid's memory (docs/MATH.md §5), by 1-D search on the attention
 * output error, in float64. For query n of head h the hybrid (sinks + window + memory, no exact cache, no decay) is
 *
 * <pre>
 *   o_n(g) = (sum_E e^(l_j) v_j + g phi(q)^T S_n) / (sum_E e^(l_j) + g phi(q)^T z_n),   S_n, z_n over s0 <= j <= n - w
 * </pre>
 *
 * exactly {@link io.dijiang4j.attention.ops.hybrid.NaiveHybridAttention} with memory gain g. Writing it as {@code o(g)
 * = (o_E + beta o_M) / (1 + beta)}, {@code beta = g rho_n} (o_E the window's output, o_M the memory's, rho_n the
 * ratio of their masses), the squared error against full softmax attention {@code o*} is {@code (A + 2 beta B +
 * beta^2 C) / (1 + beta)^2} with {@code A = |o_E - o*|^2}, {@code B = (o_E - o*).(o_M - o*)}, {@code C = |o_M -
 * o*|^2}: one pass over the data (O(N^2 d) for the softmax reference, O(N m d) for the memory) stores four numbers
 * per row, after which any g costs O(rows).
 *
 * <p>Where the sequence carries its recorded softmax output ({@link KvHeadSequence#outputs()}) that output is o*,
 * and a row costs O((s0 + w + m) d).
 *
 * <p>The error of a head is the mean over its calibration rows (queries with at least one evicted key, n >= s0 + w,
 * of every sequence) and over the d output coordinates of the squared difference. The search: g = 0 (memory off, the
 * plain window) and g = 1, a grid on log g over [-25, 25] in steps of 0.5 (random features underestimate the evicted
 * mass by e^-13 on real models, so g far from 1 is common), golden-section refinement around the best grid point to
 * 1e-4 in log g. The gain with the smallest error wins; g = 0 unless some g > 0 is strictly better.
 */
public final class GainSearch {
    private static final double LOG_GAIN_MIN = -25, LOG_GAIN_MAX = 25, GRID_STEP = 0.5, LOG_TOLERANCE = 1e-4;

    private GainSearch() {}

    /**
     * @param gain the fitted g_h (>= 0)
     * @param error mean squared output error with that gain
     * @param windowError with g = 0 (sinks + window alone)
     * @param unitGainError with g = 1 (the memory as the map gives it)
     * @param rows calibration rows the errors average over
     */
    public record HeadGain(double gain, double error, double windowError, double unitGainError, long rows) {}

    /**
     * Fits g for every query head of the group of one KV head.
     *
     * @param map the KV head's memory map, weights included (e.g. {@link MemoryFit.Result#apply})
     * @param sequences calibration rows with values; every sequence has the same group heads
     * @param settings scale, sinks, window (maxPairs and seed are not used)
     * @return one entry per group head, in the order of {@link KvHeadSequence#queries()}
     */
    public static HeadGain[] search(FeatureMap map, List<KvHeadSequence> sequences, FitSettings settings) {
        RowErrors[] errors = rowErrors(map, sequences, settings);
        HeadGain[] gains = new HeadGain[errors.length];
        for (int h = 0; h < errors.length; h++) gains[h] = errors[h].search();
        return gains;
    }

    /** The per-row error terms of every group head; package-private for the tests. */
    static RowErrors[] rowErrors(FeatureMap map, List<KvHeadSequence> sequences, FitSettings settings) {
        if (sequences == null || sequences.isEmpty()) throw new IllegalArgumentException("no calibration data");
        int heads = sequences.get(0).groupHeads(), d = map.inputDim(), m = map.numFeatures();
        int s0 = settings.sinks(), w = settings.window();
        if (s0 + w == 0) throw new IllegalArgumentException("the gain search needs sinks + window >= 1 exact tokens");
        double tau = settings.scale(), root = Math.sqrt(tau);
        long rowsPerHead = 0;
        for (KvHeadSequence seq : sequences) {
            if (seq.groupHeads() != heads) throw new IllegalArgumentException("sequences differ in group heads");
            if (seq.headDim() != d) {
                throw new IllegalArgumentException(
                        "calibration head size " + seq.headDim() + " differs from the map's input size " + d);
            }
            if (seq.values() == null) throw new IllegalArgumentException("the gain search needs the values");
            rowsPerHead += Math.max(0, seq.length() - settings.firstEvictedRow());
        }
        if (rowsPerHead == 0) {
            throw new IllegalArgumentException("no calibration row has an evicted key: sequences are at most sinks + "
                    + "window (" + settings.firstEvictedRow() + ") positions long");
        }
        if (rowsPerHead > Integer.MAX_VALUE) throw new IllegalArgumentException("too many calibration rows");
        RowErrors[] out = new RowErrors[heads];
        for (int h = 0; h < heads; h++) out[h] = new RowErrors((int) rowsPerHead, d);
        double[] x = new double[d], queryLog = new double[m], logTerm = new double[m];
        double[] full = new double[d], exact = new double[d], memory = new double[d];
        for (KvHeadSequence seq : sequences) {
            int length = seq.length();
            double[][] keyLog = new double[length][m];
            for (int j = 0; j < length; j++) {
                for (int i = 0; i < d; i++) x[i] = root * seq.keys()[j][i];
                map.logKeyFeatures(x, 0, keyLog[j], 0);
            }
            double[] logits = new double[length];
            for (int h = 0; h < heads; h++) {
                Memory state = new Memory(m, d);
                for (int n = settings.firstEvictedRow(); n < length; n++) {
                    int evicted = n - w; // enters the memory as query n arrives
                    state.add(keyLog[evicted], seq.values()[evicted]);
                    double[] q = seq.queries()[h][n];
                    if (seq.outputs() != null) { // the recorded softmax output; logits of the exact part only
                        System.arraycopy(seq.outputs()[h][n], 0, full, 0, d);
                        exactLogits(q, seq.keys(), Math.min(s0, n + 1), Math.max(s0, n - w + 1), n, tau, logits);
                    } else {
                        MemoryFit.rowLogits(q, seq.keys(), n, tau, logits);
                        weightedMean(logits, seq.values(), 0, n, -1, -1, full); // full softmax
                    }
                    double logExact = weightedMean(logits, seq.values(), 0, s0 - 1, n - w + 1, n, exact);
                    for (int i = 0; i < d; i++) x[i] = root * q[i];
                    map.logQueryFeatures(x, 0, queryLog, 0);
                    double logMemory = state.read(queryLog, logTerm, memory);
                    out[h].add(full, exact, memory, logMemory - logExact);
                }
            }
        }
        return out;
    }

    /** logits[j] = tau q.k_j for j < sinks and for from <= j <= n (the exact part of row n). */
    private static void exactLogits(
            double[] q, double[][] keys, int sinks, int from, int n, double tau, double[] logits) {
        for (int j = 0; j < sinks; j++) logits[j] = tau * dot(q, keys[j]);
        for (int j = from; j <= n; j++) logits[j] = tau * dot(q, keys[j]);
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    /**
     * out = softmax-weighted mean of the values over j in [from, to] U [from2, to2] (to2 < 0: none); returns the log
     * of the unnormalized mass sum exp(logits).
     */
    private static double weightedMean(
            double[] logits, double[][] values, int from, int to, int from2, int to2, double[] out) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = from; j <= to; j++) max = Math.max(max, logits[j]);
        for (int j = Math.max(from2, 0); j <= to2; j++) max = Math.max(max, logits[j]);
        java.util.Arrays.fill(out, 0);
        double den = 0;
        for (int pass = 0; pass < 2; pass++) {
            int a = pass == 0 ? from : Math.max(from2, 0), b = pass == 0 ? to : to2;
            for (int j = a; j <= b; j++) {
                double e = Math.exp(logits[j] - max);
                den += e;
                double[] v = values[j];
                for (int i = 0; i < out.length; i++) out[i] += e * v[i];
            }
        }
        for (int i = 0; i < out.length; i++) out[i] /= den;
        return max + Math.log(den);
    }

    /** The kernelized memory in float64 with a per-feature log offset (as ops.linear.KernelMemory keeps it). */
    private static final class Memory {
        final int m, d;
        final double[] offsets, sums, normalizer;

        Memory(int m, int d) {
            this.m = m;
            this.d = d;
            offsets = new double[m];
            java.util.Arrays.fill(offsets, Double.NEGATIVE_INFINITY);
            sums = new double[m * d];
            normalizer = new double[m];
        }

        void add(double[] keyLog, double[] value) {
            for (int l = 0; l < m; l++) {
                double a = keyLog[l];
                if (a > offsets[l]) {
                    double rescale = Math.exp(offsets[l] - a); // 0 while empty
                    for (int i = 0; i < d; i++) sums[l * d + i] *= rescale;
                    normalizer[l] *= rescale;
                    offsets[l] = a;
                }
                double weight = Math.exp(a - offsets[l]);
                if (weight == 0) continue;
                for (int i = 0; i < d; i++) sums[l * d + i] += weight * value[i];
                normalizer[l] += weight;
            }
        }

        /** out = phi(q)^T S / phi(q)^T z; returns log phi(q)^T z (-infinity when the memory gives no mass). */
        double read(double[] queryLog, double[] logTerm, double[] out) {
            double max = Double.NEGATIVE_INFINITY;
            for (int l = 0; l < m; l++) {
                logTerm[l] = queryLog[l] + offsets[l];
                max = Math.max(max, logTerm[l]);
            }
            java.util.Arrays.fill(out, 0);
            if (max == Double.NEGATIVE_INFINITY) return max;
            double den = 0;
            for (int l = 0; l < m; l++) {
                double e = Math.exp(logTerm[l] - max);
                if (e == 0) continue;
                den += e * normalizer[l];
                for (int i = 0; i < d; i++) out[i] += e * sums[l * d + i];
            }
            if (!(den > 0)) return Double.NEGATIVE_INFINITY;
            for (int i = 0; i < d; i++) out[i] /= den;
            return max + Math.log(den);
        }
    }

    /** A, B, C and log rho of every calibration row of one query head (see the class comment). */
    static final class RowErrors {
        final double[] a, b, c, logRho;
        final int d;
        int rows;

        RowErrors(int capacity, int d) {
            a = new double[capacity];
            b = new double[capacity];
            c = new double[capacity];
            logRho = new double[capacity];
            this.d = d;
        }

        void add(double[] full, double[] exact, double[] memory, double logRatio) {
            double aa = 0, ab = 0, bb = 0;
            for (int i = 0; i < full.length; i++) {
                double e = exact[i] - full[i], f = memory[i] - full[i];
                aa += e * e;
                ab += e * f;
                bb += f * f;
            }
            a[rows] = aa;
            b[rows] = ab;
            c[rows] = bb;
            logRho[rows] = logRatio;
            rows++;
        }

        /** Mean squared output error with gain exp(logGain) (logGain = -infinity: the window alone). */
        double error(double logGain) {
            double sum = 0;
            for (int r = 0; r < rows; r++) {
                double logBeta = logGain + logRho[r];
                if (logBeta <= 0) { // (A + 2 beta B + beta^2 C) / (1 + beta)^2
                    double beta = Math.exp(logBeta);
                    sum += (a[r] + beta * (2 * b[r] + beta * c[r])) / ((1 + beta) * (1 + beta));
                } else { // the same divided by beta^2, u = 1/beta
                    double u = Math.exp(-logBeta);
                    sum += (u * (u * a[r] + 2 * b[r]) + c[r]) / ((1 + u) * (1 + u));
                }
            }
            return Math.max(sum, 0) / ((double) rows * d);
        }

        HeadGain search() {
            double windowError = error(Double.NEGATIVE_INFINITY);
            double unitError = error(0);
            double bestLog = 0, bestError = unitError;
            for (double lg = LOG_GAIN_MIN; lg <= LOG_GAIN_MAX + 1e-9; lg += GRID_STEP) {
                double e = error(lg);
                if (e < bestError) {
                    bestError = e;
                    bestLog = lg;
                }
            }
            // golden section on [bestLog - step, bestLog + step]
            double invPhi = (Math.sqrt(5) - 1) / 2;
            double lo = bestLog - GRID_STEP, hi = bestLog + GRID_STEP;
            double x1 = hi - invPhi * (hi - lo), x2 = lo + invPhi * (hi - lo);
            double f1 = error(x1), f2 = error(x2);
            while (hi - lo > LOG_TOLERANCE) {
                if (f1 <= f2) {
                    hi = x2;
                    x2 = x1;
                    f2 = f1;
                    x1 = hi - invPhi * (hi - lo);
                    f1 = error(x1);
                } else {
                    lo = x1;
                    x1 = x2;
                    f1 = f2;
                    x2 = lo + invPhi * (hi - lo);
                    f2 = error(x2);
                }
            }
            double refined = f1 <= f2 ? x1 : x2, refinedError = Math.min(f1, f2);
            if (refinedError < bestError) {
                bestError = refinedError;
                bestLog = refined;
            }
            if (!(bestError < windowError)) return new HeadGain(0, windowError, windowError, unitError, rows);
            return new HeadGain(Math.exp(bestLog), bestError, windowError, unitError, rows);
        }
    }
}
