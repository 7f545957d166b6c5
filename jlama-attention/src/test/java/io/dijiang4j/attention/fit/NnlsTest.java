package io.dijiang4j.attention.fit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class NnlsTest {
    @Test
    void activeConstraintWhereTheUnconstrainedOptimumIsNegative() {
        // unconstrained least squares gives (7/3, -5/3); with x >= 0: x2 = 0 and x1 = h1 / G11 = 3/2
        double[][] a = {{1, 0}, {1, 1}, {0, 1}};
        double[] b = {2, 1, -2};
        assertArrayEquals(new double[] {1.5, 0}, Nnls.solve(a, b), 1e-12);
        // the same problem in normal-equation form
        assertArrayEquals(
                new double[] {1.5, 0}, Nnls.solveNormal(new double[][] {{2, 1}, {1, 2}}, new double[] {3, -1}), 1e-12);
    }

    @Test
    void everythingActiveGivesZeroAndAPositiveTruthIsRecovered() {
        assertArrayEquals(new double[] {0, 0, 0}, Nnls.solve(identity(3), new double[] {-1, -2, -0.5}), 0);
        assertArrayEquals(new double[] {1, 0, 3}, Nnls.solve(identity(3), new double[] {1, -2, 3}), 1e-15);
        SplittableRandom random = new SplittableRandom(3);
        double[][] a = gaussian(random, 12, 4);
        double[] truth = {0.5, 2, 1.25, 3};
        double[] b = new double[12];
        for (int r = 0; r < 12; r++) {
            for (int c = 0; c < 4; c++) b[r] += a[r][c] * truth[c];
        }
        assertArrayEquals(truth, Nnls.solve(a, b), 1e-10);
    }

    @Test
    void matchesBruteForceOverEveryActiveSet() {
        SplittableRandom random = new SplittableRandom(11);
        int constrained = 0;
        for (int trial = 0; trial < 200; trial++) {
            int n = 3 + trial % 4, rows = n + 2 + random.nextInt(7);
            double[][] a = gaussian(random, rows, n);
            double[] b = new double[rows];
            for (int r = 0; r < rows; r++) b[r] = random.nextGaussian();
            double[] x = Nnls.solve(a, b);
            double[] best = bruteForce(a, b);
            assertArrayEquals(best, x, 1e-9, "trial " + trial);
            assertEquals(residual(a, b, best), residual(a, b, x), 1e-10 * Math.max(1, residual(a, b, best)));
            for (double v : best) constrained += v == 0 ? 1 : 0;
        }
        assertTrue(constrained > 100, "the random problems exercise active constraints: " + constrained);
    }

    @Test
    void kktConditionsHoldOnLargerProblems() {
        SplittableRandom random = new SplittableRandom(29);
        for (int trial = 0; trial < 12; trial++) {
            int n = 20 + random.nextInt(45), rows = n + 5 + random.nextInt(3 * n);
            double[][] a = gaussian(random, rows, n);
            if (trial % 3 == 0) { // kernel-like: positive, strongly correlated columns
                for (double[] row : a) {
                    double shared = row[0];
                    for (int c = 0; c < n; c++) row[c] = Math.exp(0.3 * row[c] + 0.5 * shared);
                }
            } else if (trial % 3 == 1) { // columns of very different scales
                for (int c = 0; c < n; c++) {
                    double scale = Math.pow(10, random.nextInt(9) - 4);
                    for (double[] row : a) row[c] *= scale;
                }
            }
            double[] b = new double[rows];
            for (int r = 0; r < rows; r++) b[r] = random.nextGaussian() + (trial % 3 == 0 ? 2 : 0);
            assertKkt(a, b, Nnls.solve(a, b), "trial " + trial);
        }
    }

    @Test
    void duplicateColumnsAreHandled() {
        SplittableRandom random = new SplittableRandom(5);
        double[][] a = gaussian(random, 15, 5);
        for (double[] row : a) row[4] = row[1]; // rank deficient: column 4 = column 1
        double[] b = new double[15];
        for (int r = 0; r < 15; r++) b[r] = 2 * a[r][1] + a[r][2] + 0.1 * random.nextGaussian();
        double[] x = Nnls.solve(a, b);
        assertKkt(a, b, x, "duplicate columns");
        double[][] reduced = new double[15][4];
        for (int r = 0; r < 15; r++) System.arraycopy(a[r], 0, reduced[r], 0, 4);
        double[] y = bruteForce(reduced, b);
        assertEquals(residual(reduced, b, y), residual(a, b, x), 1e-9);
        assertEquals(y[1], x[1] + x[4], 1e-6);
    }

    @Test
    void rejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> Nnls.solveNormal(new double[][] {{1, 0}}, new double[] {1}));
        assertThrows(
                IllegalArgumentException.class,
                () -> Nnls.solveNormal(new double[][] {{1, Double.NaN}, {0, 1}}, new double[] {1, 1}));
        assertThrows(IllegalArgumentException.class, () -> Nnls.solve(new double[][] {{1}}, new double[] {1, 2}));
    }

    private static void assertKkt(double[][] a, double[] b, double[] x, String what) {
        int n = x.length;
        double[] r = new double[b.length];
        for (int i = 0; i < b.length; i++) {
            r[i] = b[i];
            for (int c = 0; c < n; c++) r[i] -= a[i][c] * x[c];
        }
        double bNorm = 0;
        for (double v : b) bNorm += v * v;
        double[] gradient = new double[n]; // A^T (b - A x)
        for (int c = 0; c < n; c++) {
            double colNorm = 0;
            for (int i = 0; i < b.length; i++) {
                gradient[c] += a[i][c] * r[i];
                colNorm += a[i][c] * a[i][c];
            }
            // scale-invariant: the gradient of column c relative to |a_c| |b|
            double tol = 1e-8 * Math.sqrt(colNorm) * Math.sqrt(bNorm);
            assertTrue(x[c] >= 0, what + ": x >= 0");
            assertTrue(gradient[c] <= tol, what + ": no descent direction at " + c + ": " + gradient[c]);
            if (x[c] > 0) assertEquals(0, gradient[c], tol, what + ": stationary where positive");
        }
    }

    /** The best feasible unconstrained least-squares solution over every subset of columns. */
    private static double[] bruteForce(double[][] a, double[] b) {
        int n = a[0].length;
        double[] best = new double[n];
        double bestResidual = residual(a, b, best);
        for (int mask = 1; mask < (1 << n); mask++) {
            int p = Integer.bitCount(mask);
            int[] index = new int[p];
            for (int c = 0, k = 0; c < n; c++) {
                if ((mask & (1 << c)) != 0) index[k++] = c;
            }
            double[][] g = new double[p][p + 1];
            for (int i = 0; i < p; i++) {
                for (int j = 0; j < p; j++) {
                    for (double[] row : a) g[i][j] += row[index[i]] * row[index[j]];
                }
                for (int r = 0; r < b.length; r++) g[i][p] += a[r][index[i]] * b[r];
            }
            double[] s = gauss(g);
            if (s == null) continue;
            boolean feasible = true;
            for (double v : s) feasible &= v >= 0;
            if (!feasible) continue;
            double[] x = new double[n];
            for (int i = 0; i < p; i++) x[index[i]] = s[i];
            double res = residual(a, b, x);
            if (res < bestResidual) {
                bestResidual = res;
                best = x;
            }
        }
        return best;
    }

    /** Gaussian elimination with partial pivoting on an augmented matrix; null when singular. */
    private static double[] gauss(double[][] m) {
        int p = m.length;
        for (int c = 0; c < p; c++) {
            int pivot = c;
            for (int r = c + 1; r < p; r++) {
                if (Math.abs(m[r][c]) > Math.abs(m[pivot][c])) pivot = r;
            }
            if (Math.abs(m[pivot][c]) < 1e-12) return null;
            double[] t = m[c];
            m[c] = m[pivot];
            m[pivot] = t;
            for (int r = 0; r < p; r++) {
                if (r == c) continue;
                double f = m[r][c] / m[c][c];
                for (int k = c; k <= p; k++) m[r][k] -= f * m[c][k];
            }
        }
        double[] s = new double[p];
        for (int i = 0; i < p; i++) s[i] = m[i][p] / m[i][i];
        return s;
    }

    private static double residual(double[][] a, double[] b, double[] x) {
        double s = 0;
        for (int r = 0; r < b.length; r++) {
            double v = -b[r];
            for (int c = 0; c < x.length; c++) v += a[r][c] * x[c];
            s += v * v;
        }
        return s;
    }

    private static double[][] gaussian(SplittableRandom random, int rows, int cols) {
        double[][] a = new double[rows][cols];
        for (double[] row : a) {
            for (int c = 0; c < cols; c++) row[c] = random.nextGaussian();
        }
        return a;
    }

    private static double[][] identity(int n) {
        double[][] a = new double[n][n];
        for (int i = 0; i < n; i++) a[i][i] = 1;
        return a;
    }
}
