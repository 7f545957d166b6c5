package io.dijiang4j.attention.features;

import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.FeatureMap.Normalization;
import io.dijiang4j.attention.dct.Dct;
import io.dijiang4j.attention.qmc.ChiQuantile;
import io.dijiang4j.attention.qmc.Halton;
import io.dijiang4j.attention.qmc.MonteCarlo;
import io.dijiang4j.attention.qmc.NormalQuantile;
import io.dijiang4j.attention.qmc.PointSet;
import java.util.List;
import java.util.Locale;

/**
 * Builds the feature maps of docs/MATH.md §3 from a kind, the head size d, the number of features m (any m >= 1,
 * not only d) and a seed. Same arguments, same map, on every run and machine. Weights D are uniform; change them
 * with {@link ProjectionFeatureMap#withWeights(double[])}.
 *
 * <ul>
 *   <li>{@code wdcf}: the paper's {@code phi(x) = D o exp(T C x)}: C the orthonormal DCT-II, T = diag of standard
 *       normal quantiles of a quasi-random (scrambled Halton) sequence; for m != d the DCT rows are stacked in
 *       blocks, each block with its own T. D = 1/sqrt(m).
 *   <li>{@code wdcf-mc}: the same with T from pseudo-random uniforms (the Monte Carlo twin, for comparison).
 *   <li>{@code dijiang-code}: the released code: softmax over features of {@code x P}, {@code P = C . T} (C =
 *       dct(I, axis=0, norm='ortho'), T from pseudo-random uniforms), stacked like wdcf for m != d. D = 1.
 *   <li>{@code performer}: positive random features {@code exp(w.x - |x|^2/2)/sqrt(m)}, rows w i.i.d. N(0, I).
 *   <li>{@code performer-orthogonal}: FAVOR+: blocks of d orthogonal Gaussian rows, each scaled to the norm of an
 *       independent Gaussian vector.
 *   <li>{@code pff}: the same positive features with deterministic low-discrepancy directions and quantile radii:
 *       point l of a scrambled Halton sequence in d+1 dimensions; its first d coordinates through the normal
 *       quantile give the direction, the last through the chi_d quantile the radius.
 * </ul>
 */
public final class FeatureMaps {
    public static final List<String> KINDS =
            List.of("wdcf", "wdcf-mc", "dijiang-code", "performer", "performer-orthogonal", "pff");

    private FeatureMaps() {}

    public static ProjectionFeatureMap create(String kind, int headDim, int numFeatures, long seed) {
        if (kind == null) throw new IllegalArgumentException("feature map kind is missing; one of " + KINDS);
        if (headDim < 1) throw new IllegalArgumentException("head size must be >= 1: " + headDim);
        if (numFeatures < 1) throw new IllegalArgumentException("number of features must be >= 1: " + numFeatures);
        return switch (kind.toLowerCase(Locale.ROOT)) {
            case "wdcf" -> wdcf(headDim, numFeatures, new Halton(1, seed), "wdcf");
            case "wdcf-mc" -> wdcf(headDim, numFeatures, new MonteCarlo(1, seed), "wdcf-mc");
            case "dijiang-code" -> dijiangCode(headDim, numFeatures, seed);
            case "performer" -> performer(headDim, numFeatures, seed);
            case "performer-orthogonal" -> performerOrthogonal(headDim, numFeatures, seed);
            case "pff" -> pff(headDim, numFeatures, seed);
            default -> throw new IllegalArgumentException("unknown feature map kind '" + kind + "'; one of " + KINDS);
        };
    }

    /**
     * The kind of the data-fitted map ({@link CentroidFeatureMap}); not in {@link #KINDS}, since it is built from
     * calibration keys ({@code io.dijiang4j.attention.fit.MemoryFit#fitCentroids}), not from a seed.
     */
    /** The kind of the memory that fits itself at run time ({@link OnlineCentroidMap}); hybrid only. */
    public static final String ONLINE = OnlineCentroidMap.NAME;

    public static final String CENTROIDS = CentroidFeatureMap.NAME;

    /**
     * {@code map} with the kernel term {@code phi_l(q) phi_l(k)} of every feature multiplied by {@code factors[l]}
     * (relative weights, the convention of {@code io.dijiang4j.attention.fit.MemoryFit}): {@link
     * ProjectionFeatureMap#withKernelWeights} for the projection maps, {@link CentroidFeatureMap#withWeights} of the
     * products for the centroid map.
     */
    public static FeatureMap withKernelWeights(FeatureMap map, double[] factors) {
        if (map instanceof ProjectionFeatureMap p) return p.withKernelWeights(factors);
        if (map instanceof CentroidFeatureMap c) {
            double[] product = c.weights();
            FeatureWeights.check(factors, product.length, "kernel weight");
            for (int l = 0; l < product.length; l++) product[l] *= factors[l];
            return c.withWeights(product);
        }
        throw new IllegalArgumentException("cannot weight the features of map '" + map.name() + "'");
    }

