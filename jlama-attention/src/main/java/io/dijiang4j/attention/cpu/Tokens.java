package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.ops.hybrid.ExactTokens;
import io.dijiang4j.attention.simd.VectorOps;
import java.util.Arrays;

/**
 * Where the keys and values of absolute positions live during one hybrid call: the sinks buffer, the ring buffer
 * (positions before the call; values row-major, keys transposed [headDim][window] so that one query's logits
 * against the whole window are a vectorized matrix-vector product), or the call's input (positions >= start).
 * Reused across calls (no allocation); {@link #head} is what the hybrid ops read.
 */
final class Tokens {
    private final CpuState s;
    private final int sinks;
    private final int window;
    private final int headDim;
    private final int kvWidth;
    private final Head[] heads;
    float[] k;
    float[] v;
    long start;

    Tokens(CpuState s) {
        this.s = s;
        this.sinks = s.spec.sinks();
        this.window = s.spec.window();
        this.headDim = s.shape.headDim();
        this.kvWidth = s.shape.kvWidth();
        this.heads = new Head[s.shape.numKvHeads()];
        for (int h = 0; h < heads.length; h++) heads[h] = new Head(h);
    }

    /** The tokens of one KV head, as the hybrid ops see them. */
    ExactTokens head(int kvh) {
        return heads[kvh];
    }

    private final class Head implements ExactTokens {
        private final int kvh;

        Head(int kvh) {
            this.kvh = kvh;
        }

        @Override
        public void copyKey(long pos, float[] dst, int dstOff, int dstStride) {
            Tokens.this.copyKey(pos, kvh, dst, dstOff, dstStride);
        }

        @Override
        public float[] values(long pos) {
            return Tokens.this.values(pos, kvh);
        }

        @Override
        public int valueOffset(long pos) {
            return offset(pos, kvh);
        }

        /** Ring positions: one matrix-vector product over the transposed window keys, made on the first one. */
        @Override
        public float logits(long first, long end, float[] q, int qOff, float scale, float[] out, int outOff) {
            float max = Float.NEGATIVE_INFINITY;
            boolean ringDone = false;
            int t = outOff;
            for (long pos = first; pos < end; pos++) {
                float l;
                if (pos >= start || pos < sinks) {
                    l = scale * VectorOps.dot(q, qOff, rowKeys(pos, kvh), offset(pos, kvh), headDim);
                } else {
                    float[] all = s.windowLogits[kvh];
                    if (!ringDone) {
                        float[] ring = s.windowKeys[kvh];
                        Arrays.fill(all, 0f);
                        VectorOps.addWeightedRows(q, qOff, ring, 0, window, headDim, all, 0, window);
                        ringDone = true;
                    }
                    l = scale * all[slot(pos)];
                }
                out[t++] = l;
                max = Math.max(max, l);
            }
            return max;
        }

        /**
         * Runs of rows at one stride in one array (the sinks, the ring up to its wrap, the call's rows) each take one
         * register-blocked weighted sum: the same operations in the same order as an axpy per position.
         */
        @Override
        public void addValues(long first, long end, float[] w, int wOff, float[] out, int d) {
            long pos = first;
            while (pos < end) {
                long runEnd;
                int stride;
                if (pos >= start) {
                    runEnd = end;
                    stride = kvWidth;
                } else if (pos < sinks) {
                    runEnd = Math.min(end, Math.min(sinks, start));
                    stride = headDim;
                } else {
                    runEnd = Math.min(
                            Math.min(end, start), pos + window - slot(pos)); // the ring wraps after its last slot
                    stride = headDim;
                }
                VectorOps.addWeightedRows(
                        w,
                        wOff + (int) (pos - first),
                        Tokens.this.values(pos, kvh),
                        offset(pos, kvh),
                        stride,
                        (int) (runEnd - pos),
                        out,
                        0,
                        d);
                pos = runEnd;
            }
        }
    }

    Tokens reset(float[] keys, float[] values) {
        this.k = keys;
        this.v = values;
        this.start = s.position;
        return this;
    }

    /** Keys of the call or of the sinks (row-major); window keys are stored transposed, see copyKey. */
    float[] rowKeys(long pos, int kvh) {
        if (pos >= start) return k;
        if (pos < sinks) return s.sinkKeys[kvh];
        throw new IllegalStateException("window keys are stored transposed");
    }

    /** Copies the key of position pos into dst[dstOff + i*dstStride], i < headDim. */
    void copyKey(long pos, int kvh, float[] dst, int dstOff, int dstStride) {
        if (pos >= start || pos < sinks) {
            float[] src = pos >= start ? k : s.sinkKeys[kvh];
            int off = offset(pos, kvh);
            for (int i = 0; i < headDim; i++) dst[dstOff + i * dstStride] = src[off + i];
        } else {
            float[] ring = s.windowKeys[kvh];
            int slot = slot(pos);
            for (int i = 0; i < headDim; i++) dst[dstOff + i * dstStride] = ring[i * window + slot];
        }
    }

    int slot(long pos) {
        return (int) ((pos - sinks) % window);
    }

    float[] values(long pos, int kvh) {
        if (pos >= start) return v;
        return pos < sinks ? s.sinkValues[kvh] : s.windowValues[kvh];
    }

    /** Offset of the row of pos in {@link #values} (and in {@link #rowKeys} for call and sink positions). */
    int offset(long pos, int kvh) {
        if (pos >= start) return (int) (pos - start) * kvWidth + kvh * headDim;
        if (pos < sinks) return (int) pos * headDim;
        return slot(pos) * headDim;
    }
}
