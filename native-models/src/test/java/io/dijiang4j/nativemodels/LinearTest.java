package io.dijiang4j.nativemodels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The batched (GEMM) and single-row (axpy) forms of Linear against a float64 loop, odd sizes and batch tails. */
class LinearTest {

    @ParameterizedTest
    @CsvSource({"1,1,1", "3,7,5", "37,13,29", "70,64,96", "5,33,17"})
    void batchedAndSingleRowMatchTheNaiveProduct(int rows, int in, int out) {
        Random r = new Random(rows * 1000L + in * 10L + out);
        float[] w = new float[out * in];
        float[] b = new float[out];
        for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
        for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian();
        float[][] x = new float[rows][in];
        for (float[] row : x) for (int i = 0; i < in; i++) row[i] = (float) r.nextGaussian();
        for (boolean withBias : new boolean[] {false, true}) {
            Linear lin = Linear.fromOutIn(w, withBias ? b : null, out, in);
            float[][] batched = lin.apply(x);
            for (int n = 0; n < rows; n++) {
                float[] single = lin.apply(x[n]);
                for (int o = 0; o < out; o++) {
                    double ref = withBias ? b[o] : 0;
                    for (int i = 0; i < in; i++) ref += (double) w[o * in + i] * x[n][i];
                    double tol = 1e-5 * (1 + Math.sqrt(in)) * (1 + Math.abs(ref));
                    assertEquals(ref, batched[n][o], tol, "batched row " + n + " col " + o);
                    assertEquals(ref, single[o], tol, "single row " + n + " col " + o);
                }
            }
        }
    }
}
