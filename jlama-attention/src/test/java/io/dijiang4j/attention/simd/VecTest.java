package io.dijiang4j.attention.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The SIMD primitives against plain loops, for every length 0..70 (vector body and tail). */
class VecTest {
    @Test
    void expIsAccurateAndVectorEqualsScalarBitForBit() {
        SplittableRandom random = new SplittableRandom(1);
        for (int n = 0; n < 70; n++) {
            float[] a = new float[n + 3], out = new float[n + 3];
            for (int i = 0; i < a.length; i++) a[i] = (float) random.nextDouble(-90, 5);
            a[0] = Float.NEGATIVE_INFINITY;
            Vec.expShifted(a, 1, -0.5f, out, 2, n);
            for (int i = 0; i < n; i++) {
                float x = a[1 + i] - 0.5f;
                assertEquals(Float.floatToIntBits(Vec.exp(x)), Float.floatToIntBits(out[2 + i]), "x=" + x);
                double exact = Math.exp(x);
                if (x > -87) assertEquals(exact, out[2 + i], 3e-7 * exact, "x=" + x);
            }
        }
        assertEquals(0f, Vec.exp(Float.NEGATIVE_INFINITY));
        assertEquals(1f, Vec.exp(0f));
        for (float x = -87f; x <= 88f; x += 0.01f) assertEquals(Math.exp(x), Vec.exp(x), 3e-7 * Math.exp(x));
    }

    /**
     * The register-blocked weighted row sum: bit for bit the loop of axpy it replaces, and within float rounding of
     * a float64 sum, for lengths across the vector body, the four-vector blocks and the tail, and odd row counts.
     */
    @Test
    void weightedRowsEqualAxpyPerRowBitForBitAndTheFloat64Sum() {
        SplittableRandom random = new SplittableRandom(3);
        for (int rows : new int[] {1, 3, 8, 17, 64}) {
            for (int n = 0; n < 150; n += n < 40 ? 1 : 13) {
                int stride = n + random.nextInt(5), ao = 1 + random.nextInt(3), wo = random.nextInt(3), yo = 2;
                float[] a = new float[ao + rows * stride + n], w = new float[wo + rows], y = new float[yo + n + 1];
                for (int i = 0; i < a.length; i++) a[i] = (float) random.nextDouble(-1, 1);
                for (int i = 0; i < w.length; i++) w[i] = (float) random.nextDouble(-2, 2);
                for (int i = 0; i < y.length; i++) y[i] = (float) random.nextDouble(-1, 1);
                float[] viaAxpy = y.clone(), blocked = y.clone();
                for (int r = 0; r < rows; r++) VectorOps.axpy(w[wo + r], a, ao + r * stride, viaAxpy, yo, n);
                VectorOps.addWeightedRows(w, wo, a, ao, stride, rows, blocked, yo, n);
                for (int j = 0; j < y.length; j++) {
                    assertEquals(
                            Float.floatToIntBits(viaAxpy[j]), Float.floatToIntBits(blocked[j]), "n=" + n + " j=" + j);
                }
                for (int j = 0; j < n; j++) {
                    double exact = y[yo + j];
                    for (int r = 0; r < rows; r++) exact += (double) w[wo + r] * a[ao + r * stride + j];
                    assertEquals(exact, blocked[yo + j], 1e-5 * rows, "rows=" + rows + " n=" + n + " j=" + j);
                }
            }
        }
    }

