package io.dijiang4j.attention.tensorops;

import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.BFloat16BufferTensor;
import com.github.tjake.jlama.tensor.FloatBufferTensor;
import com.github.tjake.jlama.tensor.Q4ByteBufferTensor;
import com.github.tjake.jlama.tensor.Q8ByteBufferTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Reads a stretch of one row of a Jlama tensor (F32, BF16, Q4, I8) into floats: the tile unpacker of {@link
 * CpuMatrixProducts}. Quantized rows are decoded block by block (32 values, one scale) in registers; the stretch
 * must start and end on block boundaries, as Jlama's own products require.
 */
public final class TensorRows {
    /** 8 floats: Q4 and I8 blocks decode into four of these; -XX:MaxVectorSize=32 makes it the preferred size. */
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;

    private static final int BLOCK = Q4ByteBufferTensor.BLOCK_SIZE;

    /** Jlama's tensors are little-endian (its own vector reads say so). */
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private TensorRows() {}

    /** dst[off .. off + n) = t[row, col .. col + n) as floats. */
    public static void read(AbstractTensor t, int row, int col, int n, float[] dst, int off) {
        switch (t.dType()) {
            case F32 -> readF32((FloatBufferTensor) t, row, col, n, dst, off);
            case BF16 -> readBF16((BFloat16BufferTensor) t, row, col, n, dst, off);
            case Q4 -> readQ4((Q4ByteBufferTensor) t, row, 1, col, n, dst, off);
            case I8 -> readQ8((Q8ByteBufferTensor) t, row, col, n, dst, off);
            default -> {
                for (int k = 0; k < n; k++) dst[off + k] = t.get(row, col + k);
            }
        }
    }

    /**
     * Eight floats at a time through Jlama's {@code getVector} (GEMM tiles, odd-length rows): C2 compiles it to plain
     * vector loads here; a bulk copy through a {@code FloatBuffer} view made per row was 3x slower (F32 tiles of 2048 x
     * 576, 895 against 282 us, medians of 41: the views cost more than the copy).
     */
    private static void readF32(FloatBufferTensor t, int row, int col, int n, float[] dst, int off) {
        int k = 0;
        for (int bound = F8.loopBound(n); k < bound; k += F8.length()) {
            t.getVector(F8, row, col + k).intoArray(dst, off + k);
        }
        for (; k < n; k++) dst[off + k] = t.get(row, col + k);
    }

    /**
     * Element by element: the vector form (S2I, shift left 16, reinterpret) crashed C2 of JDK 25 ("fatal error:
     * LSHIFT: double" compiling {@code CpuMatrixProducts.matvec}); BF16 weights are not the format the kernels are
     * tuned for.
     */
    private static void readBF16(BFloat16BufferTensor t, int row, int col, int n, float[] dst, int off) {
        for (int k = 0; k < n; k++) dst[off + k] = t.get(row, col + k);
    }

    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;

    /** dst[off + r * n .. off + r * n + n) = t[row + r, col .. col + n) as floats, for r < count. */
    public static void readRows(AbstractTensor t, int row, int count, int col, int n, float[] dst, int off) {
        if (t instanceof Q4ByteBufferTensor q) {
            readQ4(q, row, count, col, n, dst, off);
        } else {
            for (int r = 0; r < count; r++) read(t, row + r, col, n, dst, off + r * n);
        }
    }

    /**
     * Jlama's Q4 block: 16 bytes, value i in the low nibble of byte i, value i + 16 in its high nibble, minus 8. The
     * rows are copied in by one {@link Q4Row#copyRows} (one thread-local lookup and one bulk read for a whole tile,
     * not one per row), then decoded eight bytes to eight floats at a time: one lane-preserving conversion that C2
     * compiles to SIMD (sixteen bytes cast part by part, {@code castShape(F8, 1)}, was left to the Vector API's Java
     * fallback). The loop calls only the Vector API: helpers of its own returning vectors were compiled apart and
     * boxed every vector (JFR of a batched serving run: a tenth of the samples in the fallback conversion).
     */
    private static void readQ4(Q4ByteBufferTensor t, int row, int count, int col, int n, float[] dst, int off) {
        Q4Row q = Q4Row.of(t, count * n);
        byte[] packed = q.packed;
        float[] scales = q.scales;
        q.copyRows(row, col, n, count, packed, n / 2, scales, n / BLOCK);
        // n is whole blocks, so row r's blocks follow row r - 1's in the arrays as in dst
        for (int b = 0, blocks = count * n / BLOCK; b < blocks; b++) {
            int p = b * BLOCK / 2, d = off + b * BLOCK;
            float sb = scales[b];
            ((FloatVector) ByteVector.fromArray(B8, packed, p)
                            .and((byte) 0xF)
                            .sub((byte) 8)
                            .castShape(F8, 0))
                    .mul(sb)
                    .intoArray(dst, d);
            ((FloatVector) ByteVector.fromArray(B8, packed, p + 8)
                            .and((byte) 0xF)
                            .sub((byte) 8)
                            .castShape(F8, 0))
                    .mul(sb)
                    .intoArray(dst, d + 8);
            ((FloatVector) ByteVector.fromArray(B8, packed, p)
                            .lanewise(VectorOperators.LSHR, 4)
                            .sub((byte) 8)
                            .castShape(F8, 0))
                    .mul(sb)
                    .intoArray(dst, d + 16);
            ((FloatVector) ByteVector.fromArray(B8, packed, p + 8)
                            .lanewise(VectorOperators.LSHR, 4)
                            .sub((byte) 8)
                            .castShape(F8, 0))
                    .mul(sb)
                    .intoArray(dst, d + 24);
        }
    }

