package io.dijiang4j.attention.tensorops;

import com.github.tjake.jlama.tensor.AbstractTensor;

/**
 * The float64 twin of {@link MatrixProducts#product}: every element read through the tensor's own {@code get}
 * (Jlama's dequantization), summed in double, written from its definition. For tests.
 */
public final class NaiveMatrixProducts {
    private NaiveMatrixProducts() {}

    /** result[i][j - bRowOffset] = sum_k a[i, aColumnOffset + k] * b[j, bColumnOffset + k], in double. */
    public static double[][] product(
            AbstractTensor a,
            AbstractTensor b,
            int aColumnOffset,
            int bColumnOffset,
            int columnLength,
            int bRowOffset,
            int rowChunkSize) {
        int m = a.shape().first();
        double[][] out = new double[m][rowChunkSize];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < rowChunkSize; j++) {
                double s = 0;
                for (int k = 0; k < columnLength; k++) {
                    s += (double) a.get(i, aColumnOffset + k) * (double) b.get(bRowOffset + j, bColumnOffset + k);
                }
                out[i][j] = s;
            }
        }
        return out;
    }
}
