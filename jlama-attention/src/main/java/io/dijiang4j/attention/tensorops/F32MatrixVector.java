package io.dijiang4j.attention.tensorops;

import com.github.tjake.jlama.tensor.FloatBufferTensor;
import io.dijiang4j.attention.simd.VectorOps;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The decode product of F32 weights: a few activation rows (the sessions of a batched pass) times a chunk of weight
 * rows, each weight vector read where it lies in the tensor's memory, once for every activation row: pairs of weight
 * rows by eight, four and one activation rows (sixteen, eight or two FMA chains in flight; a dot product's single
 * chain waits on the FMA latency). Reading in place lets the hardware stream the weights while the FMAs run: 32000 x
 * 512 weights, one thread, one row: 4.2-4.5 ms against 4.6-5.9 ms copying each row into L1 scratch first. Each
 * (weight row, activation row) pair is summed exactly as {@link VectorOps#dot} sums it (one accumulator, its lanes
 * added as a halving tree), so a session's results do not depend on which sessions share its pass.
 */
final class F32MatrixVector {
    private static final VectorSpecies<Float> F = VectorOps.F;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private F32MatrixVector() {}

    /**
     * The activation rows to hand {@link #product} for {@code m}: a batch of several rows padded to a whole number of
     * fours or eights (copies of its last row, their results dropped), so that a pass of 2, 3, 6 or 7 sessions takes
     * one group of four or eight, whose FMA chains fill the pipes, instead of a latency-bound one-row kernel per
     * leftover row (one-row kernel: two chains, a quarter of the FMA throughput; weights in L1 either way).
     */
    static int paddedRows(int m) {
        int r = m % 8;
        if (m <= 1 || r == 0) return m;
        return m - r + (r <= 4 ? 4 : 8);
    }

    /**
     * out[i * rows + j] = sum over c < n of x[i * n + c] * t[row + j, col + c] for i < m, j < rows; n a multiple of
     * the vector length. lanes: scratch of 16 vectors.
     */
    static void product(
            FloatBufferTensor t, int row, int col, int n, int rows, float[] x, int m, float[] out, float[] lanes) {
        // weight rows in pairs, each pair dotted with every activation row while it is in L1: eight activation rows
        // at a time, then four, then one
        for (int j = 0; j < rows; j += 2) {
            long w0 = t.getMemorySegmentOffset(t.getOffset(row + j, col));
            // an odd last weight row is paired with itself; rows1 then writes its result once
            long w1 = j + 1 < rows ? t.getMemorySegmentOffset(t.getOffset(row + j + 1, col)) : w0;
            int i = 0;
            for (; i + 8 <= m; i += 8) rows2x8(t, w0, w1, x, i * n, n, out, i * rows + j, rows, lanes);
            for (; i + 4 <= m && w1 != w0; i += 4) rows4(t, w0, w1, x, i * n, n, out, i * rows + j, rows, lanes);
            for (; i < m; i++) rows1(t, w0, w1, x, i * n, n, out, i * rows + j, lanes);
        }
    }

