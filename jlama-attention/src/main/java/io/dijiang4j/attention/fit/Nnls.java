package io.dijiang4j.attention.fit;

/**
 * Non-negative least squares, {@code min |A x - b|^2 subject to x >= 0}, by the active-set method of Lawson and
 * Hanson (Solving Least Squares Problems, 1974, chapter 23), in float64.
 *
 * <p>The solver works on the normal equations {@code G = A^T A}, {@code h = A^T b}: the kernel-weight problem of
 * {@link MemoryFit} arrives in that form (an m x m system accumulated over millions of pairs, m <= a few hundred).
 * Each step solves the unconstrained problem on the passive (positive) set by Cholesky. Forming {@code A^T A}
 * squares the condition number; that is acceptable here because the callers scale the columns to a common size
 * first. When the passive block is numerically singular (duplicate or collinear columns), its diagonal is
 * multiplied by {@code 1 + r} for the smallest r of 1e-14, 1e-12, 1e-10, 1e-8 that makes Cholesky succeed (a ridge
 * relative to each column's own scale, for that solve only); a well-posed problem never sees one.
 */
public final class Nnls {
    private static final double EPSILON = Math.ulp(1.0);

    private Nnls() {}

    /** {@code argmin |A x - b|, x >= 0}; a is [rows][columns]. Goes through the normal equations. */
    public static double[] solve(double[][] a, double[] b) {
        if (a == null || b == null || a.length != b.length || a.length == 0) {
            throw new IllegalArgumentException("NNLS needs a non-empty matrix and a right-hand side of as many rows");
        }
        int n = a[0].length;
        double[][] g = new double[n][n];
        double[] h = new double[n];
        for (int r = 0; r < a.length; r++) {
            double[] row = a[r];
            if (row.length != n) throw new IllegalArgumentException("NNLS matrix rows differ in length");
            for (int i = 0; i < n; i++) {
                double ai = row[i];
                h[i] += ai * b[r];
                for (int j = i; j < n; j++) g[i][j] += ai * row[j];
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++) g[i][j] = g[j][i];
        }
        return solveNormal(g, h);
    }

    /**
     * {@code argmin x^T G x - 2 h^T x, x >= 0} for a symmetric positive semi-definite G (the normal equations {@code
     * G = A^T A}, {@code h = A^T b} of {@code min |A x - b|, x >= 0}). The result satisfies the KKT conditions up to
     * rounding: {@code x >= 0}, {@code (h - G x)_i <= 0} everywhere and {@code = 0} where {@code x_i > 0}, each up to
     * the rounding of its own sum (columns may differ in scale by many orders of magnitude).
     *
     * @throws IllegalArgumentException on a non-square, non-finite or mis-sized input
     * @throws IllegalStateException when the active-set iteration does not finish within {@code 5 n + 50} steps
     *     (cycling on a badly conditioned problem)
     */
    public static double[] solveNormal(double[][] ata, double[] atb) {
        int n = validate(ata, atb);
        double[] x = new double[n];
        boolean[] passive = new boolean[n];
        boolean[] blocked = new boolean[n]; // Lawson-Hanson step: an index whose re-solve came out <= 0, until x moves
        double[] gradient = new double[n];
        double[] s = new double[n];
        int maxIterations = 5 * n + 50;
        for (int iteration = 0; ; iteration++) {
            if (iteration >= maxIterations) {
                throw new IllegalStateException("NNLS did not converge within " + maxIterations + " iterations (" + n
                        + " unknowns); the problem is too badly conditioned");
            }
            for (int i = 0; i < n; i++) {
                double gi = atb[i], magnitude = Math.abs(atb[i]);
                for (int j = 0; j < n; j++) {
                    double term = ata[i][j] * x[j];
                    gi -= term;
                    magnitude += Math.abs(term);
                }
                // a gradient within the rounding of its own sum is zero (per column: columns may differ in scale)
                gradient[i] = gi > 1e3 * n * EPSILON * magnitude ? gi : 0;
            }
            int t = -1;
            for (int i = 0; i < n; i++) {
                if (!passive[i] && !blocked[i] && gradient[i] > 0 && (t < 0 || gradient[i] > gradient[t])) t = i;
            }
            if (t < 0) return x;
            passive[t] = true;
            solvePassive(ata, atb, passive, s);
            if (!(s[t] > 0)) { // rounding: t cannot enter; try the next candidate with x unchanged
                passive[t] = false;
                blocked[t] = true;
                continue;
            }
            java.util.Arrays.fill(blocked, false);
            while (true) { // inner loop: step towards s until it is feasible
                int limiting = -1;
                double alpha = 1;
                for (int i = 0; i < n; i++) {
                    if (passive[i] && s[i] <= 0) {
                        double step = x[i] / (x[i] - s[i]);
                        if (limiting < 0 || step < alpha) {
                            alpha = step;
                            limiting = i;
                        }
                    }
                }
                if (limiting < 0) {
                    for (int i = 0; i < n; i++) x[i] = passive[i] ? s[i] : 0;
                    break;
                }
                for (int i = 0; i < n; i++) {
                    if (passive[i]) x[i] += alpha * (s[i] - x[i]);
                }
                for (int i = 0; i < n; i++) {
                    if (passive[i] && (i == limiting || x[i] <= 0)) {
                        passive[i] = false;
                        x[i] = 0;
                    }
                }
                solvePassive(ata, atb, passive, s);
            }
        }
    }

