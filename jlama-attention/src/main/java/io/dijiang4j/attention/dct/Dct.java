package io.dijiang4j.attention.dct;

import org.jtransforms.dct.DoubleDCT_1D;
import org.jtransforms.dct.FloatDCT_1D;

/**
 * The orthonormal DCT-II: {@code C[k][n] = s_k cos(pi (2n+1) k / (2d))}, {@code s_0 = sqrt(1/d)}, {@code s_k =
 * sqrt(2/d)}. The explicit matrix, and the fast transform through JTransforms (scaling=true is the orthonormal
 * form); the two agree.
 */
public final class Dct {
    private Dct() {}

    /** The d x d orthonormal DCT-II matrix, row k = frequency k. */
    public static double[][] matrix(int d) {
        if (d < 1) throw new IllegalArgumentException("DCT size must be >= 1: " + d);
        double[][] c = new double[d][d];
        for (int k = 0; k < d; k++) {
            double s = Math.sqrt((k == 0 ? 1.0 : 2.0) / d);
            for (int n = 0; n < d; n++) c[k][n] = s * Math.cos(Math.PI * (2 * n + 1) * k / (2.0 * d));
        }
        return c;
    }

    /** y = C x, in place, through JTransforms. */
    public static void forward(double[] x) {
        new DoubleDCT_1D(x.length).forward(x, true);
    }

    /** y = C x, in place, through JTransforms (float). */
    public static void forward(float[] x) {
        new FloatDCT_1D(x.length).forward(x, true);
    }

    /** x = C^T y (the inverse, DCT-III), in place. */
    public static void inverse(double[] y) {
        new DoubleDCT_1D(y.length).inverse(y, true);
    }
}
