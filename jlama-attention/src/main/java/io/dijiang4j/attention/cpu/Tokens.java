package io.dijiang4j.attention.cpu;

/**
 * Where the keys and values of absolute positions live during one hybrid call: the sinks buffer, the ring buffer
 * (positions before the call), or the call's input (positions >= start). Reused across calls (no allocation).
 */
final class Tokens {
    private final CpuState s;
    private final int sinks;
    private final int window;
    private final int headDim;
    private final int kvWidth;
    float[] k;
    float[] v;
    long start;

    Tokens(CpuState s) {
        this.s = s;
        this.sinks = s.spec.sinks();
        this.window = s.spec.window();
        this.headDim = s.shape.headDim();
        this.kvWidth = s.shape.kvWidth();
    }

    Tokens reset(float[] keys, float[] values) {
        this.k = keys;
        this.v = values;
        this.start = s.position;
        return this;
    }

    float[] keys(long pos, int kvh) {
        if (pos >= start) return k;
        return pos < sinks ? s.sinkKeys[kvh] : s.windowKeys[kvh];
    }

    float[] values(long pos, int kvh) {
        if (pos >= start) return v;
        return pos < sinks ? s.sinkValues[kvh] : s.windowValues[kvh];
    }

    int offset(long pos, int kvh) {
        if (pos >= start) return (int) (pos - start) * kvWidth + kvh * headDim;
        if (pos < sinks) return (int) pos * headDim;
        return (int) ((pos - sinks) % window) * headDim;
    }
}
