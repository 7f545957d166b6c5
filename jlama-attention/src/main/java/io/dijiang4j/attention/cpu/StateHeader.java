package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The header every serialized CPU state starts with: what it belongs to, so that a state of another layer shape or
 * spec is refused with a message naming the difference instead of being misread.
 */
final class StateHeader {
    static final int MAGIC = 0x444a5354; // "DJST"
    static final int VERSION = 2; // 2: the spec fingerprint hashes enums by name (AttentionSpec#fingerprint)
    static final int BYTES = 4 * 8 + 8 + 8;

    private StateHeader() {}

    static ByteBuffer allocate(int payload) {
        return ByteBuffer.allocate(BYTES + payload).order(ByteOrder.LITTLE_ENDIAN);
    }

    static void write(ByteBuffer out, AttentionShape shape, AttentionSpec spec, long position) {
        out.putInt(MAGIC);
        out.putInt(VERSION);
        out.putInt(spec.method().ordinal());
        out.putInt(shape.numHeads());
        out.putInt(shape.numKvHeads());
        out.putInt(shape.headDim());
        out.putInt(spec.featureMap().numFeatures());
        out.putInt(spec.window());
        out.putLong(spec.fingerprint());
        out.putLong(position);
    }

    /** Checks the header against this kernel; returns the position. */
    static long read(ByteBuffer in, AttentionShape shape, AttentionSpec spec, int payload) {
        if (in.remaining() < BYTES || in.getInt() != MAGIC) {
            throw new IllegalArgumentException("not a serialized dijiang4j CPU attention state");
        }
        int version = in.getInt();
        if (version != VERSION) throw new IllegalArgumentException("unsupported attention state version " + version);
        int method = in.getInt();
        if (method != spec.method().ordinal()) {
            throw new IllegalArgumentException("state was saved by a "
                    + (method >= 0 && method < AttentionSpec.Method.values().length
                            ? AttentionSpec.Method.values()[method]
                            : "unknown")
                    + " kernel, this kernel is " + spec.method());
        }
        AttentionShape saved = new AttentionShape(in.getInt(), in.getInt(), in.getInt());
        if (!saved.equals(shape)) {
            throw new IllegalArgumentException("state was saved for " + saved + ", this kernel has " + shape);
        }
        int m = in.getInt();
        if (m != spec.featureMap().numFeatures()) {
            throw new IllegalArgumentException("state was saved with " + m + " features, this kernel has "
                    + spec.featureMap().numFeatures());
        }
        int window = in.getInt();
        if (window != spec.window()) {
            throw new IllegalArgumentException(
                    "state was saved with window " + window + ", this kernel has " + spec.window());
        }
        if (in.getLong() != spec.fingerprint()) {
            throw new IllegalArgumentException("state was saved for a different attention spec (feature map, decay,"
                    + " scale, sinks, gains, causality or exact cache differ)");
        }
        long position = in.getLong();
        if (position < 0) throw new IllegalArgumentException("corrupt attention state: negative position");
        if (in.remaining() != payload) {
            throw new IllegalArgumentException("attention state has " + in.remaining() + " payload bytes, expected "
                    + payload + " (truncated or corrupt)");
        }
        return position;
    }
}
