package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.CentroidFeatureMap;
import io.dijiang4j.attention.features.ProjectionFeatureMap;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The header every serialized CPU state starts with: what it belongs to, so that a state of another layer shape or
 * spec is refused with a message naming the difference instead of being misread.
 */
final class StateHeader {
    static final int MAGIC = 0x444a5354; // "DJST"
    static final int VERSION = 1;
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
        out.putLong(fingerprint(spec));
        out.putLong(position);
    }

    /**
     * A hash of everything in the spec that gives a state its meaning, stable across JVMs and machines (FNV-1a over
     * values, never identity hash codes). The block size is left out: a state prefilled with one block size
     * continues correctly under another.
     */
    static long fingerprint(AttentionSpec spec) {
        Fnv h = new Fnv();
        h.add(spec.method().ordinal()).add(spec.sinks()).add(spec.window()).add(spec.causal() ? 1 : 0);
        h.add(Double.doubleToLongBits(spec.scale()));
        h.add(spec.decay() == null ? -1 : spec.decay().length);
        if (spec.decay() != null) for (double x : spec.decay()) h.add(Double.doubleToLongBits(x));
        h.add(spec.memoryGain() == null ? -1 : spec.memoryGain().length);
        if (spec.memoryGain() != null) for (double x : spec.memoryGain()) h.add(Double.doubleToLongBits(x));
        addMap(h, spec.featureMap());
        // added only when used, so that states saved before these existed keep their fingerprint
        if (spec.kvHeadMaps() != null) {
            h.add(spec.kvHeadMaps().length);
            for (FeatureMap map : spec.kvHeadMaps()) addMap(h, map);
        }
        if (spec.exactCache() > 0)
            h.add(spec.exactCache()).add(spec.cachePolicy().ordinal());
        return h.value;
    }

    private static void addMap(Fnv h, FeatureMap map) {
        for (char c : map.name().toCharArray()) h.add(c);
        h.add(map.inputDim()).add(map.numFeatures());
        if (map instanceof ProjectionFeatureMap p) {
            h.add(p.normalization().ordinal());
            for (float[] a :
                    new float[][] {p.queryProjection(), p.keyProjection(), p.queryLogWeights(), p.keyLogWeights()}) {
                for (float x : a) h.add(Float.floatToIntBits(x));
            }
        } else if (map instanceof CentroidFeatureMap c) { // fitted maps: a state of another calibration is refused
            for (float[] a : new float[][] {c.scaledCentroids(), c.logWeights()}) {
                for (float x : a) h.add(Float.floatToIntBits(x));
            }
        }
    }

    private static final class Fnv {
        long value = 0xcbf29ce484222325L;

        Fnv add(long x) {
            for (int i = 0; i < 8; i++) {
                value ^= (x >>> (8 * i)) & 0xff;
                value *= 0x100000001b3L;
            }
            return this;
        }
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
        if (in.getLong() != fingerprint(spec)) {
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