    /**
     * One Q4 row's packed bytes and block scales, copied into arrays by two bulk reads: the decoding loops then run
     * on arrays (vector reads from a memory segment cost a liveness and bounds check each, which JFR showed taking
     * three quarters of the decode product's time). The row is read from memory once either way.
     */
    static final class Q4Row {
        private static final ThreadLocal<Q4Row> SCRATCH = ThreadLocal.withInitial(Q4Row::new);

        byte[] packed = new byte[0];
        float[] scales = new float[0];
        private Q4ByteBufferTensor tensor;
        private ByteBuffer bytes;
        private FloatBuffer scaleBuffer;

        /** This thread's row scratch, reading from {@code t}, for rows of up to {@code n} values. */
        static Q4Row of(Q4ByteBufferTensor t, int n) {
            Q4Row q = SCRATCH.get();
            if (q.tensor != t) {
                q.tensor = t;
                q.bytes = t.getMemorySegment().asByteBuffer();
                q.scaleBuffer = t.getBlockF()
                        .getMemorySegment()
                        .asByteBuffer()
                        .order(LE)
                        .asFloatBuffer();
            }
            if (q.packed.length < n / 2) {
                q.packed = new byte[n / 2];
                q.scales = new float[n / BLOCK];
            }
            return q;
        }

        /**
         * Copies t[row .. row + count, col .. col + n) (whole blocks) into arrays: row r's bytes to packed[r *
         * rowBytes ..) (unless packed is null: scales only), its scales to scales[r * rowScales ..). One bulk read
         * each when the rows lie in memory exactly at those strides, else one per row.
         */
        void copyRows(int row, int col, int n, int count, byte[] packed, int rowBytes, float[] scales, int rowScales) {
            checkBlocks(col, n);
            FloatBufferTensor s = tensor.getBlockF();
            int firstByte = tensor.getMemorySegmentOffset(tensor.getOffset(row, col));
            int firstScale = s.getOffset(row, col / BLOCK);
            int byteStride = count > 1 ? tensor.getMemorySegmentOffset(tensor.getOffset(row + 1, col)) - firstByte : 0;
            int scaleStride = count > 1 ? s.getOffset(row + 1, col / BLOCK) - firstScale : 0;
            if (packed != null) {
                if (count == 1 || (byteStride == rowBytes && n / 2 == rowBytes)) {
                    bytes.get(firstByte, packed, 0, (count - 1) * rowBytes + n / 2);
                } else {
                    for (int r = 0; r < count; r++) bytes.get(firstByte + r * byteStride, packed, r * rowBytes, n / 2);
                }
            }
            if (count == 1 || (scaleStride == rowScales && n / BLOCK == rowScales)) {
                scaleBuffer.get(firstScale, scales, 0, (count - 1) * rowScales + n / BLOCK);
            } else {
                for (int r = 0; r < count; r++) {
                    scaleBuffer.get(firstScale + r * scaleStride, scales, r * rowScales, n / BLOCK);
                }
            }
        }
    }

    /**
     * t[row, col .. col + n) = src[off .. off + n): vector writes into an F32 tensor's memory (Jlama's per-element
     * {@code set} costs a bounds-checked buffer write per value), element by element for other types.
     */
    public static void write(AbstractTensor t, int row, int col, float[] src, int off, int n) {
        if (t instanceof FloatBufferTensor f) {
            long at = f.getMemorySegmentOffset(f.getOffset(row, col));
            int k = 0;
            for (int bound = F8.loopBound(n); k < bound; k += F8.length(), at += F8.vectorByteSize()) {
                FloatVector.fromArray(F8, src, off + k).intoMemorySegment(f.getMemorySegment(), at, LE);
            }
            for (; k < n; k++) f.set(src[off + k], row, col + k);
        } else {
            for (int k = 0; k < n; k++) t.set(src[off + k], row, col + k);
        }
    }

    /** Jlama's I8 block: 32 signed bytes and one float scale. */
    private static void readQ8(Q8ByteBufferTensor t, int row, int col, int n, float[] dst, int off) {
        checkBlocks(col, n);
        FloatBufferTensor scales = t.getBlockF();
        for (int k = 0; k < n; k += BLOCK) {
            float scale = scales.get(row, (col + k) / BLOCK);
            for (int part = 0; part < BLOCK; part += 8) {
                ((FloatVector) t.getVector(B8, row, col + k + part).castShape(F8, 0))
                        .mul(scale)
                        .intoArray(dst, off + k + part);
            }
        }
    }

    private static void checkBlocks(int col, int n) {
        if (col % BLOCK != 0 || n % BLOCK != 0) {
            throw new IllegalArgumentException(
                    "quantized columns " + col + ".." + (col + n) + " are not on " + BLOCK + "-value block boundaries");
        }
    }
}
