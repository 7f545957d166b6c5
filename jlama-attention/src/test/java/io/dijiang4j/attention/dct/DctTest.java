package io.dijiang4j.attention.dct;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class DctTest {
    @Test
    void matrixFollowsTheFormulaAndIsOrthonormal() {
        for (int d : new int[] {1, 2, 7, 8, 64}) {
            double[][] c = Dct.matrix(d);
            for (int k = 0; k < d; k++) {
                double s = k == 0 ? Math.sqrt(1.0 / d) : Math.sqrt(2.0 / d);
                for (int n = 0; n < d; n++) {
                    assertEquals(s * Math.cos(Math.PI * (2 * n + 1) * k / (2.0 * d)), c[k][n], 1e-15);
                }
                for (int j = 0; j < d; j++) {
                    double dot = 0;
                    for (int n = 0; n < d; n++) dot += c[k][n] * c[j][n];
                    assertEquals(k == j ? 1.0 : 0.0, dot, 1e-12, "C C^T at " + k + "," + j);
                }
            }
        }
    }

    @Test
    void jtransformsAgreesWithTheMatrix() {
        SplittableRandom random = new SplittableRandom(11);
        for (int d : new int[] {2, 5, 8, 16, 63, 64, 100}) {
            double[][] c = Dct.matrix(d);
            double[] x = new double[d];
            float[] xf = new float[d];
            for (int i = 0; i < d; i++) {
                x[i] = random.nextDouble() * 2 - 1;
                xf[i] = (float) x[i];
            }
            double[] y = x.clone();
            Dct.forward(y);
            float[] yf = xf.clone();
            Dct.forward(yf);
            for (int k = 0; k < d; k++) {
                double expected = 0, expectedF = 0;
                for (int n = 0; n < d; n++) {
                    expected += c[k][n] * x[n];
                    expectedF += c[k][n] * xf[n];
                }
                assertEquals(expected, y[k], 1e-6, "double DCT d=" + d + " k=" + k);
                assertEquals(expectedF, yf[k], 1e-6, "float DCT d=" + d + " k=" + k);
            }
            Dct.inverse(y);
            for (int i = 0; i < d; i++) assertEquals(x[i], y[i], 1e-12);
        }
    }

    @Test
    void rejectsEmptySize() {
        assertThrows(IllegalArgumentException.class, () -> Dct.matrix(0));
    }
}
