package io.dijiang4j.attention.tensorops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.BFloat16BufferTensor;
import com.github.tjake.jlama.tensor.FloatBufferTensor;
import com.github.tjake.jlama.tensor.Q4ByteBufferTensor;
import com.github.tjake.jlama.tensor.Q8ByteBufferTensor;
import io.dijiang4j.attention.simd.VectorOps;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link CpuMatrixProducts} against its float64 twin {@link NaiveMatrixProducts} on fresh random tensors of odd
 * shapes: batch, rows and columns not multiples of the vector width or the tiles (64 rows, 256 columns, 64 batch
 * rows), quantized columns spanning a partial last tile, chunks and offsets that start inside the matrix.
 */
class CpuMatrixProductsTest {

    @ParameterizedTest(name = "{0} x {1}: batch {2}, rows {3}, columns {4}")
    @CsvSource({
        // activations, weights, batch, weight rows, columns (F32/BF16 any; Q4/I8 whole 32-value blocks)
        "F32, F32, 1, 7, 37",
        "F32, F32, 3, 67, 5",
        "F32, F32, 5, 131, 300",
        "F32, F32, 70, 67, 263",
        "F32, F32, 13, 1, 1",
        // F32MatrixVector (lengths a whole number of vectors): pairs of weight rows by 8 / 4 / 1 activation rows, odd
        // weight rows; 67 columns: the offset check below runs it on 64 columns from column 3
        "F32, F32, 8, 9, 64",
        "F32, F32, 5, 9, 67",
        "F32, F32, 8, 9, 61",
        "F32, F32, 4, 2, 8",
        "F32, F32, 9, 15, 600",
        "F32, F32, 7, 11, 64",
        "F32, F32, 1, 9, 24",
        "F32, F32, 5, 1, 40",
        "F32, F32, 16, 13, 80",
        "F32, F32, 13, 3, 16",
        "F32, BF16, 8, 21, 95",
        "F32, BF16, 2, 19, 45",
        "F32, BF16, 9, 70, 291",
        "BF16, BF16, 6, 11, 77",
        "F32, Q4, 1, 13, 96",
        "F32, Q4, 3, 70, 288",
        "F32, Q4, 17, 131, 544",
        // decode batches of several sessions: the matrix-vector path
        "F32, Q4, 5, 9, 64",
        "F32, Q4, 8, 67, 320",
        "I8, Q4, 16, 33, 96",
        "F32, F32, 16, 13, 77",
        "I8, Q4, 1, 9, 64",
        "I8, Q4, 2, 65, 320",
        "I8, Q4, 67, 73, 288",
        "I8, Q4, 4, 129, 32",
        // Q4 decode kernels: every row count 1..16 and a few up to 24 (groups of 8, 4, 2, 1); an odd number of
        // 32-value blocks (the last pair padded, copied to scratch) and an even one (read in place); weight rows over
        // several bulk copies (131 rows of 544 columns: 28 rows per copy; of 512: 32); one row over whole rows streams
        // tiles of four (131: 32 tiles and three rows left; 4: one tile, the first copy alone; 23 of 1024: five and
        // three)
        "F32, Q4, 1, 37, 160",
        "F32, Q4, 1, 131, 512",
        "F32, Q4, 1, 4, 256",
        "I8, Q4, 1, 23, 1024",
        "I8, Q4, 2, 131, 512",
        "F32, Q4, 3, 13, 224",
        "I8, Q4, 5, 29, 352",
        "F32, Q4, 6, 131, 544",
        "F32, Q4, 7, 19, 32",
        "I8, Q4, 9, 11, 416",
        "F32, Q4, 10, 7, 1056",
        "F32, Q4, 11, 21, 96",
        "I8, Q4, 12, 15, 128",
        "F32, Q4, 13, 17, 480",
        "F32, Q4, 14, 3, 160",
        "I8, Q4, 15, 25, 288",
        "I8, Q4, 23, 19, 224",
        "F32, F32, 21, 13, 77",
        "F32, F32, 17, 9, 45",
        // the first batch size on the GEMM path
        "F32, Q4, 25, 9, 96",
        "F32, I8, 1, 7, 64",
        "F32, I8, 7, 66, 288",
        "I8, I8, 5, 5, 96",
    })
    void matchesTheFloat64Twin(DType at, DType bt, int batch, int rows, int columns) {
        SplittableRandom rnd = new SplittableRandom(31L * batch + 7L * rows + columns);
        AbstractTensor a = tensor(at, batch, columns, rnd);
        AbstractTensor b = tensor(bt, rows, columns, rnd);
        // the whole matrix, then a chunk that starts inside it, written at an offset (as Jlama's chunked calls do)
        check(a, b, 0, columns, 0, 0, rows);
        if (rows > 2) check(a, b, 0, columns, 1, rows / 3, rows - rows / 3);
        boolean quantized = at == DType.I8 || bt == DType.I8 || bt == DType.Q4;
        int skip = quantized ? 32 : 3;
        if (columns > skip) check(a, b, skip, columns - skip, 0, 0, rows);
    }

