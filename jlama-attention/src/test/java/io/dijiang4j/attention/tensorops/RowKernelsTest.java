package io.dijiang4j.attention.tensorops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link RowKernels} against their float64 twins {@link NaiveRowKernels} on fresh random rows whose lengths are not
 * multiples of the vector width, read and written at offsets inside larger arrays.
 */
class RowKernelsTest {

    @ParameterizedTest(name = "length {0}")
    @ValueSource(ints = {1, 7, 9, 31, 64, 67, 513})
    void rmsNormMatchesTheFloat64Twin(int n) {
        SplittableRandom rnd = new SplittableRandom(11L * n);
        float[] x = gaussian(rnd, n + 5, 3);
        float[] w = gaussian(rnd, n, 1);
        float adjust = n % 2 == 0 ? 0f : 1f; // Gemma's norms add 1 to the weights
        float divisor = n + 3; // Jlama divides by the embedding length, also for a part of the row
        float[] out = gaussian(rnd, n + 4, 1);
        float before = out[1];
        RowKernels.rmsNorm(x, 5, n, w, adjust, divisor, 1e-5f, out, 2);
        double[] want = NaiveRowKernels.rmsNorm(x, 5, n, w, adjust, divisor, 1e-5f);
        assertEquals(before, out[1], "outside the row");
        for (int j = 0; j < n; j++) {
            assertEquals(want[j], out[2 + j], 2e-6 * (Math.abs(want[j]) + 1e-3), "element " + j);
        }
    }

    @ParameterizedTest(name = "length {0}")
    @ValueSource(ints = {1, 7, 9, 33, 67, 1408, 1413})
    void siluMulMatchesTheFloat64Twin(int n) {
        SplittableRandom rnd = new SplittableRandom(13L * n);
        float[] gate = gaussian(rnd, n + 3, 6);
        float[] up = gaussian(rnd, n + 1, 2);
        float[] original = gate.clone();
        double[] want = NaiveRowKernels.siluMul(gate, 3, up, 1, n);
        RowKernels.siluMul(gate, 3, up, 1, n);
        for (int j = 0; j < 3; j++) assertEquals(original[j], gate[j], "outside the row");
        for (int j = 0; j < n; j++) {
            assertEquals(want[j], gate[3 + j], 1e-6 * (Math.abs(want[j]) + 1e-4), "element " + j);
        }
    }

    @Test
    void siluOfLargeInputsStaysFinite() {
        float[] gate = {-1000f, -89f, 89f, 1000f, -3.4e38f, 3.4e38f, 0.5f, -0.5f, 2f};
        float[] up = {1, 1, 1, 1, 1, 0.5f, 1, 1, 1};
        RowKernels.siluMul(gate, 0, up, 0, gate.length);
        for (float g : gate) assertTrue(Float.isFinite(g), java.util.Arrays.toString(gate));
        assertEquals(89f, gate[2], 1e-4f);
        assertEquals(0f, gate[0], 0f);
    }

    private static float[] gaussian(SplittableRandom rnd, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextGaussian() * std);
        return v;
    }
}
