package io.dijiang4j.attention.ops.hybrid;

import java.nio.ByteBuffer;

/**
 * The exact cache of one KV head ({@code AttentionSpec.exactCache() = C > 0}): up to C tokens that left the window
 * kept exact (raw key and value, position, priority; slots {@code [0, count)} in use) and, for heavy hitters, the
 * attention accumulated so far by each window token, indexed by {@code (pos - sinks) mod window}. The policy that
 * fills it is {@link FusedRecurrentHybridAttention#admit}; {@link NaiveHybridAttention} states it from the definition.
 */
public final class ExactCache {
    private final int capacity;
    private final int headDim;
    private final int sinks;
    private final int window;
    int count;
    final long[] positions;
    final double[] priorities;
    final float[] keys; // [C][d]
    final float[] values; // [C][d]
    final double[] windowPriorities; // [window]

    public ExactCache(int capacity, int headDim, int sinks, int window) {
        this.capacity = capacity;
        this.headDim = headDim;
        this.sinks = sinks;
        this.window = window;
        positions = new long[capacity];
        priorities = new double[capacity];
        keys = new float[capacity * headDim];
        values = new float[capacity * headDim];
        windowPriorities = new double[window];
    }

    /** Tokens held now. */
    public int count() {
        return count;
    }

    /** The priorities of the held tokens (slots [0, count)) and, beyond, of unused slots. */
    public double[] priorities() {
        return priorities;
    }

    int windowSlot(long pos) {
        return (int) ((pos - sinks) % window);
    }

    public static long serializedBytes(int capacity, int headDim, int window) {
        return 4 + (8 + 8 + 2L * 4 * headDim) * capacity + 8L * window;
    }

    public void write(ByteBuffer out) {
        out.putInt(count);
        for (long p : positions) out.putLong(p);
        for (double p : priorities) out.putDouble(p);
        for (float x : keys) out.putFloat(x);
        for (float x : values) out.putFloat(x);
        for (double p : windowPriorities) out.putDouble(p);
    }

    /** Reads what {@link #write} wrote; {@code kvHead} names the cache in the error of a corrupt count. */
    public void read(ByteBuffer in, int kvHead) {
        int n = in.getInt();
        if (n < 0 || n > capacity) {
            throw new IllegalArgumentException("corrupt attention state: exact cache of KV head " + kvHead + " holds "
                    + n + " tokens, its size is " + capacity);
        }
        count = n;
        for (int i = 0; i < positions.length; i++) positions[i] = in.getLong();
        for (int i = 0; i < priorities.length; i++) priorities[i] = in.getDouble();
        for (int i = 0; i < keys.length; i++) keys[i] = in.getFloat();
        for (int i = 0; i < values.length; i++) values[i] = in.getFloat();
        for (int i = 0; i < windowPriorities.length; i++) windowPriorities[i] = in.getDouble();
    }

    public void copyFrom(ExactCache other) {
        count = other.count;
        System.arraycopy(other.positions, 0, positions, 0, positions.length);
        System.arraycopy(other.priorities, 0, priorities, 0, priorities.length);
        System.arraycopy(other.keys, 0, keys, 0, keys.length);
        System.arraycopy(other.values, 0, values, 0, values.length);
        System.arraycopy(other.windowPriorities, 0, windowPriorities, 0, windowPriorities.length);
    }

    int headDim() {
        return headDim;
    }
}
