package io.dijiang4j.attention;

import java.nio.charset.StandardCharsets;

/**
 * A 64-bit FNV-1a hash over values, for what a saved attention state belongs to: it must be the same in every JVM,
 * on every machine, so enums enter by {@code name()}, doubles and floats by their raw bits, strings by their UTF-8
 * bytes, feature maps by their parameters ({@link FeatureMap#addTo}); never identity or enum hash codes, which
 * change from one process to the next.
 */
public final class SpecFingerprint {
    private long value = 0xcbf29ce484222325L;

    /**
     * The fingerprint of everything in the spec that gives a state its meaning. The block size is left out: a state
     * prefilled with one block size continues correctly under another. The cache policy counts only with a cache.
     */
    public static long of(AttentionSpec spec) {
        SpecFingerprint h = new SpecFingerprint();
        h.add(spec.method()).add(spec.sinks()).add(spec.window()).add(spec.causal() ? 1 : 0);
        h.add(spec.scale()).add(spec.decay()).add(spec.memoryGain());
        spec.featureMap().addTo(h);
        h.add(spec.kvHeadMaps() == null ? -1 : spec.kvHeadMaps().length);
        if (spec.kvHeadMaps() != null) for (FeatureMap map : spec.kvHeadMaps()) map.addTo(h);
        h.add(spec.exactCache());
        if (spec.exactCache() > 0) h.add(spec.cachePolicy());
        return h.value();
    }

    public long value() {
        return value;
    }

    public SpecFingerprint add(long x) {
        for (int i = 0; i < 8; i++) {
            value ^= (x >>> (8 * i)) & 0xff;
            value *= 0x100000001b3L;
        }
        return this;
    }

    public SpecFingerprint add(double x) {
        return add(Double.doubleToLongBits(x));
    }

    public SpecFingerprint add(String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        add(bytes.length);
        for (byte b : bytes) add(b);
        return this;
    }

    public SpecFingerprint add(Enum<?> e) {
        return add(e.name());
    }

    /** The length (-1 for null), then every value's bits. */
    public SpecFingerprint add(double[] values) {
        if (values == null) return add(-1);
        add(values.length);
        for (double x : values) add(x);
        return this;
    }

    /** The length (-1 for null), then every value's bits. */
    public SpecFingerprint add(float[] values) {
        if (values == null) return add(-1);
        add(values.length);
        for (float x : values) add(Float.floatToIntBits(x));
        return this;
    }
}