    /**
     * Two weight rows by eight activation rows: sixteen FMA chains, each weight vector loaded once for eight FMAs and
     * each activation vector once for two (against one weight row by eight: 32000 x 512 and 4096 x 1408 weights, two
     * threads, medians of 30: 6.30 / 2.12 ms against 6.78 / 2.79 ms). An odd last weight row comes as w1 == w0, its
     * duplicate results not written.
     */
    private static void rows2x8(
            FloatBufferTensor t,
            long w0,
            long w1,
            float[] x,
            int xo,
            int n,
            float[] out,
            int o,
            int stride,
            float[] lanes) {
        int len = F.length();
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
        for (int i = 0; i < n; i += len) {
            long at = (long) i * Float.BYTES;
            FloatVector u = FloatVector.fromMemorySegment(F, t.getMemorySegment(), w0 + at, LE);
            FloatVector v = FloatVector.fromMemorySegment(F, t.getMemorySegment(), w1 + at, LE);
            FloatVector x0 = FloatVector.fromArray(F, x, xo + i);
            a0 = u.fma(x0, a0);
            b0 = v.fma(x0, b0);
            FloatVector x1 = FloatVector.fromArray(F, x, xo + n + i);
            a1 = u.fma(x1, a1);
            b1 = v.fma(x1, b1);
            FloatVector x2 = FloatVector.fromArray(F, x, xo + 2 * n + i);
            a2 = u.fma(x2, a2);
            b2 = v.fma(x2, b2);
            FloatVector x3 = FloatVector.fromArray(F, x, xo + 3 * n + i);
            a3 = u.fma(x3, a3);
            b3 = v.fma(x3, b3);
            FloatVector x4 = FloatVector.fromArray(F, x, xo + 4 * n + i);
            a4 = u.fma(x4, a4);
            b4 = v.fma(x4, b4);
            FloatVector x5 = FloatVector.fromArray(F, x, xo + 5 * n + i);
            a5 = u.fma(x5, a5);
            b5 = v.fma(x5, b5);
            FloatVector x6 = FloatVector.fromArray(F, x, xo + 6 * n + i);
            a6 = u.fma(x6, a6);
            b6 = v.fma(x6, b6);
            FloatVector x7 = FloatVector.fromArray(F, x, xo + 7 * n + i);
            a7 = u.fma(x7, a7);
            b7 = v.fma(x7, b7);
        }
        // through an array, not a helper taking vectors (C2 may leave it un-inlined in a method this size, boxing
        // every vector)
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, len);
        a2.intoArray(lanes, 2 * len);
        a3.intoArray(lanes, 3 * len);
        a4.intoArray(lanes, 4 * len);
        a5.intoArray(lanes, 5 * len);
        a6.intoArray(lanes, 6 * len);
        a7.intoArray(lanes, 7 * len);
        b0.intoArray(lanes, 8 * len);
        b1.intoArray(lanes, 9 * len);
        b2.intoArray(lanes, 10 * len);
        b3.intoArray(lanes, 11 * len);
        b4.intoArray(lanes, 12 * len);
        b5.intoArray(lanes, 13 * len);
        b6.intoArray(lanes, 14 * len);
        b7.intoArray(lanes, 15 * len);
        int results = w1 != w0 ? 16 : 8;
        for (int p = 0; p < results; p++) out[o + (p & 7) * stride + (p >> 3)] = sumLanes(lanes, p * len);
    }

    private static void rows4(
            FloatBufferTensor t,
            long w0,
            long w1,
            float[] x,
            int xo,
            int n,
            float[] out,
            int o,
            int stride,
            float[] lanes) {
        int len = F.length();
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int i = 0; i < n; i += len) {
            long at = (long) i * Float.BYTES;
            FloatVector u = FloatVector.fromMemorySegment(F, t.getMemorySegment(), w0 + at, LE);
            FloatVector v = FloatVector.fromMemorySegment(F, t.getMemorySegment(), w1 + at, LE);
            FloatVector x0 = FloatVector.fromArray(F, x, xo + i);
            a0 = u.fma(x0, a0);
            b0 = v.fma(x0, b0);
            FloatVector x1 = FloatVector.fromArray(F, x, xo + n + i);
            a1 = u.fma(x1, a1);
            b1 = v.fma(x1, b1);
            FloatVector x2 = FloatVector.fromArray(F, x, xo + 2 * n + i);
            a2 = u.fma(x2, a2);
            b2 = v.fma(x2, b2);
            FloatVector x3 = FloatVector.fromArray(F, x, xo + 3 * n + i);
            a3 = u.fma(x3, a3);
            b3 = v.fma(x3, b3);
        }
        a0.intoArray(lanes, 0);
        b0.intoArray(lanes, len);
        a1.intoArray(lanes, 2 * len);
        b1.intoArray(lanes, 3 * len);
        a2.intoArray(lanes, 4 * len);
        b2.intoArray(lanes, 5 * len);
        a3.intoArray(lanes, 6 * len);
        b3.intoArray(lanes, 7 * len);
        for (int p = 0; p < 8; p++) out[o + (p >> 1) * stride + (p & 1)] = sumLanes(lanes, p * len);
    }

    private static void rows1(
            FloatBufferTensor t, long w0, long w1, float[] x, int xo, int n, float[] out, int o, float[] lanes) {
        int len = F.length();
        FloatVector a0 = FloatVector.zero(F), b0 = a0;
        for (int i = 0; i < n; i += len) {
            long at = (long) i * Float.BYTES;
            FloatVector x0 = FloatVector.fromArray(F, x, xo + i);
            a0 = FloatVector.fromMemorySegment(F, t.getMemorySegment(), w0 + at, LE)
                    .fma(x0, a0);
            b0 = FloatVector.fromMemorySegment(F, t.getMemorySegment(), w1 + at, LE)
                    .fma(x0, b0);
        }
        a0.intoArray(lanes, 0);
        b0.intoArray(lanes, len);
        out[o] = sumLanes(lanes, 0);
        if (w1 != w0) out[o + 1] = sumLanes(lanes, len);
    }

    /** The lanes at {@code at}, added as {@link io.dijiang4j.attention.simd.Vec#sumLanes} adds them (in place). */
    private static float sumLanes(float[] lanes, int at) {
        for (int h = F.length() / 2; h >= 1; h /= 2) {
            for (int i = 0; i < h; i++) lanes[at + i] += lanes[at + i + h];
        }
        return lanes[at];
    }
}
