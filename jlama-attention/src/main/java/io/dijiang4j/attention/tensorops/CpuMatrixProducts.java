package io.dijiang4j.attention.tensorops;

import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.FloatBufferTensor;
import com.github.tjake.jlama.tensor.Q4ByteBufferTensor;
import io.dijiang4j.attention.simd.VectorOps;
import java.util.Arrays;

/**
 * The CPU matrix products: a register-blocked GEMM for batches (prefill) and a weight-streaming matrix-vector
 * product for up to 16 rows (24 of Q4 weights: decode), for F32, BF16, Q4 and I8 weights times F32 or I8 activations.
 *
 * <p>Jlama's call sites already split the output rows over its core pool (one call per chunk of weight rows), so a
 * call here is single-threaded over its chunk. Batches: the activations are read once into a transposed float copy
 * X^T [K x M]; the chunk's weights are decoded tile by tile (64 rows x 256 columns, Q4 and I8 blocks decoded in
 * registers, never a whole matrix) and multiplied by {@link VectorOps#gemm} (four weight rows by two vectors of
 * batch rows in registers), C^T += W_tile X^T_tile. Decode: each weight row is read once and dotted with every
 * activation row (Q4 by {@link Q4MatrixVector}, decoded in registers and never stored; F32 by {@link
 * F32MatrixVector}, read in place; other types and F32 rows of a length not a whole number of vectors through one row
 * of L1 scratch), so the weights stream through memory once. Scratch is per thread and grows to
 * the largest call, so a call allocates nothing once warm.
 */
public final class CpuMatrixProducts implements MatrixProducts {
    /**
     * Batches below this many rows take the matrix-vector path: each weight row read once for all of them (decode
     * passes of several sessions); below it the GEMM's transposes and tile decoding cost more than they save (1536 x
     * 512 Q4 weights by 8 rows, one thread: 4.5 ms as GEMM, 0.7 ms as matrix-vector products).
     */
    static final int MATVEC_ROWS = 17;

    /**
     * The same bound for Q4 weights, whose matrix-vector kernels ({@link Q4MatrixVector}) keep up with the GEMM
     * further (decode passes with a prompt slice beside them). 1408 x 512 Q4 weights times I8 rows, one thread, a
     * scratch loop at load 9: 17 rows 1.18 ms as GEMM, 16 rows 0.55 ms as matrix-vector products; 24 rows 0.83 ms as
     * GEMM, the same per row as 16 as matrix-vector products; 32 rows 0.94 ms as GEMM.
     */
    static final int Q4_MATVEC_ROWS = 25;

    private static final int TILE_ROWS = 64;
    /** A multiple of the Q4 / I8 block (32). */
    private static final int TILE_COLUMNS = 256;
    /** Batch rows per GEMM call: X^T's tile (256 x 64 floats, 64 KiB) stays in L2. */
    private static final int TILE_BATCH = 64;
    /** Activation rows transposed together, and result rows gathered together. */
    private static final int BLOCK = 8;

    public static final CpuMatrixProducts INSTANCE = new CpuMatrixProducts();

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private CpuMatrixProducts() {}

    @Override
    public String name() {
        return "fast";
    }

    @Override
    public boolean supports(DType a, DType b) {
        boolean activations = a == DType.F32 || a == DType.I8 || a == DType.BF16;
        boolean weights = b == DType.F32 || b == DType.BF16 || b == DType.Q4 || b == DType.I8;
        return activations && weights;
    }

    @Override
    public void product(
            AbstractTensor result,
            AbstractTensor a,
            AbstractTensor b,
            int aColumnOffset,
            int bColumnOffset,
            int columnLength,
            int rOffset,
            int bRowOffset,
            int rowChunkSize) {
        if (a.dims() != 2
                || b.dims() != 2
                || result.dims() != 2
                || a.shape().first() != result.shape().first()) {
            throw new IllegalArgumentException(
                    "product of " + a.shape() + " by " + b.shape() + " into " + result.shape());
        }
        if (rowChunkSize <= 0 || columnLength <= 0) return;
        int m = a.shape().first();
        Scratch s = SCRATCH.get();
        if (m < (b instanceof Q4ByteBufferTensor ? Q4_MATVEC_ROWS : MATVEC_ROWS)) {
            matvec(s, result, a, b, aColumnOffset, bColumnOffset, columnLength, rOffset, bRowOffset, rowChunkSize);
        } else {
            gemm(s, result, a, b, aColumnOffset, bColumnOffset, columnLength, rOffset, bRowOffset, rowChunkSize);
        }
    }