    private static float[] uniformLogWeights(int m, double logWeight) {
        float[] w = new float[m];
        java.util.Arrays.fill(w, (float) logWeight);
        return w;
    }

    /** T diagonal: normal quantiles of points 0..m-1 of a one-dimensional point set. */
    private static double[] diagonal(int m, PointSet points) {
        double[] t = new double[m];
        double[] u = new double[1];
        for (int l = 0; l < m; l++) {
            points.point(l, u);
            t[l] = NormalQuantile.inverseCdf(u[0]);
        }
        return t;
    }

    static ProjectionFeatureMap wdcf(int d, int m, PointSet points, String name) {
        double[][] c = Dct.matrix(d);
        double[] t = diagonal(m, points);
        float[] p = new float[d * m];
        for (int l = 0; l < m; l++) {
            int k = l % d; // feature l uses DCT row k of block l / d
            for (int i = 0; i < d; i++) p[i * m + l] = (float) (t[l] * c[k][i]);
        }
        return ProjectionFeatureMap.symmetric(
                name, d, m, Normalization.NONE, p, uniformLogWeights(m, -0.5 * Math.log(m)));
    }

    static ProjectionFeatureMap dijiangCode(int d, int m, long seed) {
        double[][] c = Dct.matrix(d); // dct(I, axis=0, norm='ortho')[i][k] = C[i][k]
        double[] t = diagonal(m, new MonteCarlo(1, seed));
        float[] p = new float[d * m];
        for (int l = 0; l < m; l++) {
            int k = l % d;
            for (int i = 0; i < d; i++) p[i * m + l] = (float) (c[i][k] * t[l]);
        }
        return ProjectionFeatureMap.symmetric("dijiang-code", d, m, Normalization.SOFTMAX, p, uniformLogWeights(m, 0));
    }

    private static ProjectionFeatureMap positive(String name, int d, int m, double[][] rows) {
        float[] p = new float[d * m];
        for (int l = 0; l < m; l++) {
            for (int i = 0; i < d; i++) p[i * m + l] = (float) rows[l][i];
        }
        return ProjectionFeatureMap.symmetric(
                name, d, m, Normalization.GAUSSIAN, p, uniformLogWeights(m, -0.5 * Math.log(m)));
    }

    static ProjectionFeatureMap performer(int d, int m, long seed) {
        PointSet points = new MonteCarlo(d, seed);
        double[][] w = new double[m][d];
        for (int l = 0; l < m; l++) points.gaussianPoint(l, w[l]);
        return positive("performer", d, m, w);
    }

    static ProjectionFeatureMap performerOrthogonal(int d, int m, long seed) {
        PointSet points = new MonteCarlo(d, seed);
        double[][] w = new double[m][d];
        double[] g = new double[d];
        long next = 0;
        for (int block = 0; block * d < m; block++) {
            int rows = Math.min(d, m - block * d);
            double[][] q = new double[rows][];
            for (int r = 0; r < rows; r++) { // Gram-Schmidt on fresh Gaussian rows (twice, for stability)
                double[] row = new double[d];
                points.gaussianPoint(next++, row);
                for (int pass = 0; pass < 2; pass++) {
                    for (int s = 0; s < r; s++) {
                        double dot = 0;
                        for (int i = 0; i < d; i++) dot += row[i] * q[s][i];
                        for (int i = 0; i < d; i++) row[i] -= dot * q[s][i];
                    }
                }
                double norm = 0;
                for (double x : row) norm += x * x;
                norm = Math.sqrt(norm);
                for (int i = 0; i < d; i++) row[i] /= norm;
                q[r] = row;
            }
            for (int r = 0; r < rows; r++) {
                points.gaussianPoint(next++, g); // radius: the norm of an independent Gaussian vector
                double radius = 0;
                for (double x : g) radius += x * x;
                radius = Math.sqrt(radius);
                for (int i = 0; i < d; i++) w[block * d + r][i] = q[r][i] * radius;
            }
        }
        return positive("performer-orthogonal", d, m, w);
    }

    static ProjectionFeatureMap pff(int d, int m, long seed) {
        PointSet points = new Halton(d + 1, seed);
        double[][] w = new double[m][d];
        double[] u = new double[d + 1];
        for (int l = 0; l < m; l++) {
            points.point(l, u);
            double norm = 0;
            for (int i = 0; i < d; i++) {
                w[l][i] = NormalQuantile.inverseCdf(u[i]);
                norm += w[l][i] * w[l][i];
            }
            norm = Math.sqrt(norm);
            double radius = ChiQuantile.quantile(d, u[d]);
            for (int i = 0; i < d; i++) w[l][i] *= radius / norm;
        }
        return positive("pff", d, m, w);
    }
}
