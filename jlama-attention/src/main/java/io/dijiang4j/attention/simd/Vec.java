package io.dijiang4j.attention.simd;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Element-wise float kernels of the log domain (max, shifted exp), Vector API with scalar tails. */
public final class Vec {
    private static final VectorSpecies<Float> F = VectorOps.F;

    private Vec() {}

    /** sum of a[off .. off+n). */
    public static float sum(float[] a, int off, int n) {
        int i = 0;
        float sum = 0f;
        int bound = F.loopBound(n);
        if (bound > 0) {
            FloatVector acc = FloatVector.zero(F);
            for (; i < bound; i += F.length()) acc = acc.add(FloatVector.fromArray(F, a, off + i));
            sum = acc.reduceLanes(VectorOperators.ADD);
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
                FloatVector.fromArray(F, a, aOff + i)
                        .add(s)
                        .lanewise(VectorOperators.EXP)
                        .intoArray(out, outOff + i);
            }
        }
        for (; i < n; i++) out[outOff + i] = (float) Math.exp(a[aOff + i] + shift);
    }

    /** out[i] = exp(a[i] + b[i] + shift). */
    public static void expSumShifted(
            float[] a, int aOff, float[] b, int bOff, float shift, float[] out, int outOff, int n) {
        int i = 0;
        int bound = F.loopBound(n);
        if (bound > 0) {
            FloatVector s = FloatVector.broadcast(F, shift);
            for (; i < bound; i += F.length()) {
                FloatVector.fromArray(F, a, aOff + i)
                        .add(FloatVector.fromArray(F, b, bOff + i))
                        .add(s)
                        .lanewise(VectorOperators.EXP)
                        .intoArray(out, outOff + i);
            }
        }
        for (; i < n; i++) out[outOff + i] = (float) Math.exp(a[aOff + i] + b[bOff + i] + shift);
    }
}