    /**
     * The Q4 decode kernel keeps the permuted activations of its last call for the next chunk of the same product:
     * a call with other activations of the same shape, then the first ones again, must each get their own product.
     */
    @Test
    void q4DecodeReusesPreparedActivationsOnlyForEqualOnes() {
        SplittableRandom rnd = new SplittableRandom(77);
        for (int batch : new int[] {1, 3, 8}) {
            AbstractTensor w = tensor(DType.Q4, 37, 160, rnd);
            AbstractTensor first = tensor(DType.F32, batch, 160, rnd);
            AbstractTensor second = tensor(DType.F32, batch, 160, rnd);
            for (AbstractTensor a : new AbstractTensor[] {first, second, first, second}) {
                check(a, w, 0, 160, 0, 0, 20);
                check(a, w, 0, 160, 0, 20, 17);
            }
        }
    }

    /**
     * A session's logits must not depend on which sessions share its decode pass (batched greedy output equals the
     * output alone): F32 rows of a batch equal the same rows multiplied alone, bit for bit, on both matrix-vector paths
     * (weights read in place when the length is whole vectors, copied otherwise) and every row group (8, 4, 1).
     */
    @ParameterizedTest(name = "batch {0}, rows {1}, columns {2}")
    @CsvSource({"13, 7, 64", "13, 7, 61", "16, 5, 40", "5, 4, 24"})
    void f32RowsOfABatchEqualTheRowsAloneBitForBit(int batch, int rows, int columns) {
        SplittableRandom rnd = new SplittableRandom(batch * 131L + columns);
        AbstractTensor a = tensor(DType.F32, batch, columns, rnd);
        AbstractTensor b = tensor(DType.F32, rows, columns, rnd);
        try (FloatBufferTensor together = new FloatBufferTensor(batch, rows);
                FloatBufferTensor alone = new FloatBufferTensor(1, rows)) {
            CpuMatrixProducts.INSTANCE.product(together, a, b, 0, 0, columns, 0, 0, rows);
            for (int i = 0; i < batch; i++) {
                try (FloatBufferTensor row = new FloatBufferTensor(1, columns)) {
                    for (int c = 0; c < columns; c++) row.set(a.get(i, c), 0, c);
                    CpuMatrixProducts.INSTANCE.product(alone, row, b, 0, 0, columns, 0, 0, rows);
                }
                float[] x = new float[columns], w = new float[columns];
                for (int c = 0; c < columns; c++) x[c] = a.get(i, c);
                for (int j = 0; j < rows; j++) {
                    assertEquals(
                            Float.floatToIntBits(alone.get(0, j)),
                            Float.floatToIntBits(together.get(i, j)),
                            "row " + i + " column " + j);
                    // and summed as VectorOps.dot sums it (what a session's decode would get from a one-row path)
                    for (int c = 0; c < columns; c++) w[c] = b.get(j, c);
                    assertEquals(
                            Float.floatToIntBits(VectorOps.dot(w, 0, x, 0, columns)),
                            Float.floatToIntBits(alone.get(0, j)),
                            "row " + i + " column " + j + " against VectorOps.dot");
                }
            }
        }
    }

    private static void check(
            AbstractTensor a, AbstractTensor b, int colOffset, int columns, int rOffset, int bRow, int chunk) {
        int batch = a.shape().first();
        int rows = b.shape().first();
        try (FloatBufferTensor result = new FloatBufferTensor(batch, rows + rOffset)) {
            for (int i = 0; i < batch; i++) for (int j = 0; j < rows + rOffset; j++) result.set(-99f, i, j);
            CpuMatrixProducts.INSTANCE.product(result, a, b, colOffset, colOffset, columns, rOffset, bRow, chunk);
            double[][] want = NaiveMatrixProducts.product(a, b, colOffset, colOffset, columns, bRow, chunk);
            for (int i = 0; i < batch; i++) {
                for (int j = 0; j < rows + rOffset; j++) {
                    float got = result.get(i, j);
                    int w = j - rOffset - bRow;
                    if (w < 0 || w >= chunk) {
                        assertEquals(-99f, got, "outside the chunk: row " + i + " column " + j);
                        continue;
                    }
                    double scale = 0;
                    for (int k = 0; k < columns; k++) {
                        scale += Math.abs((double) a.get(i, colOffset + k) * b.get(bRow + w, colOffset + k));
                    }
                    double err = Math.abs(got - want[i][w]);
                    assertTrue(
                            err <= 1e-5 * scale + 1e-6,
                            "row " + i + " column " + j + ": " + got + " vs " + want[i][w] + " (|a||b| " + scale + ")");
                }
            }
        }
    }

    static AbstractTensor tensor(DType type, int rows, int columns, SplittableRandom rnd) {
        FloatBufferTensor f = new FloatBufferTensor(rows, columns);
        for (int i = 0; i < rows; i++) for (int j = 0; j < columns; j++) f.set((float) rnd.nextGaussian(), i, j);
        return switch (type) {
            case F32 -> f;
            case BF16 -> new BFloat16BufferTensor(f);
            case Q4 -> new Q4ByteBufferTensor(f);
            case I8 -> new Q8ByteBufferTensor(f);
            default -> throw new IllegalArgumentException(type.name());
        };
    }
}