    private static void matvec(
            Scratch s,
            AbstractTensor result,
            AbstractTensor a,
            AbstractTensor b,
            int aCol,
            int bCol,
            int k,
            int rOffset,
            int bRow,
            int rows) {
        int m = a.shape().first();
        boolean f32InPlace = b instanceof FloatBufferTensor && k % VectorOps.F.length() == 0;
        int padded = f32InPlace ? F32MatrixVector.paddedRows(m) : m;
        float[] x = s.x = grow(s.x, padded * k);
        for (int i = 0; i < m; i++) TensorRows.read(a, i, aCol, k, x, i * k);
        for (int i = m; i < padded; i++) System.arraycopy(x, (m - 1) * k, x, i * k, k);
        // the results of each activation row, written to the result tensor in one copy per row at the end
        float[] out = s.out = grow(s.out, padded * rows);
        if (b instanceof Q4ByteBufferTensor q4) {
            Q4MatrixVector.product(q4, bRow, bCol, k, rows, x, m, out);
        } else if (f32InPlace) {
            float[] lanes = s.row = grow(s.row, 16 * VectorOps.F.length());
            F32MatrixVector.product((FloatBufferTensor) b, bRow, bCol, k, rows, x, padded, out, lanes);
        } else {
            float[] w = s.weights = grow(s.weights, k);
            for (int j = 0; j < rows; j++) {
                TensorRows.read(b, bRow + j, bCol, k, w, 0);
                for (int i = 0; i < m; i++) out[i * rows + j] = VectorOps.dot(w, 0, x, i * k, k);
            }
        }
        for (int i = 0; i < m; i++) TensorRows.write(result, i, bRow + rOffset, out, i * rows, rows);
    }

    private static void gemm(
            Scratch s,
            AbstractTensor result,
            AbstractTensor a,
            AbstractTensor b,
            int aCol,
            int bCol,
            int k,
            int rOffset,
            int bRow,
            int rows) {
        int m = a.shape().first();
        // X^T [k x m]: the GEMM's right operand, batch rows along the vectors
        float[] rows8 = s.weights = grow(s.weights, Math.max(BLOCK * k, TILE_ROWS * TILE_COLUMNS));
        float[] xt = s.x = grow(s.x, k * m);
        // eight activation rows at a time, so that each column of them is one run of eight floats in X^T (one
        // value per row scattered with stride m missed the cache on every write: a tenth of the prefill's samples)
        for (int i0 = 0; i0 < m; i0 += BLOCK) {
            int n = Math.min(BLOCK, m - i0);
            for (int i = 0; i < n; i++) TensorRows.read(a, i0 + i, aCol, k, rows8, i * k);
            for (int c = 0; c < k; c++) {
                int to = c * m + i0;
                for (int i = 0; i < n; i++) xt[to + i] = rows8[i * k + c];
            }
        }
        float[] ct = s.out = grow(s.out, TILE_ROWS * m);
        float[] tile = rows8;
        int end = bRow + rows;
        for (int j0 = bRow; j0 < end; j0 += TILE_ROWS) {
            int nj = Math.min(TILE_ROWS, end - j0);
            Arrays.fill(ct, 0, nj * m, 0f);
            for (int c0 = 0; c0 < k; c0 += TILE_COLUMNS) {
                int nc = Math.min(TILE_COLUMNS, k - c0);
                TensorRows.readRows(b, j0, nj, bCol + c0, nc, tile, 0);
                for (int i0 = 0; i0 < m; i0 += TILE_BATCH) {
                    int ni = Math.min(TILE_BATCH, m - i0);
                    VectorOps.gemm(tile, 0, nc, xt, c0 * m + i0, m, ct, i0, m, nj, nc, ni);
                }
            }
            // C^T's column i is the result's row i: eight columns gathered at a time (runs of eight floats of
            // C^T), each written with vector stores
            float[] resultRows = s.row = grow(s.row, BLOCK * TILE_ROWS);
            for (int i0 = 0; i0 < m; i0 += BLOCK) {
                int n = Math.min(BLOCK, m - i0);
                for (int r = 0; r < nj; r++) {
                    int from = r * m + i0;
                    for (int i = 0; i < n; i++) resultRows[i * TILE_ROWS + r] = ct[from + i];
                }
                for (int i = 0; i < n; i++) {
                    TensorRows.write(result, i0 + i, j0 + rOffset, resultRows, i * TILE_ROWS, nj);
                }
            }
        }
    }

    private static float[] grow(float[] a, int n) {
        return a.length >= n ? a : new float[Math.max(n, a.length + a.length / 2)];
    }

    /** One thread's scratch: activations (or X^T), a weight tile, the output tile, one result row. */
    private static final class Scratch {
        float[] x = new float[0];
        float[] weights = new float[0];
        float[] out = new float[0];
        float[] row = new float[0];
    }
}