    /** Four rows at a time: each distance bit for bit {@code squaredDistance}'s, and the float64 loop's. */
    @Test
    void squaredDistancesOfManyRowsEqualOneAtATime() {
        SplittableRandom random = new SplittableRandom(5);
        for (int count : new int[] {1, 3, 4, 5, 9, 65}) {
            for (int n = 0; n < 70; n++) {
                int stride = n + random.nextInt(3), ao = random.nextInt(4);
                double[] a = new double[ao + n], rows = new double[count * stride + n], out = new double[count];
                for (int i = 0; i < a.length; i++) a[i] = random.nextDouble(-1, 1);
                for (int i = 0; i < rows.length; i++) rows[i] = random.nextDouble(-1, 1);
                VectorOps.squaredDistances(a, ao, rows, stride, count, out, n);
                for (int r = 0; r < count; r++) {
                    double one = VectorOps.squaredDistance(a, ao, rows, r * stride, n), exact = 0;
                    for (int i = 0; i < n; i++)
                        exact += (a[ao + i] - rows[r * stride + i]) * (a[ao + i] - rows[r * stride + i]);
                    assertEquals(
                            Double.doubleToLongBits(one),
                            Double.doubleToLongBits(out[r]),
                            "count=" + count + " n=" + n);
                    assertEquals(exact, out[r], 1e-12 * (n + 1));
                }
            }
        }
    }

    @Test
    void reductionsAndProductsMatchLoops() {
        SplittableRandom random = new SplittableRandom(2);
        for (int n = 0; n < 70; n++) {
            float[] a = new float[n + 2], b = new float[n + 2];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) random.nextDouble(-1, 1);
                b[i] = (float) random.nextDouble(-1, 1);
            }
            double dot = 0, sum = 0;
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                dot += a[1 + i] * b[1 + i];
                sum += a[1 + i];
                max = Math.max(max, a[1 + i]);
            }
            assertEquals(dot, VectorOps.dot(a, 1, b, 1, n), 1e-5);
            assertEquals(sum, Vec.sum(a, 1, n), 1e-5);
            assertEquals(max, Vec.max(a, 1, n));
        }
        // gemm against the triple loop, odd shapes and strides
        for (int[] s : new int[][] {
            {1, 1, 1}, {5, 3, 7}, {4, 64, 64}, {13, 9, 33}, {64, 64, 17}, {6, 5, 16}, {11, 7, 40}, {17, 31, 50}
        }) {
            int rows = s[0], inner = s[1], cols = s[2];
            int lda = inner + 2, ldb = cols + 3, ldc = cols + 1;
            float[] x = new float[rows * lda], y = new float[inner * ldb], c = new float[rows * ldc];
            for (int i = 0; i < x.length; i++) x[i] = (float) random.nextDouble(-1, 1);
            for (int i = 0; i < y.length; i++) y[i] = (float) random.nextDouble(-1, 1);
            for (int i = 0; i < c.length; i++) c[i] = (float) random.nextDouble(-1, 1);
            float[] expected = c.clone();
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    double acc = expected[i * ldc + j];
                    for (int k = 0; k < inner; k++) acc += x[i * lda + k] * y[k * ldb + j];
                    expected[i * ldc + j] = (float) acc;
                }
            }
            VectorOps.gemm(x, 0, lda, y, 0, ldb, c, 0, ldc, rows, inner, cols);
            for (int i = 0; i < c.length; i++)
                assertEquals(expected[i], c[i], 1e-4, "gemm " + rows + "x" + inner + "x" + cols);
        }
    }

    @Test
    void squaredDistanceMatchesTheLoop() {
        SplittableRandom random = new SplittableRandom(3);
        for (int n = 0; n < 70; n++) {
            double[] a = new double[n + 3], b = new double[n + 5];
            for (int i = 0; i < a.length; i++) a[i] = random.nextDouble(-2, 2);
            for (int i = 0; i < b.length; i++) b[i] = random.nextDouble(-2, 2);
            double want = 0;
            for (int i = 0; i < n; i++) want += (a[1 + i] - b[4 + i]) * (a[1 + i] - b[4 + i]);
            double got = VectorOps.squaredDistance(a, 1, b, 4, n);
            assertEquals(want, got, 1e-12 * Math.max(1, want), "n=" + n);
            if (n > 0) assertTrue(got > 0, "n=" + n);
        }
    }
}
