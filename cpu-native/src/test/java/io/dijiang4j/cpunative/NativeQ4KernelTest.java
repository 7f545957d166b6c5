package io.dijiang4j.cpunative;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.github.tjake.jlama.tensor.FloatBufferTensor;
import com.github.tjake.jlama.tensor.Q4ByteBufferTensor;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The native one-row Q4 kernel against float64 twins, on fresh random shapes (odd block and row counts). */
class NativeQ4KernelTest {
    private static final int BLOCK = Q4ByteBufferTensor.BLOCK_SIZE;
    private final NativeQ4Kernel kernel = new NativeQ4Kernel();

    private static Q4ByteBufferTensor randomQ4(int rows, int columns, SplittableRandom random) {
        try (FloatBufferTensor f = new FloatBufferTensor(rows, columns)) {
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < columns; c++) f.set((float) random.nextDouble(-1, 1), r, c);
            }
            return new Q4ByteBufferTensor(f);
        }
    }

    /** The activations as the kernel quantizes them: per block, round(x * 127 / max|x|) * max|x| / 127. */
    static double[] quantized(float[] x, int from, int n) {
        double[] q = new double[n];
        for (int b = 0; b < n / BLOCK; b++) {
            float max = 0;
            for (int i = 0; i < BLOCK; i++) max = Math.max(max, Math.abs(x[from + b * BLOCK + i]));
            float scale = max / 127f, inv = max > 0 ? 127f / max : 0f;
            for (int i = 0; i < BLOCK; i++) q[b * BLOCK + i] = Math.rint(x[from + b * BLOCK + i] * inv) * scale;
        }
        return q;
    }

    @Test
    void equalsTheFloat64ProductOfItsQuantizedActivationsOnOddShapes() {
        assumeTrue(kernel.available(), "no native kernel here: " + NativeQ4Kernel.unavailableReason());
        SplittableRandom random = new SplittableRandom();
        for (int blocks : new int[] {1, 2, 3, 7, 16, 33}) {
            for (int rows : new int[] {1, 3, 17}) {
                int n = blocks * BLOCK, first = random.nextInt(3), total = first + rows + random.nextInt(2);
                Q4ByteBufferTensor t = randomQ4(total, n, random);
                float[] x = new float[n];
                for (int c = 0; c < n; c++) x[c] = (float) random.nextDouble(-2, 2);
                if (blocks > 2) Arrays.fill(x, BLOCK, 2 * BLOCK, 0f); // a block of zeros: scale 0
                float[] out = new float[rows];
                assertTrue(kernel.product(t, first, 0, n, rows, x, 1, out), "blocks=" + blocks);
                double[] xq = quantized(x, 0, n);
                for (int j = 0; j < rows; j++) {
                    double exact = 0, magnitude = 0, unquantized = 0, bound = 0;
                    for (int c = 0; c < n; c++) {
                        double w = t.get(first + j, c);
                        exact += w * xq[c];
                        magnitude += Math.abs(w * xq[c]);
                        unquantized += w * x[c];
                        bound += Math.abs(w) * Math.abs(x[c] - xq[c]);
                    }
                    String at = "blocks=" + blocks + " rows=" + rows + " row=" + j;
                    assertEquals(exact, out[j], 1e-5 * (1 + magnitude), at);
                    // and the quantization's error is what rounding to 1/254 of each block's range allows
                    assertTrue(Math.abs(out[j] - unquantized) <= bound + 1e-5 * (1 + magnitude), at);
                }
            }
        }
    }

    /**
     * Several activation rows (the sessions of a pass): each equals its float64 twin, and bit for bit the same row
     * multiplied alone, whatever group of four it falls in.
     */
    @Test
    void severalActivationRowsEqualEachRowAloneBitForBit() {
        assumeTrue(kernel.available(), "no native kernel here: " + NativeQ4Kernel.unavailableReason());
        SplittableRandom random = new SplittableRandom();
        for (int blocks : new int[] {1, 3, 16}) {
            for (int m : new int[] {2, 4, 5, 9}) {
                int n = blocks * BLOCK, rows = 1 + random.nextInt(12);
                Q4ByteBufferTensor t = randomQ4(rows, n, random);
                float[] x = new float[m * n], out = new float[m * rows];
                for (int c = 0; c < m * n; c++) x[c] = (float) random.nextDouble(-2, 2);
                assertTrue(kernel.product(t, 0, 0, n, rows, x, m, out));
                for (int i = 0; i < m; i++) {
                    float[] alone = new float[rows];
                    assertTrue(kernel.product(t, 0, 0, n, rows, Arrays.copyOfRange(x, i * n, (i + 1) * n), 1, alone));
                    double[] xq = quantized(x, i * n, n);
                    for (int j = 0; j < rows; j++) {
                        String at = "blocks=" + blocks + " m=" + m + " i=" + i + " j=" + j;
                        assertEquals(Float.floatToIntBits(alone[j]), Float.floatToIntBits(out[i * rows + j]), at);
                        double exact = 0, magnitude = 0;
                        for (int c = 0; c < n; c++) {
                            exact += t.get(j, c) * xq[c];
                            magnitude += Math.abs(t.get(j, c) * xq[c]);
                        }
                        assertEquals(exact, out[i * rows + j], 1e-5 * (1 + magnitude), at);
                    }
                }
            }
        }
    }

    /** The AVX2 kernel (CPUs without VNNI) gives the same bits as the kernel this CPU picks, on odd shapes. */
    @Test
    void theAvx2KernelGivesTheSameBits() {
        NativeQ4Kernel avx2 = NativeQ4Kernel.avx2();
        assumeTrue(kernel.available() && avx2 != null, "no AVX2 kernel here: " + NativeQ4Kernel.unavailableReason());
        SplittableRandom random = new SplittableRandom();
        for (int blocks : new int[] {1, 2, 5, 16}) {
            for (int m : new int[] {1, 3, 4, 6}) {
                int n = blocks * BLOCK, rows = 1 + random.nextInt(9);
                Q4ByteBufferTensor t = randomQ4(rows, n, random);
                float[] x = new float[m * n], best = new float[m * rows], viaAvx2 = new float[m * rows];
                for (int c = 0; c < m * n; c++) x[c] = (float) random.nextDouble(-2, 2);
                assertTrue(kernel.product(t, 0, 0, n, rows, x, m, best));
                assertTrue(avx2.product(t, 0, 0, n, rows, x, m, viaAvx2));
                for (int k = 0; k < m * rows; k++) {
                    assertEquals(
                            Float.floatToIntBits(best[k]),
                            Float.floatToIntBits(viaAvx2[k]),
                            "blocks=" + blocks + " m=" + m + " k=" + k);
                }
            }
        }
    }

    /** The quantized activations are kept per thread for the next chunk: an activation changed in place is seen. */
    @Test
    void activationsChangedInPlaceAreQuantizedAgain() {
        assumeTrue(kernel.available(), "no native kernel here: " + NativeQ4Kernel.unavailableReason());
        SplittableRandom random = new SplittableRandom();
        int n = 5 * BLOCK, rows = 4;
        Q4ByteBufferTensor t = randomQ4(rows, n, random);
        float[] x = new float[n], first = new float[rows], second = new float[rows];
        for (int c = 0; c < n; c++) x[c] = (float) random.nextDouble(-1, 1);
        assertTrue(kernel.product(t, 0, 0, n, rows, x, 1, first));
        x[37] += 3f; // block 1's largest value now: its scale changes too
        assertTrue(kernel.product(t, 0, 0, n, rows, x, 1, second));
        double[] xq = quantized(x, 0, n);
        for (int j = 0; j < rows; j++) {
            double exact = 0, magnitude = 0;
            for (int c = 0; c < n; c++) {
                exact += t.get(j, c) * xq[c];
                magnitude += Math.abs(t.get(j, c) * xq[c]);
            }
            assertEquals(exact, second[j], 1e-5 * (1 + magnitude), "row " + j);
        }
    }

    @Test
    void declinesShapesItDoesNotTake() {
        assumeTrue(kernel.available(), "no native kernel here: " + NativeQ4Kernel.unavailableReason());
        Q4ByteBufferTensor t = randomQ4(2, 64, new SplittableRandom(1));
        float[] out = {7f, 7f};
        assertFalse(kernel.product(t, 0, 0, 40, 2, new float[64], 1, out), "not a whole number of blocks");
        assertFalse(kernel.product(t, 0, 0, 64, 0, new float[64], 1, out), "no rows");
        assertEquals(7f, out[0]);
        // ranges past the arrays or the tensor are refused before the native code runs
        assertThrows(IllegalArgumentException.class, () -> kernel.product(t, 0, 0, 64, 2, new float[64], 2, out));
        assertThrows(IndexOutOfBoundsException.class, () -> kernel.product(t, 1, 0, 64, 2, new float[64], 1, out));
    }
}
