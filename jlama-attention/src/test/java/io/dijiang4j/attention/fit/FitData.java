package io.dijiang4j.attention.fit;

import java.util.SplittableRandom;

/** Random attention-like calibration data for the fit tests. */
final class FitData {
    private FitData() {}

    /**
     * Queries and keys with norms about {@code norm}, a shared key bias (real keys share a mean direction) and each
     * query leaning towards a recent key, so the softmax has both local and spread-out mass; values Gaussian.
     */
    static KvHeadSequence attentionLike(SplittableRandom random, int heads, int length, int d, double norm) {
        double[][] keys = new double[length][d];
        double[] bias = new double[d];
        for (int i = 0; i < d; i++) bias[i] = 0.5 * norm * random.nextGaussian() / Math.sqrt(d);
        for (double[] k : keys) {
            for (int i = 0; i < d; i++) k[i] = bias[i] + norm * random.nextGaussian() / Math.sqrt(d);
        }
        double[][][] queries = new double[heads][length][d];
        for (int h = 0; h < heads; h++) {
            for (int n = 0; n < length; n++) {
                int recent = Math.max(0, n - random.nextInt(4));
                for (int i = 0; i < d; i++) {
                    queries[h][n][i] = norm * random.nextGaussian() / Math.sqrt(d) + 0.5 * keys[recent][i];
                }
            }
        }
        double[][] values = new double[length][d];
        for (double[] v : values) {
            for (int i = 0; i < d; i++) v[i] = random.nextGaussian();
        }
        return new KvHeadSequence(queries, keys, values);
    }

    /**
     * Keys sitting exactly on one of m well-separated centers (cluster j % m at position j), queries random: a
     * centroid map with these centers reproduces exp(tau q.k) of every key.
     */
    static KvHeadSequence onCenters(SplittableRandom random, double[][] centers, int heads, int length) {
        int m = centers.length, d = centers[0].length;
        double[][] keys = new double[length][];
        for (int j = 0; j < length; j++) keys[j] = centers[(j * 7 + j / m) % m].clone();
        double[][][] queries = new double[heads][length][d];
        for (double[][] head : queries) {
            for (double[] q : head) {
                for (int i = 0; i < d; i++) q[i] = 2 * random.nextGaussian();
            }
        }
        double[][] values = new double[length][d];
        for (double[] v : values) {
            for (int i = 0; i < d; i++) v[i] = random.nextGaussian();
        }
        return new KvHeadSequence(queries, keys, values);
    }

    /** m centers far apart (distinct signed axis offsets of 4 and more on top of Gaussian noise). */
    static double[][] centers(SplittableRandom random, int m, int d) {
        double[][] c = new double[m][d];
        for (int l = 0; l < m; l++) {
            for (int i = 0; i < d; i++) c[l][i] = 1.5 * random.nextGaussian();
            c[l][l % d] += 4 * (l / d + 1) * (l % 2 == 0 ? 1 : -1);
        }
        return c;
    }
}
