package io.dijiang4j.attention.simd;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Element-wise float kernels of the log domain (max, sum, shifted exp), Vector API with scalar tails.
 *
 * <p>Bit-for-bit reproducible: the exponential is our own (Cephes expf: range reduction by ln 2 and a degree-6
 * polynomial, about 2 ulp), built only from add, multiply and fused multiply-add, which the Vector API computes
 * identically whether a method runs interpreted or compiled. Its lanewise EXP is not (the compiled form calls a
 * vendor library, the interpreted one Math.exp), and neither is reduceLanes(ADD) (the compiled form may add in a
 * tree): a state restored from bytes must continue exactly as the original, whatever the JIT did meanwhile.
 */
public final class Vec {
    private static final VectorSpecies<Float> F = VectorOps.F;
    private static final int LANES = F.length();
    private static final float EXP_HI = 88f; // above: clamped (the kernels only take exp of values <= 0)
    private static final float EXP_LO = -87.3365447504f; // below: 0 (exp underflows the normal range)
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float ROUND = 12582912f; // 1.5 * 2^23: adding it rounds to an integer in the low bits
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;

    private Vec() {}

    /** exp of every lane; 0 below about -87.3 (and for -infinity), exp(88) above 88. */
    public static FloatVector exp(FloatVector x) {
        FloatVector xc = x.max(EXP_LO).min(EXP_HI);
        FloatVector t = xc.fma(FloatVector.broadcast(F, LOG2E), FloatVector.broadcast(F, ROUND));
        FloatVector n = t.sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), xc);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = r.fma(FloatVector.broadcast(F, P0), FloatVector.broadcast(F, P1));
        p = p.fma(r, FloatVector.broadcast(F, P2));
        p = p.fma(r, FloatVector.broadcast(F, P3));
        p = p.fma(r, FloatVector.broadcast(F, P4));
        p = p.fma(r, FloatVector.broadcast(F, P5));
        p = p.fma(r.mul(r), r).add(1f);
        // 2^n from the integer left in t's low mantissa bits
        IntVector bits = t.reinterpretAsInts()
                .sub(Float.floatToRawIntBits(ROUND))
                .add(127)
                .lanewise(VectorOperators.LSHL, 23);
        FloatVector result = p.mul(bits.reinterpretAsFloats());
        return result.blend(0f, x.compare(VectorOperators.LT, EXP_LO));
    }

    /** The scalar twin of {@link #exp(FloatVector)}: the same operations, the same bits. */
    public static float exp(float x) {
        if (x < EXP_LO) return 0f;
        float xc = Math.min(x, EXP_HI);
        float t = Math.fma(xc, LOG2E, ROUND);
        float n = t - ROUND;
        float r = Math.fma(n, -LN2_HI, xc);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        p = Math.fma(p, r * r, r) + 1f;
        int bits = ((Float.floatToRawIntBits(t) - Float.floatToRawIntBits(ROUND)) + 127) << 23;
        return p * Float.intBitsToFloat(bits);
    }

    /** Lane l ^ k of the vector: the halving steps of {@link #sumLanes}. */
    private static final VectorShuffle<Float> XOR1 = VectorShuffle.fromOp(F, l -> l ^ 1),
            XOR2 = VectorShuffle.fromOp(F, l -> l ^ 2),
            XOR4 = VectorShuffle.fromOp(F, l -> (l ^ 4) % LANES),
            XOR8 = VectorShuffle.fromOp(F, l -> (l ^ 8) % LANES);

    /**
     * Sum of the lanes as a halving tree: lane i + lane i ^ (LANES / 2), then i ^ (LANES / 4), ..., down to lane 0
     * (the order {@link io.dijiang4j.attention.tensorops.F32MatrixVector} repeats, so that a product's sums do not
     * depend on the path). reduceLanes(ADD) adds the lanes one after another on x86, and lane-by-lane extraction costs
     * a shuffle per lane: a dot product of 64 values was mostly its final sum (the memory's per-cluster dot products in
     * a batched serving pass).
     */
    public static float sumLanes(FloatVector v) {
        if (LANES >= 16) v = v.add(v.rearrange(XOR8));
        if (LANES >= 8) v = v.add(v.rearrange(XOR4));
        v = v.add(v.rearrange(XOR2));
        return v.add(v.rearrange(XOR1)).lane(0);
    }

    /** sum of a[off .. off+n). */
    public static float sum(float[] a, int off, int n) {
        int i = 0;
        float sum = 0f;
        int bound = F.loopBound(n);
        if (bound > 0) {
            FloatVector acc = FloatVector.zero(F);
            for (; i < bound; i += F.length()) acc = acc.add(FloatVector.fromArray(F, a, off + i));
            // sumLanes written out: a caller that C2 compiles near its node-count cutoff may leave a call with a
            // vector argument un-inlined, and the vector is then boxed (an allocation per call)
            if (LANES >= 16) acc = acc.add(acc.rearrange(XOR8));
            if (LANES >= 8) acc = acc.add(acc.rearrange(XOR4));
            acc = acc.add(acc.rearrange(XOR2));
            sum = acc.add(acc.rearrange(XOR1)).lane(0);
        }
        for (; i < n; i++) sum += a[off + i];
        return sum;
    }

    /** max of a[off .. off+n), -infinity when n == 0. */
    public static float max(float[] a, int off, int n) {
        int i = 0;
        float max = Float.NEGATIVE_INFINITY;
        int bound = F.loopBound(n);
        if (bound > 0) {
            FloatVector acc = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (; i < bound; i += F.length()) acc = acc.max(FloatVector.fromArray(F, a, off + i));
            max = acc.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) max = Math.max(max, a[off + i]);
        return max;
    }

    /** max of a[aOff+i] + b[bOff+i], i < n. */
    public static float maxSum(float[] a, int aOff, float[] b, int bOff, int n) {
        int i = 0;
        float max = Float.NEGATIVE_INFINITY;
        int bound = F.loopBound(n);
        if (bound > 0) {
            FloatVector acc = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (; i < bound; i += F.length()) {
                acc = acc.max(FloatVector.fromArray(F, a, aOff + i).add(FloatVector.fromArray(F, b, bOff + i)));
            }
            max = acc.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) max = Math.max(max, a[aOff + i] + b[bOff + i]);
        return max;
    }

    /** out[i] = exp(a[i] + shift). */
    public static void expShifted(float[] a, int aOff, float shift, float[] out, int outOff, int n) {
        int i = 0;
        int bound = F.loopBound(n);
        if (bound > 0) {
            FloatVector s = FloatVector.broadcast(F, shift);
            for (; i < bound; i += F.length()) {
                exp(FloatVector.fromArray(F, a, aOff + i).add(s)).intoArray(out, outOff + i);
            }
        }
        for (; i < n; i++) out[outOff + i] = exp(a[aOff + i] + shift);
    }

    /** out[i] = exp(a[i] + b[i] + shift). */
    public static void expSumShifted(
            float[] a, int aOff, float[] b, int bOff, float shift, float[] out, int outOff, int n) {
        int i = 0;
        int bound = F.loopBound(n);
        if (bound > 0) {
            FloatVector s = FloatVector.broadcast(F, shift);
            for (; i < bound; i += F.length()) {
                exp(FloatVector.fromArray(F, a, aOff + i)
                                .add(FloatVector.fromArray(F, b, bOff + i))
                                .add(s))
                        .intoArray(out, outOff + i);
            }
        }
        for (; i < n; i++) out[outOff + i] = exp(a[aOff + i] + b[bOff + i] + shift);
    }
}