    private static int validate(double[][] ata, double[] atb) {
        if (ata == null || atb == null || ata.length != atb.length || atb.length == 0) {
            throw new IllegalArgumentException("NNLS normal equations need an n x n matrix and n right-hand values");
        }
        int n = atb.length;
        for (int i = 0; i < n; i++) {
            if (ata[i].length != n) throw new IllegalArgumentException("NNLS normal matrix is not square");
            if (!Double.isFinite(atb[i])) throw new IllegalArgumentException("NNLS right-hand side is not finite");
            for (int j = 0; j < n; j++) {
                if (!Double.isFinite(ata[i][j])) throw new IllegalArgumentException("NNLS matrix is not finite");
            }
        }
        return n;
    }

    /** s = the unconstrained solution on the passive set (0 elsewhere). */
    private static void solvePassive(double[][] ata, double[] atb, boolean[] passive, double[] s) {
        int n = atb.length, p = 0;
        int[] index = new int[n];
        for (int i = 0; i < n; i++) {
            s[i] = 0;
            if (passive[i]) index[p++] = i;
        }
        if (p == 0) return;
        double[][] chol = new double[p][p];
        for (double ridge = 0; ; ridge = ridge == 0 ? 1e-14 : ridge * 100) {
            if (ridge > 1e-8) {
                throw new IllegalStateException("NNLS: the passive block is singular even with a ridge of 1e-8");
            }
            if (cholesky(ata, index, p, ridge, chol)) break;
        }
        double[] y = new double[p];
        for (int r = 0; r < p; r++) { // forward: L y = h
            double v = atb[index[r]];
            for (int c = 0; c < r; c++) v -= chol[r][c] * y[c];
            y[r] = v / chol[r][r];
        }
        for (int r = p - 1; r >= 0; r--) { // backward: L^T s = y
            double v = y[r];
            for (int c = r + 1; c < p; c++) v -= chol[c][r] * y[c];
            y[r] = v / chol[r][r];
        }
        for (int r = 0; r < p; r++) s[index[r]] = y[r];
    }

    private static boolean cholesky(double[][] g, int[] index, int p, double ridge, double[][] l) {
        for (int r = 0; r < p; r++) {
            for (int c = 0; c <= r; c++) {
                double v = g[index[r]][index[c]] * (r == c ? 1 + ridge : 1);
                for (int k = 0; k < c; k++) v -= l[r][k] * l[c][k];
                if (r == c) {
                    // relative pivot test: a pivot that cancelled to rounding noise means a dependent column
                    if (!(v > 1e-13 * Math.max(g[index[r]][index[r]], Double.MIN_NORMAL))) return false;
                    l[r][r] = Math.sqrt(v);
                } else {
                    l[r][c] = v / l[c][c];
                }
            }
        }
        return true;
    }
}
