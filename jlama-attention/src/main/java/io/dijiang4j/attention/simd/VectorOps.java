package io.dijiang4j.attention.simd;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The SIMD primitives the kernels are built from (Vector API, any length: a scalar tail finishes what the vector
 * loop leaves). Matrices are row-major float arrays addressed by an offset and a row stride.
 */
public final class VectorOps {
    public static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    public static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    /** Floats that widen into one double vector. */
    private static final VectorSpecies<Float> F_HALF =
            VectorSpecies.of(float.class, VectorShape.forBitSize(D.vectorBitSize() / 2));

    private VectorOps() {}

    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int i = 0;
        float sum = 0f;
        int bound = F.loopBound(n);
        if (bound > 0) {
            FloatVector acc = FloatVector.zero(F);
            for (; i < bound; i += F.length()) {
                acc = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc);
            }
            sum = Vec.sumLanes(acc);
        }
        for (; i < n; i++) sum += a[ao + i] * b[bo + i];
        return sum;
    }

    /** y += alpha * x. */
    public static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        int bound = F.loopBound(n);
        if (bound > 0) {
            FloatVector va = FloatVector.broadcast(F, alpha);
            for (; i < bound; i += F.length()) {
                FloatVector.fromArray(F, x, xo + i)
                        .fma(va, FloatVector.fromArray(F, y, yo + i))
                        .intoArray(y, yo + i);
            }
        }
        for (; i < n; i++) y[yo + i] += alpha * x[xo + i];
    }

    /**
     * y[j] += sum over r < rows of w[wo + r] * a[ao + r * stride + j], j < n: the same operations, in the same order,
     * as {@link #axpy(float, float[], int, float[], int, int)} once per row, so bit-identical to that loop, but with up
     * to four vectors of y held in registers across the rows instead of loaded and stored once per row (a hybrid
     * decode step's window logits: one row per dimension of the head).
     */
    public static void addWeightedRows(
            float[] w, int wo, float[] a, int ao, int stride, int rows, float[] y, int yo, int n) {
        int len = F.length(), bound = F.loopBound(n), j = 0;
        for (; j + 4 * len <= bound; j += 4 * len) {
            FloatVector y0 = FloatVector.fromArray(F, y, yo + j), y1 = FloatVector.fromArray(F, y, yo + j + len);
            FloatVector y2 = FloatVector.fromArray(F, y, yo + j + 2 * len);
            FloatVector y3 = FloatVector.fromArray(F, y, yo + j + 3 * len);
            for (int r = 0, at = ao + j; r < rows; r++, at += stride) {
                FloatVector wr = FloatVector.broadcast(F, w[wo + r]);
                y0 = FloatVector.fromArray(F, a, at).fma(wr, y0);
                y1 = FloatVector.fromArray(F, a, at + len).fma(wr, y1);
                y2 = FloatVector.fromArray(F, a, at + 2 * len).fma(wr, y2);
                y3 = FloatVector.fromArray(F, a, at + 3 * len).fma(wr, y3);
            }
            y0.intoArray(y, yo + j);
            y1.intoArray(y, yo + j + len);
            y2.intoArray(y, yo + j + 2 * len);
            y3.intoArray(y, yo + j + 3 * len);
        }
        for (; j < bound; j += len) {
            FloatVector y0 = FloatVector.fromArray(F, y, yo + j);
            for (int r = 0, at = ao + j; r < rows; r++, at += stride) {
                y0 = FloatVector.fromArray(F, a, at).fma(FloatVector.broadcast(F, w[wo + r]), y0);
            }
            y0.intoArray(y, yo + j);
        }
        for (; j < n; j++) {
            float s = y[yo + j];
            for (int r = 0; r < rows; r++) s += w[wo + r] * a[ao + r * stride + j];
            y[yo + j] = s;
        }
    }

    /** y += alpha * x, x float, y double (state accumulation). */
    public static void axpy(double alpha, float[] x, int xo, double[] y, int yo, int n) {
        int i = 0;
        int bound = D.loopBound(n);
        if (bound > 0) {
            DoubleVector va = DoubleVector.broadcast(D, alpha);
            for (; i < bound; i += D.length()) {
                DoubleVector xv =
                        (DoubleVector) FloatVector.fromArray(F_HALF, x, xo + i).castShape(D, 0);
                xv.fma(va, DoubleVector.fromArray(D, y, yo + i)).intoArray(y, yo + i);
            }
        }
        for (; i < n; i++) y[yo + i] += alpha * x[xo + i];
    }

    /** y = beta * y + alpha * x, all double. */
    public static void scaleAdd(double beta, double[] y, int yo, double alpha, double[] x, int xo, int n) {
        int i = 0;
        int bound = D.loopBound(n);
        if (bound > 0) {
            DoubleVector vb = DoubleVector.broadcast(D, beta);
            DoubleVector va = DoubleVector.broadcast(D, alpha);
            for (; i < bound; i += D.length()) {
                DoubleVector.fromArray(D, y, yo + i)
                        .mul(vb)
                        .add(DoubleVector.fromArray(D, x, xo + i).mul(va))
                        .intoArray(y, yo + i);
            }
        }
        for (; i < n; i++) y[yo + i] = beta * y[yo + i] + alpha * x[xo + i];
    }

    /** y = beta * y + alpha * x, y double, x float. */
    public static void scaleAdd(double beta, double[] y, int yo, double alpha, float[] x, int xo, int n) {
        int i = 0;
        int bound = D.loopBound(n);
        if (bound > 0) {
            DoubleVector vb = DoubleVector.broadcast(D, beta);
            DoubleVector va = DoubleVector.broadcast(D, alpha);
            for (; i < bound; i += D.length()) {
                DoubleVector xv =
                        (DoubleVector) FloatVector.fromArray(F_HALF, x, xo + i).castShape(D, 0);
                xv.mul(va).add(DoubleVector.fromArray(D, y, yo + i).mul(vb)).intoArray(y, yo + i);
            }
        }
        for (; i < n; i++) y[yo + i] = beta * y[yo + i] + alpha * x[xo + i];
    }

    /** y += alpha * x, all double. */
    public static void axpy(double alpha, double[] x, int xo, double[] y, int yo, int n) {
        int i = 0;
        int bound = D.loopBound(n);
        if (bound > 0) {
            DoubleVector va = DoubleVector.broadcast(D, alpha);
            for (; i < bound; i += D.length()) {
                DoubleVector.fromArray(D, x, xo + i)
                        .fma(va, DoubleVector.fromArray(D, y, yo + i))
                        .intoArray(y, yo + i);
            }
        }
        for (; i < n; i++) y[yo + i] += alpha * x[xo + i];
    }

    /**
     * |a - b|^2 over n doubles, in two vector accumulators (a scalar loop's sum is one chain of dependent adds, which
     * C2 may not reorder: the online memory's merge costs, 2L of them per folded token, ran 4x slower so).
     */
    public static double squaredDistance(double[] a, int ao, double[] b, int bo, int n) {
        int i = 0;
        int step = D.length();
        DoubleVector s0 = DoubleVector.zero(D), s1 = s0;
        for (int bound = n - 2 * step; i <= bound; i += 2 * step) {
            DoubleVector d0 = DoubleVector.fromArray(D, a, ao + i).sub(DoubleVector.fromArray(D, b, bo + i));
            DoubleVector d1 =
                    DoubleVector.fromArray(D, a, ao + i + step).sub(DoubleVector.fromArray(D, b, bo + i + step));
            s0 = d0.fma(d0, s0);
            s1 = d1.fma(d1, s1);
        }
        double sum = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            double d = a[ao + i] - b[bo + i];
            sum += d * d;
        }
        return sum;
    }

    /**
     * out[r] = |a - row r|^2 over n doubles for rows r < count of {@code rows} (row r at r * stride): each bit-identical
     * to {@link #squaredDistance}, four rows at a time sharing the loads of a (the online memory's merge costs of one
     * cluster against all the others, once per folded token).
     */
    public static void squaredDistances(double[] a, int ao, double[] rows, int stride, int count, double[] out, int n) {
        int step = D.length(), r = 0;
        for (; r + 4 <= count; r += 4) {
            int b0 = r * stride, b1 = b0 + stride, b2 = b1 + stride, b3 = b2 + stride, i = 0;
            DoubleVector s00 = DoubleVector.zero(D), s01 = s00, s10 = s00, s11 = s00;
            DoubleVector s20 = s00, s21 = s00, s30 = s00, s31 = s00;
            for (int bound = n - 2 * step; i <= bound; i += 2 * step) {
                DoubleVector x0 = DoubleVector.fromArray(D, a, ao + i),
                        x1 = DoubleVector.fromArray(D, a, ao + i + step);
                DoubleVector d0 = x0.sub(DoubleVector.fromArray(D, rows, b0 + i));
                DoubleVector d1 = x1.sub(DoubleVector.fromArray(D, rows, b0 + i + step));
                s00 = d0.fma(d0, s00);
                s01 = d1.fma(d1, s01);
                d0 = x0.sub(DoubleVector.fromArray(D, rows, b1 + i));
                d1 = x1.sub(DoubleVector.fromArray(D, rows, b1 + i + step));
                s10 = d0.fma(d0, s10);
                s11 = d1.fma(d1, s11);
                d0 = x0.sub(DoubleVector.fromArray(D, rows, b2 + i));
                d1 = x1.sub(DoubleVector.fromArray(D, rows, b2 + i + step));
                s20 = d0.fma(d0, s20);
                s21 = d1.fma(d1, s21);
                d0 = x0.sub(DoubleVector.fromArray(D, rows, b3 + i));
                d1 = x1.sub(DoubleVector.fromArray(D, rows, b3 + i + step));
                s30 = d0.fma(d0, s30);
                s31 = d1.fma(d1, s31);
            }
            double t0 = s00.add(s01).reduceLanes(VectorOperators.ADD),
                    t1 = s10.add(s11).reduceLanes(VectorOperators.ADD);
            double t2 = s20.add(s21).reduceLanes(VectorOperators.ADD),
                    t3 = s30.add(s31).reduceLanes(VectorOperators.ADD);
            for (; i < n; i++) {
                double x = a[ao + i], e0 = x - rows[b0 + i], e1 = x - rows[b1 + i];
                double e2 = x - rows[b2 + i], e3 = x - rows[b3 + i];
                t0 += e0 * e0;
                t1 += e1 * e1;
                t2 += e2 * e2;
                t3 += e3 * e3;
            }
            out[r] = t0;
            out[r + 1] = t1;
            out[r + 2] = t2;
            out[r + 3] = t3;
        }
        for (; r < count; r++) out[r] = squaredDistance(a, ao, rows, r * stride, n);
    }

    /** y[i] = alpha * y[i] + b[i] + beta. */
    public static void scaleAdd(float alpha, float[] y, int yo, float[] b, int bo, float beta, int n) {
        int i = 0;
        int bound = F.loopBound(n);
        if (bound > 0) {
            FloatVector va = FloatVector.broadcast(F, alpha);
            FloatVector vb = FloatVector.broadcast(F, beta);
            for (; i < bound; i += F.length()) {
                FloatVector.fromArray(F, y, yo + i)
                        .fma(va, FloatVector.fromArray(F, b, bo + i).add(vb))
                        .intoArray(y, yo + i);
            }
        }
        for (; i < n; i++) y[yo + i] = alpha * y[yo + i] + b[bo + i] + beta;
    }

    /** y = alpha * x. */
    public static void scaleInto(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        int bound = F.loopBound(n);
        if (bound > 0) {
            FloatVector va = FloatVector.broadcast(F, alpha);
            for (; i < bound; i += F.length()) {
                FloatVector.fromArray(F, x, xo + i).mul(va).intoArray(y, yo + i);
            }
        }
        for (; i < n; i++) y[yo + i] = alpha * x[xo + i];
    }

    /** Whether every value of a[off .. off+n) is finite (x * 0 is NaN exactly for NaN and infinities). */
    public static boolean allFinite(float[] a, int off, int n) {
        int i = 0;
        int bound = F.loopBound(n);
        if (bound > 0) {
            FloatVector acc = FloatVector.zero(F);
            for (; i < bound; i += F.length())
                acc = acc.add(FloatVector.fromArray(F, a, off + i).mul(0f));
            if (acc.reduceLanes(VectorOperators.ADD) != 0f) return false;
        }
        for (; i < n; i++) {
            if (!Float.isFinite(a[off + i])) return false;
        }
        return true;
    }

    public static void scale(float alpha, float[] y, int yo, int n) {
        int i = 0;
        int bound = F.loopBound(n);
        if (bound > 0) {
            FloatVector va = FloatVector.broadcast(F, alpha);
            for (; i < bound; i += F.length()) {
                FloatVector.fromArray(F, y, yo + i).mul(va).intoArray(y, yo + i);
            }
        }
        for (; i < n; i++) y[yo + i] *= alpha;
    }

    /**
     * C[rows x cols] += A[rows x inner] * B[inner x cols], row-major with row strides lda, ldb, ldc. Register
     * blocked: six rows of C by two vectors of columns stay in registers across the inner loop (twelve accumulators
     * of the sixteen 256-bit registers: 35% more GFLOP/s than four rows on this machine), then four rows, then one.
     */
    public static void gemm(
            float[] a,
            int ao,
            int lda,
            float[] b,
            int bo,
            int ldb,
            float[] c,
            int co,
            int ldc,
            int rows,
            int inner,
            int cols) {
        int lanes = F.length();
        int colBound2 = cols - cols % (2 * lanes);
        int colBound1 = F.loopBound(cols);
        int i = 0;
        if (colBound2 > 0 && rows >= 6) {
            i = rows - rows % 6;
            gemm6x2(a, ao, lda, b, bo, ldb, c, co, ldc, i, inner, colBound2);
            if (colBound2 < cols) {
                gemm(a, ao, lda, b, bo + colBound2, ldb, c, co + colBound2, ldc, i, inner, cols - colBound2);
            }
        }
        for (; i + 4 <= rows; i += 4) {
            int a0 = ao + i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
            int c0 = co + i * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
            int j = 0;
            for (; j < colBound2; j += 2 * lanes) {
                FloatVector s00 = FloatVector.fromArray(F, c, c0 + j);
                FloatVector s01 = FloatVector.fromArray(F, c, c0 + j + lanes);
                FloatVector s10 = FloatVector.fromArray(F, c, c1 + j);
                FloatVector s11 = FloatVector.fromArray(F, c, c1 + j + lanes);
                FloatVector s20 = FloatVector.fromArray(F, c, c2 + j);
                FloatVector s21 = FloatVector.fromArray(F, c, c2 + j + lanes);
                FloatVector s30 = FloatVector.fromArray(F, c, c3 + j);
                FloatVector s31 = FloatVector.fromArray(F, c, c3 + j + lanes);
                int bk = bo + j;
                for (int k = 0; k < inner; k++, bk += ldb) {
                    FloatVector b0 = FloatVector.fromArray(F, b, bk);
                    FloatVector b1 = FloatVector.fromArray(F, b, bk + lanes);
                    FloatVector x0 = FloatVector.broadcast(F, a[a0 + k]);
                    s00 = b0.fma(x0, s00);
                    s01 = b1.fma(x0, s01);
                    FloatVector x1 = FloatVector.broadcast(F, a[a1 + k]);
                    s10 = b0.fma(x1, s10);
                    s11 = b1.fma(x1, s11);
                    FloatVector x2 = FloatVector.broadcast(F, a[a2 + k]);
                    s20 = b0.fma(x2, s20);
                    s21 = b1.fma(x2, s21);
                    FloatVector x3 = FloatVector.broadcast(F, a[a3 + k]);
                    s30 = b0.fma(x3, s30);
                    s31 = b1.fma(x3, s31);
                }
                s00.intoArray(c, c0 + j);
                s01.intoArray(c, c0 + j + lanes);
                s10.intoArray(c, c1 + j);
                s11.intoArray(c, c1 + j + lanes);
                s20.intoArray(c, c2 + j);
                s21.intoArray(c, c2 + j + lanes);
                s30.intoArray(c, c3 + j);
                s31.intoArray(c, c3 + j + lanes);
            }
            for (; j < colBound1; j += lanes) {
                FloatVector s0 = FloatVector.fromArray(F, c, c0 + j);
                FloatVector s1 = FloatVector.fromArray(F, c, c1 + j);
                FloatVector s2 = FloatVector.fromArray(F, c, c2 + j);
                FloatVector s3 = FloatVector.fromArray(F, c, c3 + j);
                int bk = bo + j;
                for (int k = 0; k < inner; k++, bk += ldb) {
                    FloatVector b0 = FloatVector.fromArray(F, b, bk);
                    s0 = b0.fma(FloatVector.broadcast(F, a[a0 + k]), s0);
                    s1 = b0.fma(FloatVector.broadcast(F, a[a1 + k]), s1);
                    s2 = b0.fma(FloatVector.broadcast(F, a[a2 + k]), s2);
                    s3 = b0.fma(FloatVector.broadcast(F, a[a3 + k]), s3);
                }
                s0.intoArray(c, c0 + j);
                s1.intoArray(c, c1 + j);
                s2.intoArray(c, c2 + j);
                s3.intoArray(c, c3 + j);
            }
            if (j < cols) {
                for (int r = 0; r < 4; r++) {
                    int ar = ao + (i + r) * lda, cr = co + (i + r) * ldc;
                    for (int jj = j; jj < cols; jj++) {
                        float s = c[cr + jj];
                        for (int k = 0; k < inner; k++) s += a[ar + k] * b[bo + k * ldb + jj];
                        c[cr + jj] = s;
                    }
                }
            }
        }
        for (; i < rows; i++) {
            int ar = ao + i * lda;
            int cr = co + i * ldc;
            for (int k = 0; k < inner; k++) {
                float x = a[ar + k];
                if (x != 0f) axpy(x, b, bo + k * ldb, c, cr, cols);
            }
        }
    }

    /**
     * Rows [0, rows) of C (a multiple of six), columns [0, cols) (a multiple of two vectors): {@link #gemm}'s main
     * block, one loop nest of its own (called per six rows from inside gemm, it ran a quarter slower).
     */
    private static void gemm6x2(
            float[] a,
            int ao,
            int lda,
            float[] b,
            int bo,
            int ldb,
            float[] c,
            int co,
            int ldc,
            int rows,
            int inner,
            int cols) {
        int lanes = F.length();
        for (int i = 0; i + 6 <= rows; i += 6) {
            int a0 = ao + i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda;
            int c0 = co + i * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc;
            for (int j = 0; j + 2 * lanes <= cols; j += 2 * lanes) {
                FloatVector s00 = FloatVector.fromArray(F, c, c0 + j),
                        s01 = FloatVector.fromArray(F, c, c0 + j + lanes);
                FloatVector s10 = FloatVector.fromArray(F, c, c1 + j),
                        s11 = FloatVector.fromArray(F, c, c1 + j + lanes);
                FloatVector s20 = FloatVector.fromArray(F, c, c2 + j),
                        s21 = FloatVector.fromArray(F, c, c2 + j + lanes);
                FloatVector s30 = FloatVector.fromArray(F, c, c3 + j),
                        s31 = FloatVector.fromArray(F, c, c3 + j + lanes);
                FloatVector s40 = FloatVector.fromArray(F, c, c4 + j),
                        s41 = FloatVector.fromArray(F, c, c4 + j + lanes);
                FloatVector s50 = FloatVector.fromArray(F, c, c5 + j),
                        s51 = FloatVector.fromArray(F, c, c5 + j + lanes);
                int bk = bo + j;
                for (int k = 0; k < inner; k++, bk += ldb) {
                    FloatVector b0 = FloatVector.fromArray(F, b, bk);
                    FloatVector b1 = FloatVector.fromArray(F, b, bk + lanes);
                    FloatVector x = FloatVector.broadcast(F, a[a0 + k]);
                    s00 = b0.fma(x, s00);
                    s01 = b1.fma(x, s01);
                    x = FloatVector.broadcast(F, a[a1 + k]);
                    s10 = b0.fma(x, s10);
                    s11 = b1.fma(x, s11);
                    x = FloatVector.broadcast(F, a[a2 + k]);
                    s20 = b0.fma(x, s20);
                    s21 = b1.fma(x, s21);
                    x = FloatVector.broadcast(F, a[a3 + k]);
                    s30 = b0.fma(x, s30);
                    s31 = b1.fma(x, s31);
                    x = FloatVector.broadcast(F, a[a4 + k]);
                    s40 = b0.fma(x, s40);
                    s41 = b1.fma(x, s41);
                    x = FloatVector.broadcast(F, a[a5 + k]);
                    s50 = b0.fma(x, s50);
                    s51 = b1.fma(x, s51);
                }
                s00.intoArray(c, c0 + j);
                s01.intoArray(c, c0 + j + lanes);
                s10.intoArray(c, c1 + j);
                s11.intoArray(c, c1 + j + lanes);
                s20.intoArray(c, c2 + j);
                s21.intoArray(c, c2 + j + lanes);
                s30.intoArray(c, c3 + j);
                s31.intoArray(c, c3 + j + lanes);
                s40.intoArray(c, c4 + j);
                s41.intoArray(c, c4 + j + lanes);
                s50.intoArray(c, c5 + j);
                s51.intoArray(c, c5 + j + lanes);
            }
        }
    }
}
