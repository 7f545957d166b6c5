package io.dijiang4j.attention.tensorops;

import static jdk.incubator.vector.VectorOperators.ADD;
import static jdk.incubator.vector.VectorOperators.BITWISE_BLEND;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ROR;

import com.github.tjake.jlama.tensor.FloatBufferTensor;
import com.github.tjake.jlama.tensor.Q4ByteBufferTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The decode product of Q4 weights: a few activation rows (1 to 16) times a chunk of Q4 weight rows, each weight read
 * from memory once.
 *
 * <p>Jlama's Q4 block is 16 bytes (value i in the low nibble of byte i, value i + 16 in its high nibble, minus 8) and
 * one float scale. Two blocks (32 bytes) are loaded as one vector of eight ints; nibble e of every int, {@code (v >>>
 * 4e) & 0xF}, is then eight values of the two blocks (four of each) in one shift, one mask and one conversion, a
 * third of the work of widening bytes eight at a time. The activations are permuted once per call into the order of
 * those nibbles ({@link #permute}), so the weights need no shuffle. The offset leaves the per-weight work: sum over c
 * of x_c s (q_c - 8) = sum over blocks of s (sum of x_c q_c - 8 sum of x_c), and the activations' block sums are
 * computed once per call ({@code offsets}), so a row of two or four activation rows costs per eight weights the
 * shift, mask and conversion plus one FMA per activation row, and one FMA per row for the scales of two blocks. One
 * activation row (a single session's decode) skips the conversion: {@link #rowPair} reads each nibble as the float
 * 1 + q / 16. Eight activation rows instead scale the decoded weights once, {@code w = q s - 8 s}, and then cost one
 * FMA per row. A
 * chunk whose columns are an odd number of blocks is padded with one block of zero scale and zero activations.
 *
 * <p>Activation rows go in groups of 8, 4, 2 and 1, each group size its own kernel with no branch on the number of
 * rows (C2 compiles a branch that warm-up never took as a trap, and a kernel recompiled after one ran 6x slower), and
 * each kernel calls nothing but the Vector API (see the note above {@link #rowPair}). The groups of 1, 2 and 4 read the
 * packed weights where they lie in the tensor's memory, one 32-byte read per 64 weights (against copying the rows
 * into an array first: 7-14% faster for one row, 1408 x 512 and 8192 x 1024, one thread, load 9); the group of 8
 * reads them from an array copy (10% faster there, same run), and the block scales are always copied, several rows
 * per bulk read ({@link TensorRows.Q4Row#copyRows}). Rows of an odd number of blocks are copied, padded, into native
 * scratch read like the tensor's memory.
 */
final class Q4MatrixVector {
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I32 = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> B32 = ByteVector.SPECIES_256;
    private static final int BLOCK = Q4ByteBufferTensor.BLOCK_SIZE;
    /** Columns per vector of packed weights: two blocks. */
    static final int GROUP = 2 * BLOCK;
    /** Lanes 4..7, the second block of a group. */
    private static final VectorMask<Float> SECOND_BLOCK = VectorMask.fromLong(F8, 0xF0);
    /** Packed bytes copied per bulk read: a few weight rows, well inside L1. */
    private static final int COPY_BYTES = 8192;

    private static final ThreadLocal<Q4MatrixVector> SCRATCH = ThreadLocal.withInitial(Q4MatrixVector::new);

    private byte[] packed = new byte[0];
    /**
     * Native scratch that rows of an odd number of blocks are copied into, padded, so that the kernels read them like
     * the tensor's own memory.
     */
    private Q4ByteBufferTensor padding;

    private ByteBuffer paddingBytes;
    private float[] scales = new float[0];
    private float[] xp = new float[0];
    /** -8 times the sum over the eight nibbles of each lane's activations: the offset's share, per group and lane. */
    private float[] offsets = new float[0];
    /** The same share for weights decoded as 1 + q / 16 ({@link #rowPair}): -1.5 times the lane's sum. */
    private float[] unitOffsets = new float[0];
    /**
     * The activations xp and the offsets were made from (m rows of n): the chunks of one product that a thread runs
     * in turn share them, and a chunk whose activations equal these skips the permutation and the block sums.
     */
    private float[] preparedFrom = new float[0];

    private int preparedM = -1, preparedN = -1;

    private Q4MatrixVector() {}

    /**
     * out[i * rows + j] = sum over c < n of x[i * n + c] * t[row + j, col + c], for i < m and j < rows: the float
     * activations x (m rows of n) times the Q4 weight rows row .. row + rows, columns col .. col + n (whole blocks).
     */
    static void product(Q4ByteBufferTensor t, int row, int col, int n, int rows, float[] x, int m, float[] out) {
        SCRATCH.get().run(t, row, col, n, rows, x, m, out);
    }

    private void run(Q4ByteBufferTensor t, int row, int col, int n, int rows, float[] x, int m, float[] out) {
        int padded = (n + GROUP - 1) / GROUP * GROUP;
        int rowBytes = padded / 2, rowScales = padded / BLOCK;
        int copyRows = Math.max(1, Math.min(rows, COPY_BYTES / rowBytes));
        if (packed.length < copyRows * rowBytes) packed = new byte[copyRows * rowBytes];
        if (scales.length < copyRows * rowScales) scales = new float[copyRows * rowScales];
        if (xp.length < m * padded || offsets.length < m * padded / 8) {
            xp = new float[m * padded];
            offsets = new float[m * padded / 8];
            unitOffsets = new float[m * padded / 8];
            preparedM = -1; // the new arrays hold nothing yet
        }
        if (m != preparedM || n != preparedN || !Arrays.equals(x, 0, m * n, preparedFrom, 0, m * n)) {
            prepare(x, m, n, padded);
        }
        // the scale of the padding block is zero, so that its weights are zero whatever its bytes
        if (padded != n) for (int r = 0; r < copyRows; r++) scales[r * rowScales + rowScales - 1] = 0f;

        // whole pairs of blocks are read where they lie in the tensor's memory (one 32-byte read per 64 weights); an
        // odd number of blocks is copied into an array first, padded
        boolean inPlace = padded == n;
        if (!inPlace && (padding == null || paddingBytes.capacity() < copyRows * rowBytes)) {
            try (FloatBufferTensor zeros = new FloatBufferTensor(1, copyRows * padded)) {
                padding = new Q4ByteBufferTensor(zeros);
            }
            paddingBytes = padding.getMemorySegment().asByteBuffer();
        }
        Q4ByteBufferTensor weights = inPlace ? t : padding;
        long firstByte = t.getMemorySegmentOffset(t.getOffset(row, col));
        long byteStride = rows > 1 ? t.getMemorySegmentOffset(t.getOffset(row + 1, col)) - firstByte : 0;
        TensorRows.Q4Row source = TensorRows.Q4Row.of(t, 0);
        for (int j0 = 0; j0 < rows; j0 += copyRows) {
            int nr = Math.min(copyRows, rows - j0);
            source.copyRows(row + j0, col, n, nr, inPlace && m < 8 ? null : packed, rowBytes, scales, rowScales);
            if (!inPlace) paddingBytes.put(0, packed, 0, nr * rowBytes);
            long at = inPlace ? firstByte + j0 * byteStride : 0, stride = inPlace ? byteStride : rowBytes;
            int i = 0;
            for (; i + 8 <= m; i += 8) {
                for (int r = 0; r < nr; r++) rows8(padded, r, i, rows, j0 + r, out);
            }
            if (m - i >= 4) {
                for (int r = 0; r < nr; r++) rows4(weights, at + r * stride, padded, r, i, rows, j0 + r, out);
                i += 4;
            }
            if (m - i >= 2) {
                for (int r = 0; r < nr; r++) rows2(weights, at + r * stride, padded, r, i, rows, j0 + r, out);
                i += 2;
            }
            if (m - i >= 1) {
                for (int r = 0; r < nr; r += 2) {
                    // an odd last weight row is paired with itself, its result written once
                    int r2 = r + 1 < nr ? r + 1 : r;
                    rowPair(weights, at + r * stride, at + r2 * stride, padded, r, r2, i, rows, j0, out);
                }
            }
        }
    }

    /** The permuted activations and the offset's shares of x (m rows of n), remembered with a copy of x. */
    private void prepare(float[] x, int m, int n, int padded) {
        for (int i = 0; i < m; i++) permute(x, i * n, n, xp, i * padded);
        // the offset's share of each group and lane: -8 times the lane's eight activations for the groups of 4 and 2
        // rows (there when m % 8 >= 2), -1.5 times for the single row of rowPair (there when m is odd)
        boolean eightShare = m % 8 >= 2, unitShare = m % 2 == 1;
        for (int i = 0, groups = eightShare || unitShare ? m * padded / GROUP : 0; i < groups; i++) {
            FloatVector sum = FloatVector.fromArray(F8, xp, i * GROUP);
            for (int e = 1; e < 8; e++) sum = sum.add(FloatVector.fromArray(F8, xp, i * GROUP + 8 * e));
            if (eightShare) sum.mul(-8f).intoArray(offsets, 8 * i);
            if (unitShare) sum.mul(-1.5f).intoArray(unitOffsets, 8 * i);
        }
        if (preparedFrom.length < m * n) preparedFrom = new float[m * n];
        System.arraycopy(x, 0, preparedFrom, 0, m * n);
        preparedM = m;
        preparedN = n;
    }

    /**
     * dst[to + g * 64 + 8 e + l] = x[from + c] with c the column of nibble e of int lane l of group g (columns past
     * n zero): lane l holds bytes 4l .. 4l + 3 of the group's 32, lanes 0..3 the first block and 4..7 the second;
     * nibble e is byte e / 2 of the lane, low (value 4 (l % 4) + e / 2) or high (16 more) after its parity.
     */
    static void permute(float[] x, int from, int n, float[] dst, int to) {
        int whole = n / GROUP * GROUP;
        for (int g = 0; g < whole; g += GROUP) {
            for (int k = 0; k < GROUP; k++) dst[to + g + k] = x[from + g + NIBBLE_COLUMN[k]];
        }
        for (int k = 0; whole + k < n || k % GROUP != 0; k++) {
            int c = whole + NIBBLE_COLUMN[k];
            dst[to + whole + k] = c < n ? x[from + c] : 0f;
        }
    }

    /** The column within its group of position k = 8 e + l of the permuted activations (see {@link #permute}). */
    private static final int[] NIBBLE_COLUMN = new int[GROUP];

    static {
        for (int e = 0; e < 8; e++) {
            for (int l = 0; l < 8; l++) NIBBLE_COLUMN[8 * e + l] = (l / 4) * BLOCK + 4 * (l % 4) + e / 2 + 16 * (e % 2);
        }
    }

    // The kernels below call nothing but the Vector API (whose methods are force-inlined): a kernel inlined into a
    // caller near C2's node budget then cannot leave a helper of its own uninlined, which boxed every vector (3 rows
    // after warm-up on 1 and 2: 13x slower).

    /** The float 1.0: nibble q put into the top four bits of its mantissa reads as 1 + q / 16. */
    private static final IntVector ONE = IntVector.broadcast(I32, 0x3F800000);
    /** The mantissa's top four bits. */
    private static final IntVector MANTISSA_TOP = IntVector.broadcast(I32, 0xF << 19);

    /**
     * One activation row by two weight rows (decode of one session). Each nibble is decoded without a conversion: a
     * rotation puts nibble e at the mantissa's top bits and one bit blend sets the exponent of 1.0, giving w = 1 + q /
     * 16, so s (q - 8) = 16 s (w - 1.5): the sum over e of x_e w_e starts from -1.5 times the lane's activations
     * ({@code unitOffsets}) and is scaled by 16 s at the end. Two weight rows share each activation read and give
     * four independent FMA chains. Against {@link #rows2}'s decode applied to one row (shift, mask, conversion; two
     * chains), one thread, medians of 150: 1408 x 512 weights 7.8-10.3 -> 9.5-14.0 G weights/s, 2816 x 1024
     * 9.8-10.7 -> 13.6-14.2. The loop over e stays a loop in the source: unrolled by hand, C1 gave up on the method
     * ("out of virtual registers") and in 4 of 5 runs it never reached C2, 150x slower.
     */
    private void rowPair(
            Q4ByteBufferTensor q4, long at, long at2, int padded, int r, int r2, int i, int rows, int j0, float[] out) {
        float[] x = xp, sc = scales;
        int x0 = i * padded, o0 = i * padded / 8, s0 = r * padded / BLOCK, s1 = r2 * padded / BLOCK;
        FloatVector acc = FloatVector.zero(F8), acc2 = acc;
        for (int g = 0, c = 0; c < padded; g++, c += GROUP) {
            IntVector v =
                    IntVector.fromMemorySegment(I32, q4.getMemorySegment(), at + g * BLOCK, ByteOrder.LITTLE_ENDIAN);
            IntVector w =
                    IntVector.fromMemorySegment(I32, q4.getMemorySegment(), at2 + g * BLOCK, ByteOrder.LITTLE_ENDIAN);
            FloatVector t0 = FloatVector.fromArray(F8, unitOffsets, o0 + 8 * g), u0 = t0;
            FloatVector t1 = FloatVector.zero(F8), u1 = t1;
            for (int e = 0; e < 8; e += 2) {
                // nibble e sits at bits 4e..4e+3: rotating right by 4e + 13 (mod 32) brings it to bits 19..22
                FloatVector xe = FloatVector.fromArray(F8, x, x0 + c + 8 * e);
                t0 = xe.fma(
                        ONE.lanewise(BITWISE_BLEND, v.lanewise(ROR, 4 * e + 13), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        t0);
                u0 = xe.fma(
                        ONE.lanewise(BITWISE_BLEND, w.lanewise(ROR, 4 * e + 13), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        u0);
                FloatVector xf = FloatVector.fromArray(F8, x, x0 + c + 8 * e + 8);
                t1 = xf.fma(
                        ONE.lanewise(BITWISE_BLEND, v.lanewise(ROR, 4 * e + 17), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        t1);
                u1 = xf.fma(
                        ONE.lanewise(BITWISE_BLEND, w.lanewise(ROR, 4 * e + 17), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        u1);
            }
            FloatVector s = FloatVector.broadcast(F8, sc[s0 + 2 * g]).blend(sc[s0 + 2 * g + 1], SECOND_BLOCK);
            FloatVector s2 = FloatVector.broadcast(F8, sc[s1 + 2 * g]).blend(sc[s1 + 2 * g + 1], SECOND_BLOCK);
            acc = t0.add(t1).fma(s, acc);
            acc2 = u0.add(u1).fma(s2, acc2);
        }
        out[i * rows + j0 + r] = 16f * acc.reduceLanes(ADD);
        if (r2 != r) out[i * rows + j0 + r2] = 16f * acc2.reduceLanes(ADD);
    }

    /** Two activation rows: sum over e of x_e q_e, started from the offset's share, then times the scales. */
    private void rows2(Q4ByteBufferTensor q4, long at, int padded, int r, int i, int rows, int j, float[] out) {
        float[] x = xp, sc = scales;
        int x0 = i * padded, x1 = x0 + padded, o0 = i * padded / 8, o1 = o0 + padded / 8;
        int s0 = r * padded / BLOCK;
        FloatVector acc0 = FloatVector.zero(F8), acc1 = acc0;
        for (int g = 0, c = 0; c < padded; g++, c += GROUP) {
            IntVector v =
                    IntVector.fromMemorySegment(I32, q4.getMemorySegment(), at + g * BLOCK, ByteOrder.LITTLE_ENDIAN);
            FloatVector t0 = FloatVector.fromArray(F8, offsets, o0 + 8 * g);
            FloatVector t1 = FloatVector.fromArray(F8, offsets, o1 + 8 * g);
            for (int e = 0; e < 8; e++) {
                FloatVector q = (FloatVector) v.lanewise(LSHR, 4 * e).and(0xF).convert(I2F, 0);
                int k = c + 8 * e;
                t0 = FloatVector.fromArray(F8, x, x0 + k).fma(q, t0);
                t1 = FloatVector.fromArray(F8, x, x1 + k).fma(q, t1);
            }
            FloatVector s = FloatVector.broadcast(F8, sc[s0 + 2 * g]).blend(sc[s0 + 2 * g + 1], SECOND_BLOCK);
            acc0 = t0.fma(s, acc0);
            acc1 = t1.fma(s, acc1);
        }
        out[i * rows + j] = acc0.reduceLanes(ADD);
        out[(i + 1) * rows + j] = acc1.reduceLanes(ADD);
    }

    /** Four activation rows, as {@link #rows2}. */
    private void rows4(Q4ByteBufferTensor q4, long at, int padded, int r, int i, int rows, int j, float[] out) {
        float[] x = xp, sc = scales;
        int x0 = i * padded, x1 = x0 + padded, x2 = x1 + padded, x3 = x2 + padded;
        int o0 = i * padded / 8, o1 = o0 + padded / 8, o2 = o1 + padded / 8, o3 = o2 + padded / 8;
        int s0 = r * padded / BLOCK;
        FloatVector acc0 = FloatVector.zero(F8), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int g = 0, c = 0; c < padded; g++, c += GROUP) {
            IntVector v =
                    IntVector.fromMemorySegment(I32, q4.getMemorySegment(), at + g * BLOCK, ByteOrder.LITTLE_ENDIAN);
            FloatVector t0 = FloatVector.fromArray(F8, offsets, o0 + 8 * g);
            FloatVector t1 = FloatVector.fromArray(F8, offsets, o1 + 8 * g);
            FloatVector t2 = FloatVector.fromArray(F8, offsets, o2 + 8 * g);
            FloatVector t3 = FloatVector.fromArray(F8, offsets, o3 + 8 * g);
            for (int e = 0; e < 8; e++) {
                FloatVector q = (FloatVector) v.lanewise(LSHR, 4 * e).and(0xF).convert(I2F, 0);
                int k = c + 8 * e;
                t0 = FloatVector.fromArray(F8, x, x0 + k).fma(q, t0);
                t1 = FloatVector.fromArray(F8, x, x1 + k).fma(q, t1);
                t2 = FloatVector.fromArray(F8, x, x2 + k).fma(q, t2);
                t3 = FloatVector.fromArray(F8, x, x3 + k).fma(q, t3);
            }
            FloatVector s = FloatVector.broadcast(F8, sc[s0 + 2 * g]).blend(sc[s0 + 2 * g + 1], SECOND_BLOCK);
            acc0 = t0.fma(s, acc0);
            acc1 = t1.fma(s, acc1);
            acc2 = t2.fma(s, acc2);
            acc3 = t3.fma(s, acc3);
        }
        out[i * rows + j] = acc0.reduceLanes(ADD);
        out[(i + 1) * rows + j] = acc1.reduceLanes(ADD);
        out[(i + 2) * rows + j] = acc2.reduceLanes(ADD);
        out[(i + 3) * rows + j] = acc3.reduceLanes(ADD);
    }

    /**
     * Eight activation rows: here the weights are scaled once, w = q s - 8 s, and each row costs one FMA per eight
     * weights (the offset's share and a scale per row would cost more than the scaling saves).
     */
    private void rows8(int padded, int r, int i, int rows, int j, float[] out) {
        float[] x = xp, sc = scales;
        byte[] p = packed;
        int x0 = i * padded, x1 = x0 + padded, x2 = x1 + padded, x3 = x2 + padded;
        int x4 = x3 + padded, x5 = x4 + padded, x6 = x5 + padded, x7 = x6 + padded;
        int p0 = r * padded / 2, s0 = r * padded / BLOCK;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int g = 0, c = 0; c < padded; g++, c += GROUP) {
            IntVector v = ByteVector.fromArray(B32, p, p0 + g * BLOCK).reinterpretAsInts();
            FloatVector s = FloatVector.broadcast(F8, sc[s0 + 2 * g]).blend(sc[s0 + 2 * g + 1], SECOND_BLOCK);
            FloatVector m8s = s.mul(-8f);
            for (int e = 0; e < 8; e++) {
                FloatVector w = ((FloatVector) v.lanewise(LSHR, 4 * e).and(0xF).convert(I2F, 0)).fma(s, m8s);
                int k = c + 8 * e;
                a0 = FloatVector.fromArray(F8, x, x0 + k).fma(w, a0);
                a1 = FloatVector.fromArray(F8, x, x1 + k).fma(w, a1);
                a2 = FloatVector.fromArray(F8, x, x2 + k).fma(w, a2);
                a3 = FloatVector.fromArray(F8, x, x3 + k).fma(w, a3);
                a4 = FloatVector.fromArray(F8, x, x4 + k).fma(w, a4);
                a5 = FloatVector.fromArray(F8, x, x5 + k).fma(w, a5);
                a6 = FloatVector.fromArray(F8, x, x6 + k).fma(w, a6);
                a7 = FloatVector.fromArray(F8, x, x7 + k).fma(w, a7);
            }
        }
        out[i * rows + j] = a0.reduceLanes(ADD);
        out[(i + 1) * rows + j] = a1.reduceLanes(ADD);
        out[(i + 2) * rows + j] = a2.reduceLanes(ADD);
        out[(i + 3) * rows + j] = a3.reduceLanes(ADD);
        out[(i + 4) * rows + j] = a4.reduceLanes(ADD);
        out[(i + 5) * rows + j] = a5.reduceLanes(ADD);
        out[(i + 6) * rows + j] = a6.reduceLanes(ADD);
        out[(i + 7) * rows + j] = a7.reduceLanes(ADD);
    }
}
