package io.dijiang4j.attention.tensorops;

import static jdk.incubator.vector.VectorOperators.ADD;
import static jdk.incubator.vector.VectorOperators.BITWISE_BLEND;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ROR;

import com.github.tjake.jlama.tensor.FloatBufferTensor;
import com.github.tjake.jlama.tensor.Q4ByteBufferTensor;
import io.dijiang4j.attention.simd.VectorOps;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The decode product of Q4 weights: a few activation rows (1 to 16) times a chunk of Q4 weight rows, each weight read
 * from memory once.
 *
 * <p>Jlama's Q4 block is 16 bytes (value i in the low nibble of byte i, value i + 16 in its high nibble, minus 8) and
 * one float scale. The packed weights are loaded as vectors of ints, four ints to a block (256-bit vectors: two blocks
 * a vector; 512-bit: four); nibble e of every int, {@code (v >>> 4e) & 0xF}, is then one value of each int's block in
 * one shift, one mask and one conversion, a third of the work of widening bytes one at a time. The activations are
 * permuted once per call into the order of those nibbles ({@link #permute}), so the weights need no shuffle; each lane
 * takes its block's scale ({@link #SPREAD}). The offset leaves the per-weight work: sum over c of x_c s (q_c - 8) =
 * sum over blocks of s (sum of x_c q_c - 8 sum of x_c), and the activations' block sums are computed once per call
 * ({@code offsets}), so a row of two or four activation rows costs per vector of weights the shift, mask and
 * conversion plus one FMA per activation row, and one FMA per row for the scales. One activation row (a single
 * session's decode) skips the conversion: {@link #rowPair} and {@link #rowQuadStream} read each nibble as the float
 * 1 + q / 16. Eight activation
 * rows instead scale the decoded weights once, {@code w = q s - 8 s}, and then cost one FMA per row. A chunk whose
 * columns are not a whole number of vectors is padded with blocks of zero scale and zero activations.
 *
 * <p>The width is the kernels' own ({@link VectorOps#F}, which follows {@code -XX:MaxVectorSize}): 512-bit vectors
 * halve the instructions per weight (one thread, small's eight layers of products: one row 2.05 -> 1.53-1.61 ms).
 *
 * <p>Activation rows go in groups of 8, 4, 2 and 1 (6 or 7 rows past the last eight go as eight, with zero rows
 * added: one sweep over the weights instead of two or three), each group size its own kernel with no branch on the number of
 * rows (C2 compiles a branch that warm-up never took as a trap, and a kernel recompiled after one ran 6x slower), and
 * each kernel calls nothing but the Vector API (see the note above {@link #rowPair}). One activation row over rows that
 * lie end to end (a decode product) streams them in tiles of four rows, each copied in while the one before is
 * multiplied ({@link #streamRows}); the groups of 2 and (256-bit) 4, and a single row otherwise, read the packed
 * weights where they lie in the tensor's memory, one vector read per vector of weights; the group of 8 and (512-bit) 4 read them from an array copy, two weight rows at a time, and the block scales are
 * always copied, several rows per bulk read ({@link TensorRows.Q4Row#copyRows}). Rows that need padding are copied,
 * padded, into native scratch read like the tensor's memory.
 *
 * <p>Activation rows over weight rows that lie end to end (decode products) go to a native kernel instead where one is
 * present and this CPU runs it ({@link NativeQ4Rows}: int8 dot products; one row 2.2-2.9x this class's kernel).
 */
final class Q4MatrixVector {
    /** The kernels' own width (at least 128 bits: four int lanes to a block). */
    private static final VectorSpecies<Float> FLOATS = VectorOps.F;

    private static final VectorSpecies<Integer> INTS = VectorSpecies.of(int.class, FLOATS.vectorShape());
    private static final VectorSpecies<Byte> BYTES = VectorSpecies.of(byte.class, FLOATS.vectorShape());
    private static final int LANES = FLOATS.length();
    private static final int BLOCK = Q4ByteBufferTensor.BLOCK_SIZE;
    /** Columns per vector of packed weights: eight nibbles per int, four ints per block. */
    static final int GROUP = 8 * LANES;
    /** Bytes of packed weights per vector. */
    private static final int GROUP_BYTES = GROUP / 2;
    /** Blocks per vector of packed weights. */
    private static final int GROUP_BLOCKS = GROUP / BLOCK;
    /** 512-bit vectors: the eight- and four-row kernels differ (see {@link #rows2x4}). */
    private static final boolean WIDE = LANES >= 16;
    /** Lane l takes the scale of block l / 4 of its group. */
    private static final VectorShuffle<Float> SPREAD = VectorShuffle.fromOp(FLOATS, l -> l / 4);
    // Several rows' sums folded into one vector by halving steps (blend, swap of lanes, add): reduceLanes(ADD) on x86
    // adds a float vector's lanes one after another in order, a chain as long as the vector whose latency ended every
    // call of the one-row kernel (about half its profile samples at 512 bits).
    private static final VectorMask<Float> ODD = VectorMask.fromLong(FLOATS, 0xAAAAAAAAAAAAAAAAL);
    private static final VectorMask<Float> EVEN = ODD.not();
    /** Lanes l with l mod 4 in {2, 3}. */
    private static final VectorMask<Float> HIGH2 = VectorMask.fromLong(FLOATS, 0xCCCCCCCCCCCCCCCCL);

    private static final VectorMask<Float> LOW2 = HIGH2.not();
    /** Lanes l with l mod 8 >= 4. */
    private static final VectorMask<Float> HIGH4 = VectorMask.fromLong(FLOATS, 0xF0F0F0F0F0F0F0F0L);

    private static final VectorMask<Float> LOW4 = HIGH4.not();
    private static final VectorShuffle<Float> XOR1 = VectorShuffle.fromOp(FLOATS, l -> l ^ 1);
    private static final VectorShuffle<Float> XOR2 = VectorShuffle.fromOp(FLOATS, l -> l ^ 2);
    private static final VectorShuffle<Float> XOR4 = VectorShuffle.fromOp(FLOATS, l -> (l ^ 4) % LANES);
    private static final VectorShuffle<Float> XOR8 = VectorShuffle.fromOp(FLOATS, l -> (l ^ 8) % LANES);
    /** Packed bytes copied per bulk read: a few weight rows, well inside L1. */
    private static final int COPY_BYTES = 8192;
    /**
     * Activation rows past the last whole eight from which they go to the eight-row kernel with zero rows added (one
     * sweep over the weights) instead of to the kernels of 4, 2 and 1 (two or three). JMH {@code DecodeProductBench -p
     * rows=6,7,8 -p threads=1} (small's eight layers), two runs before and after: 7 rows 9.90-10.10 -> 7.64-7.91 ms
     * against 7.68-8.26 for eight; 6 rows 7.50-7.76 -> 7.84-8.54 (as long as eight either way).
     */
    private static final int PAD_TO_EIGHT_FROM = 6;

    private static final ThreadLocal<Q4MatrixVector> SCRATCH = ThreadLocal.withInitial(Q4MatrixVector::new);

    private static final System.Logger LOG = System.getLogger(Q4MatrixVector.class.getName());
    /** A native kernel for decode products ({@link NativeQ4Rows}), or null: this class's own kernels. */
    private static final NativeQ4Rows NATIVE = NativeQ4Rows.find();

    static {
        LOG.log(
                System.Logger.Level.INFO,
                NATIVE != null
                        ? "Q4 decode products: native kernel (" + NATIVE.describe() + ")"
                        : "Q4 decode products: Vector API kernels (no native kernel for this CPU, or "
                                + NativeQ4Rows.PROPERTY + "=false)");
    }

    private byte[] packed = new byte[0];
    /**
     * Native scratch that rows of an odd number of blocks are copied into, padded, so that the kernels read them like
     * the tensor's own memory.
     */
    private Q4ByteBufferTensor padding;

    private ByteBuffer paddingBytes;
    private float[] scales = new float[0];
    /** Sums folded into vectors, stored to be scattered into the output's rows. */
    private final float[] sums = new float[Math.max(16, 2 * LANES)];

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
        if (NATIVE != null && contiguous(t, row, col, n, rows, n / 2)) {
            if (NATIVE.product(t, row, col, n, rows, x, m, out)) return;
        }
        int kernelRows = m % 8 >= PAD_TO_EIGHT_FROM ? (m / 8 + 1) * 8 : m; // rows past m: zero activations
        if (xp.length < kernelRows * padded || offsets.length < m * padded / 8) {
            xp = new float[kernelRows * padded];
            offsets = new float[m * padded / 8];
            unitOffsets = new float[m * padded / 8];
            preparedM = -1; // the new arrays hold nothing yet
        }
        if (m != preparedM || n != preparedN || !Arrays.equals(x, 0, m * n, preparedFrom, 0, m * n)) {
            prepare(x, m, n, padded, kernelRows);
        }
        // whole pairs of blocks are read where they lie in the tensor's memory (one 32-byte read per 64 weights); an
        // odd number of blocks is copied into an array first, padded
        boolean inPlace = padded == n;
        if (m == 1 && inPlace && contiguous(t, row, col, n, rows, rowBytes)) {
            streamRows(t, row, col, n, rows, padded, out);
            return;
        }
        int copyRows = Math.max(1, Math.min(rows, COPY_BYTES / rowBytes));
        if (packed.length < copyRows * rowBytes) packed = new byte[copyRows * rowBytes];
        if (scales.length < copyRows * rowScales + LANES) scales = new float[copyRows * rowScales + LANES];
        // the scales of the padding blocks are zero, so that their weights are zero whatever their bytes
        for (int r = 0; r < copyRows; r++) Arrays.fill(scales, r * rowScales + n / BLOCK, (r + 1) * rowScales, 0f);

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
            source.copyRows(
                    row + j0,
                    col,
                    n,
                    nr,
                    inPlace && kernelRows < (WIDE ? 4 : 8) ? null : packed,
                    rowBytes,
                    scales,
                    rowScales);
            if (!inPlace) paddingBytes.put(0, packed, 0, nr * rowBytes);
            long at = inPlace ? firstByte + j0 * byteStride : 0, stride = inPlace ? byteStride : rowBytes;
            int i = 0;
            for (; i + 8 <= kernelRows; i += 8) {
                int valid = Math.min(8, m - i);
                for (int r = 0; r < nr; r += 2) {
                    int r2 = r + 1 < nr ? r + 1 : r; // an odd last weight row is paired with itself
                    if (WIDE) {
                        rows2x4(padded, r, r2, i, Math.min(4, valid), rows, j0, out);
                        rows2x4(padded, r, r2, i + 4, valid - 4, rows, j0, out);
                    } else {
                        rows2x8(padded, r, r2, i, valid, rows, j0, out);
                    }
                }
            }
            if (m - i >= 4) {
                if (WIDE) {
                    for (int r = 0; r < nr; r += 2) rows2x4(padded, r, r + 1 < nr ? r + 1 : r, i, 4, rows, j0, out);
                } else {
                    for (int r = 0; r < nr; r++) rows4(weights, at + r * stride, padded, r, i, rows, j0 + r, out);
                }
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

    /**
     * The permuted activations and the offset's shares of x (m rows of n), remembered with a copy of x; rows m ..
     * kernelRows of the permuted activations are zero.
     */
    private void prepare(float[] x, int m, int n, int padded, int kernelRows) {
        for (int i = 0; i < m; i++) permute(x, i * n, n, xp, i * padded);
        Arrays.fill(xp, m * padded, kernelRows * padded, 0f);
        // the offset's share of each group and lane: -8 times the lane's eight activations for the groups of 4 and 2
        // rows (there when 2 to 5 rows follow the last eight), -1.5 times for the single row of rowPair (an odd number)
        boolean eightShare = kernelRows % 8 >= 2, unitShare = kernelRows % 2 == 1;
        for (int i = 0, groups = eightShare || unitShare ? m * padded / GROUP : 0; i < groups; i++) {
            FloatVector sum = FloatVector.fromArray(FLOATS, xp, i * GROUP);
            for (int e = 1; e < 8; e++) sum = sum.add(FloatVector.fromArray(FLOATS, xp, i * GROUP + LANES * e));
            if (eightShare) sum.mul(-8f).intoArray(offsets, LANES * i);
            if (unitShare) sum.mul(-1.5f).intoArray(unitOffsets, LANES * i);
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
            for (int l = 0; l < LANES; l++) {
                NIBBLE_COLUMN[LANES * e + l] = (l / 4) * BLOCK + 4 * (l % 4) + e / 2 + 16 * (e % 2);
            }
        }
    }

    // The kernels below call nothing but the Vector API (whose methods are force-inlined): a kernel inlined into a
    // caller near C2's node budget then cannot leave a helper of its own uninlined, which boxed every vector (3 rows
    // after warm-up on 1 and 2: 13x slower).
    // Their loops count groups with one induction variable and derive the column from it: with a second one (c +=
    // GROUP beside g++) C2 could not hoist the loads' bounds checks out of the loop (eight rows at 512 bits, one
    // thread, small's eight layers: 4.6-7.7 -> 3.5-3.7 ms; the same time as with the checks switched off).

    /** The float 1.0: nibble q put into the top four bits of its mantissa reads as 1 + q / 16. */
    private static final IntVector ONE = IntVector.broadcast(INTS, 0x3F800000);
    /** The mantissa's top four bits. */
    private static final IntVector MANTISSA_TOP = IntVector.broadcast(INTS, 0xF << 19);

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
        FloatVector acc = FloatVector.zero(FLOATS), acc2 = acc;
        for (int g = 0, groups = padded / GROUP; g < groups; g++) {
            int c = g * GROUP;
            IntVector v = IntVector.fromMemorySegment(
                    INTS, q4.getMemorySegment(), at + g * GROUP_BYTES, ByteOrder.LITTLE_ENDIAN);
            IntVector w = IntVector.fromMemorySegment(
                    INTS, q4.getMemorySegment(), at2 + g * GROUP_BYTES, ByteOrder.LITTLE_ENDIAN);
            FloatVector t0 = FloatVector.fromArray(FLOATS, unitOffsets, o0 + LANES * g), u0 = t0;
            FloatVector t1 = FloatVector.zero(FLOATS), u1 = t1;
            for (int e = 0; e < 8; e += 2) {
                // nibble e sits at bits 4e..4e+3: rotating right by 4e + 13 (mod 32) brings it to bits 19..22
                FloatVector xe = FloatVector.fromArray(FLOATS, x, x0 + c + LANES * e);
                t0 = xe.fma(
                        ONE.lanewise(BITWISE_BLEND, v.lanewise(ROR, 4 * e + 13), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        t0);
                u0 = xe.fma(
                        ONE.lanewise(BITWISE_BLEND, w.lanewise(ROR, 4 * e + 13), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        u0);
                FloatVector xf = FloatVector.fromArray(FLOATS, x, x0 + c + LANES * e + LANES);
                t1 = xf.fma(
                        ONE.lanewise(BITWISE_BLEND, v.lanewise(ROR, 4 * e + 17), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        t1);
                u1 = xf.fma(
                        ONE.lanewise(BITWISE_BLEND, w.lanewise(ROR, 4 * e + 17), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        u1);
            }
            FloatVector s =
                    FloatVector.fromArray(FLOATS, sc, s0 + GROUP_BLOCKS * g).rearrange(SPREAD);
            FloatVector s2 =
                    FloatVector.fromArray(FLOATS, sc, s1 + GROUP_BLOCKS * g).rearrange(SPREAD);
            acc = t0.add(t1).fma(s, acc);
            acc2 = u0.add(u1).fma(s2, acc2);
        }
        out[i * rows + j0 + r] = 16f * acc.reduceLanes(ADD);
        if (r2 != r) out[i * rows + j0 + r2] = 16f * acc2.reduceLanes(ADD);
    }

    /**
     * Whether rows row .. row + rows of t, columns col .. col + n, lie end to end in memory, their packed bytes and their
     * scales alike (a decode product over whole rows), so that they can be streamed as one range.
     */
    private static boolean contiguous(Q4ByteBufferTensor t, int row, int col, int n, int rows, int rowBytes) {
        if (rows < 2) return true;
        FloatBufferTensor s = t.getBlockF();
        long byteStride =
                t.getMemorySegmentOffset(t.getOffset(row + 1, col)) - t.getMemorySegmentOffset(t.getOffset(row, col));
        long scaleStride = s.getOffset(row + 1, col / BLOCK) - s.getOffset(row, col / BLOCK);
        return byteStride == rowBytes && scaleStride == n / BLOCK;
    }

    /** Packed weights of two tiles of four rows: the one being multiplied and the one being copied in. */
    private int[] tiles = new int[0];
    /** The same tiles' scales, each half with {@code LANES} floats of slack (a scale load reads a whole vector). */
    private float[] tileScales = new float[0];

    /**
     * One activation row by rows that lie end to end ({@link #contiguous}): tiles of four weight rows, each tile's
     * packed weights and scales copied into arrays while the tile before it is multiplied ({@link #rowQuadStream}). A
     * core keeps only as many cache misses in flight as its reorder window holds loads: read in place, each load of
     * weights had the decoding of 64 to 128 weights behind it, so a core waited on memory for most of each miss (the
     * kernel streamed 4.8-5.3 GB/s from memory on one core, where a plain read streams 13-14); a copy is a load with
     * one store behind it, so the copies of the next tile run ahead. Rows past the last whole tile go to
     * {@link #rowPair}.
     */
    private void streamRows(Q4ByteBufferTensor t, int row, int col, int n, int rows, int padded, float[] out) {
        int rowBytes = padded / 2, rowScales = padded / BLOCK, rowInts = padded / 8;
        FloatBufferTensor st = t.getBlockF();
        long first = t.getMemorySegmentOffset(t.getOffset(row, col));
        long firstScale = st.getMemorySegmentOffset(st.getOffset(row, col / BLOCK));
        int tileInts = 4 * rowInts, tileFloats = 4 * rowScales, scaleHalf = tileFloats + LANES, whole = rows / 4;
        if (tiles.length < 2 * tileInts) tiles = new int[2 * tileInts];
        if (tileScales.length < 2 * scaleHalf) tileScales = new float[2 * scaleHalf];
        if (whole > 0) {
            for (int k = 0; k < tileInts; k += LANES) {
                IntVector.fromMemorySegment(INTS, t.getMemorySegment(), first + 4L * k, ByteOrder.LITTLE_ENDIAN)
                        .intoArray(tiles, k);
            }
            for (int k = 0; k < tileFloats; k += LANES) {
                FloatVector.fromMemorySegment(
                                FLOATS, st.getMemorySegment(), firstScale + 4L * k, ByteOrder.LITTLE_ENDIAN)
                        .intoArray(tileScales, k);
            }
        }
        for (int q = 0; q < whole; q++) {
            int cur = (q & 1) * tileInts, scur = (q & 1) * scaleHalf;
            int next = q + 1 < whole ? q + 1 : q; // the last tile copies itself again, from the cache
            rowQuadStream(
                    t,
                    cur,
                    tileInts - cur,
                    first + (long) next * 4 * rowBytes,
                    scur,
                    scaleHalf - scur,
                    firstScale + 4L * next * tileFloats,
                    rowInts,
                    rowScales,
                    padded,
                    4 * q,
                    out);
        }
        int tail = rows - 4 * whole;
        if (tail > 0) {
            if (scales.length < tail * rowScales + LANES) scales = new float[tail * rowScales + LANES];
            TensorRows.Q4Row.of(t, 0).copyRows(row + 4 * whole, col, n, tail, null, rowBytes, scales, rowScales);
            long at = first + (long) 4 * whole * rowBytes;
            for (int r = 0; r < tail; r += 2) {
                int r2 = r + 1 < tail ? r + 1 : r;
                rowPair(t, at + (long) r * rowBytes, at + (long) r2 * rowBytes, padded, r, r2, 0, rows, 4 * whole, out);
            }
        }
    }

    /**
     * One activation row by the tile of four weight rows at {@code tiles[cur ..]} (scales at {@code tileScales[scur
     * ..]}), decoded as in {@link #rowPair}, while the next tile's weights (from byte {@code src} of the tensor's
     * memory) and scales (from byte {@code scaleSrc} of the scales' memory) are copied to {@code nxt} and {@code
     * snxt}: per vector of weights, four vectors of the next tile's weights and one of its scales (a tile holds four
     * times as many weight ints as scales). Writes out[r .. r + 3]. Even and odd nibbles sum into separate chains,
     * eight in all: with four, each FMA waited for the one before it in its row (JMH {@code DecodeProductBench}, one
     * thread, small's eight layers on a Zen 5 core: 1.28-1.34 -> 1.09-1.13 ms at 256 bits, 0.89-0.92 -> 0.71-0.72 at
     * 512).
     */
    private void rowQuadStream(
            Q4ByteBufferTensor q4,
            int cur,
            int nxt,
            long src,
            int scur,
            int snxt,
            long scaleSrc,
            int rowInts,
            int rowScales,
            int padded,
            int r,
            float[] out) {
        float[] x = xp, sc = tileScales;
        int[] b = tiles;
        FloatBufferTensor st = q4.getBlockF();
        FloatVector acc0 = FloatVector.zero(FLOATS), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int g = 0, groups = padded / GROUP; g < groups; g++) {
            int c = g * GROUP;
            int at = cur + g * LANES;
            IntVector v0 = IntVector.fromArray(INTS, b, at);
            IntVector v1 = IntVector.fromArray(INTS, b, at + rowInts);
            IntVector v2 = IntVector.fromArray(INTS, b, at + 2 * rowInts);
            IntVector v3 = IntVector.fromArray(INTS, b, at + 3 * rowInts);
            int to = nxt + 4 * g * LANES;
            long from = src + 16L * g * LANES;
            IntVector.fromMemorySegment(INTS, q4.getMemorySegment(), from, ByteOrder.LITTLE_ENDIAN)
                    .intoArray(b, to);
            IntVector.fromMemorySegment(INTS, q4.getMemorySegment(), from + 4L * LANES, ByteOrder.LITTLE_ENDIAN)
                    .intoArray(b, to + LANES);
            IntVector.fromMemorySegment(INTS, q4.getMemorySegment(), from + 8L * LANES, ByteOrder.LITTLE_ENDIAN)
                    .intoArray(b, to + 2 * LANES);
            IntVector.fromMemorySegment(INTS, q4.getMemorySegment(), from + 12L * LANES, ByteOrder.LITTLE_ENDIAN)
                    .intoArray(b, to + 3 * LANES);
            FloatVector.fromMemorySegment(
                            FLOATS, st.getMemorySegment(), scaleSrc + 4L * g * LANES, ByteOrder.LITTLE_ENDIAN)
                    .intoArray(sc, snxt + g * LANES);
            FloatVector t0 = FloatVector.fromArray(FLOATS, unitOffsets, LANES * g), t1 = t0, t2 = t0, t3 = t0;
            FloatVector u0 = FloatVector.zero(FLOATS), u1 = u0, u2 = u0, u3 = u0;
            for (int e = 0; e < 8; e += 2) {
                FloatVector xe = FloatVector.fromArray(FLOATS, x, c + LANES * e);
                t0 = xe.fma(
                        ONE.lanewise(BITWISE_BLEND, v0.lanewise(ROR, 4 * e + 13), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        t0);
                t1 = xe.fma(
                        ONE.lanewise(BITWISE_BLEND, v1.lanewise(ROR, 4 * e + 13), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        t1);
                t2 = xe.fma(
                        ONE.lanewise(BITWISE_BLEND, v2.lanewise(ROR, 4 * e + 13), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        t2);
                t3 = xe.fma(
                        ONE.lanewise(BITWISE_BLEND, v3.lanewise(ROR, 4 * e + 13), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        t3);
                FloatVector xf = FloatVector.fromArray(FLOATS, x, c + LANES * e + LANES);
                u0 = xf.fma(
                        ONE.lanewise(BITWISE_BLEND, v0.lanewise(ROR, 4 * e + 17), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        u0);
                u1 = xf.fma(
                        ONE.lanewise(BITWISE_BLEND, v1.lanewise(ROR, 4 * e + 17), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        u1);
                u2 = xf.fma(
                        ONE.lanewise(BITWISE_BLEND, v2.lanewise(ROR, 4 * e + 17), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        u2);
                u3 = xf.fma(
                        ONE.lanewise(BITWISE_BLEND, v3.lanewise(ROR, 4 * e + 17), MANTISSA_TOP)
                                .reinterpretAsFloats(),
                        u3);
            }
            t0 = t0.add(u0);
            t1 = t1.add(u1);
            t2 = t2.add(u2);
            t3 = t3.add(u3);
            int s0 = scur + GROUP_BLOCKS * g;
            acc0 = t0.fma(FloatVector.fromArray(FLOATS, sc, s0).rearrange(SPREAD), acc0);
            acc1 = t1.fma(FloatVector.fromArray(FLOATS, sc, s0 + rowScales).rearrange(SPREAD), acc1);
            acc2 = t2.fma(FloatVector.fromArray(FLOATS, sc, s0 + 2 * rowScales).rearrange(SPREAD), acc2);
            acc3 = t3.fma(FloatVector.fromArray(FLOATS, sc, s0 + 3 * rowScales).rearrange(SPREAD), acc3);
        }
        // the four rows' sums in lanes 0..3 of one vector (see ODD)
        FloatVector p01 = acc0.blend(acc1, ODD).add(acc0.blend(acc1, EVEN).rearrange(XOR1));
        FloatVector p23 = acc2.blend(acc3, ODD).add(acc2.blend(acc3, EVEN).rearrange(XOR1));
        FloatVector q = p01.blend(p23, HIGH2).add(p01.blend(p23, LOW2).rearrange(XOR2));
        if (LANES >= 8) q = q.add(q.rearrange(XOR4));
        if (LANES >= 16) q = q.add(q.rearrange(XOR8));
        q.intoArray(sums, 0); // not a masked store into out: near its end that checks each lane, slowly
        out[r] = 16f * sums[0];
        out[r + 1] = 16f * sums[1];
        out[r + 2] = 16f * sums[2];
        out[r + 3] = 16f * sums[3];
    }

    /** Two activation rows: sum over e of x_e q_e, started from the offset's share, then times the scales. */
    private void rows2(Q4ByteBufferTensor q4, long at, int padded, int r, int i, int rows, int j, float[] out) {
        float[] x = xp, sc = scales;
        int x0 = i * padded, x1 = x0 + padded, o0 = i * padded / 8, o1 = o0 + padded / 8;
        int s0 = r * padded / BLOCK;
        FloatVector acc0 = FloatVector.zero(FLOATS), acc1 = acc0;
        for (int g = 0, groups = padded / GROUP; g < groups; g++) {
            int c = g * GROUP;
            IntVector v = IntVector.fromMemorySegment(
                    INTS, q4.getMemorySegment(), at + g * GROUP_BYTES, ByteOrder.LITTLE_ENDIAN);
            FloatVector t0 = FloatVector.fromArray(FLOATS, offsets, o0 + LANES * g);
            FloatVector t1 = FloatVector.fromArray(FLOATS, offsets, o1 + LANES * g);
            for (int e = 0; e < 8; e++) {
                FloatVector q = (FloatVector) v.lanewise(LSHR, 4 * e).and(0xF).convert(I2F, 0);
                int k = c + LANES * e;
                t0 = FloatVector.fromArray(FLOATS, x, x0 + k).fma(q, t0);
                t1 = FloatVector.fromArray(FLOATS, x, x1 + k).fma(q, t1);
            }
            FloatVector s =
                    FloatVector.fromArray(FLOATS, sc, s0 + GROUP_BLOCKS * g).rearrange(SPREAD);
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
        FloatVector acc0 = FloatVector.zero(FLOATS), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int g = 0, groups = padded / GROUP; g < groups; g++) {
            int c = g * GROUP;
            IntVector v = IntVector.fromMemorySegment(
                    INTS, q4.getMemorySegment(), at + g * GROUP_BYTES, ByteOrder.LITTLE_ENDIAN);
            FloatVector t0 = FloatVector.fromArray(FLOATS, offsets, o0 + LANES * g);
            FloatVector t1 = FloatVector.fromArray(FLOATS, offsets, o1 + LANES * g);
            FloatVector t2 = FloatVector.fromArray(FLOATS, offsets, o2 + LANES * g);
            FloatVector t3 = FloatVector.fromArray(FLOATS, offsets, o3 + LANES * g);
            for (int e = 0; e < 8; e++) {
                FloatVector q = (FloatVector) v.lanewise(LSHR, 4 * e).and(0xF).convert(I2F, 0);
                int k = c + LANES * e;
                t0 = FloatVector.fromArray(FLOATS, x, x0 + k).fma(q, t0);
                t1 = FloatVector.fromArray(FLOATS, x, x1 + k).fma(q, t1);
                t2 = FloatVector.fromArray(FLOATS, x, x2 + k).fma(q, t2);
                t3 = FloatVector.fromArray(FLOATS, x, x3 + k).fma(q, t3);
            }
            FloatVector s =
                    FloatVector.fromArray(FLOATS, sc, s0 + GROUP_BLOCKS * g).rearrange(SPREAD);
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
     * Two weight rows by eight activation rows (256-bit vectors): each weight is decoded once and scaled, {@code w = q
     * s - 8 s}, then costs one FMA per activation row; each activation vector is loaded once for both weight rows
     * (sixteen FMA chains). Against one weight row by eight (the previous kernel), one thread, medians of 40, small's
     * eight layers 12.2 -> 8.3 ms, three of medium's 19.5 -> 13.8 ms.
     */
    private void rows2x8(int padded, int r, int r2, int i, int valid, int rows, int j0, float[] out) {
        float[] x = xp, sc = scales;
        byte[] p = packed;
        int x0 = i * padded, x1 = x0 + padded, x2 = x1 + padded, x3 = x2 + padded;
        int x4 = x3 + padded, x5 = x4 + padded, x6 = x5 + padded, x7 = x6 + padded;
        int p0 = r * padded / 2, s0 = r * padded / BLOCK, p1 = r2 * padded / 2, s1 = r2 * padded / BLOCK;
        FloatVector a0 = FloatVector.zero(FLOATS), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
        for (int g = 0, groups = padded / GROUP; g < groups; g++) {
            int c = g * GROUP;
            IntVector v = ByteVector.fromArray(BYTES, p, p0 + g * GROUP_BYTES).reinterpretAsInts();
            IntVector v2 = ByteVector.fromArray(BYTES, p, p1 + g * GROUP_BYTES).reinterpretAsInts();
            FloatVector s =
                    FloatVector.fromArray(FLOATS, sc, s0 + GROUP_BLOCKS * g).rearrange(SPREAD);
            FloatVector m8s = s.mul(-8f);
            FloatVector s2 =
                    FloatVector.fromArray(FLOATS, sc, s1 + GROUP_BLOCKS * g).rearrange(SPREAD);
            FloatVector m8s2 = s2.mul(-8f);
            for (int e = 0; e < 8; e++) {
                FloatVector w = ((FloatVector) v.lanewise(LSHR, 4 * e).and(0xF).convert(I2F, 0)).fma(s, m8s);
                FloatVector u = ((FloatVector) v2.lanewise(LSHR, 4 * e).and(0xF).convert(I2F, 0)).fma(s2, m8s2);
                int k = c + LANES * e;
                FloatVector xv = FloatVector.fromArray(FLOATS, x, x0 + k);
                a0 = xv.fma(w, a0);
                b0 = xv.fma(u, b0);
                xv = FloatVector.fromArray(FLOATS, x, x1 + k);
                a1 = xv.fma(w, a1);
                b1 = xv.fma(u, b1);
                xv = FloatVector.fromArray(FLOATS, x, x2 + k);
                a2 = xv.fma(w, a2);
                b2 = xv.fma(u, b2);
                xv = FloatVector.fromArray(FLOATS, x, x3 + k);
                a3 = xv.fma(w, a3);
                b3 = xv.fma(u, b3);
                xv = FloatVector.fromArray(FLOATS, x, x4 + k);
                a4 = xv.fma(w, a4);
                b4 = xv.fma(u, b4);
                xv = FloatVector.fromArray(FLOATS, x, x5 + k);
                a5 = xv.fma(w, a5);
                b5 = xv.fma(u, b5);
                xv = FloatVector.fromArray(FLOATS, x, x6 + k);
                a6 = xv.fma(w, a6);
                b6 = xv.fma(u, b6);
                xv = FloatVector.fromArray(FLOATS, x, x7 + k);
                a7 = xv.fma(w, a7);
                b7 = xv.fma(u, b7);
            }
        }
        int j = j0 + r;
        if (LANES == 8) {
            // each weight row's eight sums in one vector's lanes (see ODD), stored, then scattered
            FloatVector p01 = a0.blend(a1, ODD).add(a0.blend(a1, EVEN).rearrange(XOR1));
            FloatVector p23 = a2.blend(a3, ODD).add(a2.blend(a3, EVEN).rearrange(XOR1));
            FloatVector p45 = a4.blend(a5, ODD).add(a4.blend(a5, EVEN).rearrange(XOR1));
            FloatVector p67 = a6.blend(a7, ODD).add(a6.blend(a7, EVEN).rearrange(XOR1));
            FloatVector q03 = p01.blend(p23, HIGH2).add(p01.blend(p23, LOW2).rearrange(XOR2));
            FloatVector q47 = p45.blend(p67, HIGH2).add(p45.blend(p67, LOW2).rearrange(XOR2));
            q03.blend(q47, HIGH4).add(q03.blend(q47, LOW4).rearrange(XOR4)).intoArray(sums, 0);
            p01 = b0.blend(b1, ODD).add(b0.blend(b1, EVEN).rearrange(XOR1));
            p23 = b2.blend(b3, ODD).add(b2.blend(b3, EVEN).rearrange(XOR1));
            p45 = b4.blend(b5, ODD).add(b4.blend(b5, EVEN).rearrange(XOR1));
            p67 = b6.blend(b7, ODD).add(b6.blend(b7, EVEN).rearrange(XOR1));
            q03 = p01.blend(p23, HIGH2).add(p01.blend(p23, LOW2).rearrange(XOR2));
            q47 = p45.blend(p67, HIGH2).add(p45.blend(p67, LOW2).rearrange(XOR2));
            q03.blend(q47, HIGH4).add(q03.blend(q47, LOW4).rearrange(XOR4)).intoArray(sums, 8);
        } else {
            sums[0] = a0.reduceLanes(ADD);
            sums[1] = a1.reduceLanes(ADD);
            sums[2] = a2.reduceLanes(ADD);
            sums[3] = a3.reduceLanes(ADD);
            sums[4] = a4.reduceLanes(ADD);
            sums[5] = a5.reduceLanes(ADD);
            sums[6] = a6.reduceLanes(ADD);
            sums[7] = a7.reduceLanes(ADD);
            sums[8] = b0.reduceLanes(ADD);
            sums[9] = b1.reduceLanes(ADD);
            sums[10] = b2.reduceLanes(ADD);
            sums[11] = b3.reduceLanes(ADD);
            sums[12] = b4.reduceLanes(ADD);
            sums[13] = b5.reduceLanes(ADD);
            sums[14] = b6.reduceLanes(ADD);
            sums[15] = b7.reduceLanes(ADD);
        }
        // the first valid activation rows only: those past them are zero rows added (PAD_TO_EIGHT_FROM)
        for (int k = 0; k < valid; k++) out[(i + k) * rows + j] = sums[k];
        if (r2 == r) return;
        j = j0 + r2;
        for (int k = 0; k < valid; k++) out[(i + k) * rows + j] = sums[8 + k];
    }

    /**
     * Two weight rows by four activation rows, as {@link #rows2x8}: with 512-bit vectors sixteen chains of {@link
     * #rows2x8} spill registers (small's eight layers, eight rows: 14.5-15.2 ms against 7.1-7.3 ms for two calls of
     * this one), and this one also beats {@link #rows4} for four rows there (3.9 against 6.5 ms). With 256-bit vectors
     * {@link #rows4}, which reads the weights in place, is the faster of the two for four rows (5.2 against 6.6 ms).
     */
    private void rows2x4(int padded, int r, int r2, int i, int valid, int rows, int j0, float[] out) {
        float[] x = xp, sc = scales;
        byte[] p = packed;
        int x0 = i * padded, x1 = x0 + padded, x2 = x1 + padded, x3 = x2 + padded;
        int p0 = r * padded / 2, s0 = r * padded / BLOCK, p1 = r2 * padded / 2, s1 = r2 * padded / BLOCK;
        FloatVector a0 = FloatVector.zero(FLOATS), a1 = a0, a2 = a0, a3 = a0;
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int g = 0, groups = padded / GROUP; g < groups; g++) {
            int c = g * GROUP;
            IntVector v = ByteVector.fromArray(BYTES, p, p0 + g * GROUP_BYTES).reinterpretAsInts();
            IntVector v2 = ByteVector.fromArray(BYTES, p, p1 + g * GROUP_BYTES).reinterpretAsInts();
            FloatVector s =
                    FloatVector.fromArray(FLOATS, sc, s0 + GROUP_BLOCKS * g).rearrange(SPREAD);
            FloatVector m8s = s.mul(-8f);
            FloatVector s2 =
                    FloatVector.fromArray(FLOATS, sc, s1 + GROUP_BLOCKS * g).rearrange(SPREAD);
            FloatVector m8s2 = s2.mul(-8f);
            for (int e = 0; e < 8; e++) {
                FloatVector w = ((FloatVector) v.lanewise(LSHR, 4 * e).and(0xF).convert(I2F, 0)).fma(s, m8s);
                FloatVector u = ((FloatVector) v2.lanewise(LSHR, 4 * e).and(0xF).convert(I2F, 0)).fma(s2, m8s2);
                int k = c + LANES * e;
                FloatVector xv = FloatVector.fromArray(FLOATS, x, x0 + k);
                a0 = xv.fma(w, a0);
                b0 = xv.fma(u, b0);
                xv = FloatVector.fromArray(FLOATS, x, x1 + k);
                a1 = xv.fma(w, a1);
                b1 = xv.fma(u, b1);
                xv = FloatVector.fromArray(FLOATS, x, x2 + k);
                a2 = xv.fma(w, a2);
                b2 = xv.fma(u, b2);
                xv = FloatVector.fromArray(FLOATS, x, x3 + k);
                a3 = xv.fma(w, a3);
                b3 = xv.fma(u, b3);
            }
        }
        // the eight sums in lanes 0..7 of one vector (see ODD; this kernel runs with 16 lanes only)
        FloatVector pa = a0.blend(a1, ODD).add(a0.blend(a1, EVEN).rearrange(XOR1));
        FloatVector pa2 = a2.blend(a3, ODD).add(a2.blend(a3, EVEN).rearrange(XOR1));
        FloatVector pb = b0.blend(b1, ODD).add(b0.blend(b1, EVEN).rearrange(XOR1));
        FloatVector pb2 = b2.blend(b3, ODD).add(b2.blend(b3, EVEN).rearrange(XOR1));
        FloatVector qa = pa.blend(pa2, HIGH2).add(pa.blend(pa2, LOW2).rearrange(XOR2));
        FloatVector qb = pb.blend(pb2, HIGH2).add(pb.blend(pb2, LOW2).rearrange(XOR2));
        FloatVector q = qa.blend(qb, HIGH4).add(qa.blend(qb, LOW4).rearrange(XOR4));
        q.add(q.rearrange(XOR8)).intoArray(sums, 0);
        int j = j0 + r;
        for (int k = 0; k < valid; k++) out[(i + k) * rows + j] = sums[k];
        if (r2 == r) return;
        j = j0 + r2;
        for (int k = 0; k < valid; k++) out[(i + k) * rows + j] = sums[4 + k];
    }
}
