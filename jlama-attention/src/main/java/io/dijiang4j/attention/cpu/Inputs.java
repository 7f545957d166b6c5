package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.AttentionShape;

/** Argument checks shared by the CPU kernels: one clear message, never a silent wrong answer. */
final class Inputs {
    private Inputs() {}

    static void check(AttentionShape shape, float[] q, float[] k, float[] v, float[] out, int length) {
        if (length < 0) throw new IllegalArgumentException("length must be >= 0: " + length);
        long qn = (long) length * shape.queryWidth(), kn = (long) length * shape.kvWidth();
        require(q, qn, "q");
        require(k, kn, "k");
        require(v, kn, "v");
        require(out, qn, "out");
        finite(q, (int) qn, "q");
        finite(k, (int) kn, "k");
        finite(v, (int) kn, "v");
    }

    private static void require(float[] a, long n, String name) {
        if (a == null) throw new IllegalArgumentException(name + " is null");
        if (a.length < n) {
            throw new IllegalArgumentException(name + " holds " + a.length + " floats, need " + n);
        }
    }

    private static void finite(float[] a, int n, String name) {
        if (io.dijiang4j.attention.simd.VectorOps.allFinite(a, 0, n)) return;
        for (int i = 0; i < n; i++) {
            if (!Float.isFinite(a[i])) {
                throw new IllegalArgumentException(name + " holds a NaN or infinite value at index " + i);
            }
        }
    }
}
