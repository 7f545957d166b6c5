package io.dijiang4j.attention;

import java.util.Arrays;
import java.util.Objects;

/**
 * What an attention kernel computes, independent of the backend that runs it.
 *
 * @param method LINEAR (pure kernelized, normalized) or HYBRID (sinks + exact window + kernelized memory)
 * @param featureMap phi, applied to sqrt(scale)*q and sqrt(scale)*k so that phi(q).phi(k) approximates
 *     exp(scale q.k)
 * @param decay per query head lambda in (0, 1], or null for no decay (robust form, never lambda^-n)
 * @param sinks HYBRID: first tokens always kept exact
 * @param window HYBRID: most recent tokens kept exact
 * @param blockSize chunked-prefill block (Lightning tile) size
 * @param scale softmax temperature tau, usually 1/sqrt(headDim)
 * @param memoryGain HYBRID: per query head weight g_h of the kernelized memory (null = 1 for every head)
 * @param causal false only for encoder (non-causal) use of the naive and chunked forms
 * @param kvHeadMaps HYBRID/LINEAR: a feature map per KV head (fitted maps differ per head), or null for {@code
 *     featureMap} on every head; each has the same input size and feature count as {@code featureMap}
 * @param exactCache HYBRID: per KV head, at most this many evicted tokens kept exact (0 = none)
 * @param cachePolicy HYBRID: which evicted tokens the exact cache keeps
 */
public record AttentionSpec(
        Method method,
        FeatureMap featureMap,
        double[] decay,
        int sinks,
        int window,
        int blockSize,
        double scale,
        double[] memoryGain,
        boolean causal,
        FeatureMap[] kvHeadMaps,
        int exactCache,
        ExactCachePolicy cachePolicy) {

    public enum Method {
        LINEAR,
        HYBRID
    }

    /** A spec without per-head maps and without an exact cache. */
    public AttentionSpec(
            Method method,
            FeatureMap featureMap,
            double[] decay,
            int sinks,
            int window,
            int blockSize,
            double scale,
            double[] memoryGain,
            boolean causal) {
        this(
                method,
                featureMap,
                decay,
                sinks,
                window,
                blockSize,
                scale,
                memoryGain,
                causal,
                null,
                0,
                ExactCachePolicy.HEAVY_HITTER);
    }

    public AttentionSpec {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(featureMap, "featureMap");
        Objects.requireNonNull(cachePolicy, "cachePolicy");
        if (exactCache < 0) throw new IllegalArgumentException("exactCache must be >= 0");
        if (exactCache > 0 && method != Method.HYBRID) {
            throw new IllegalArgumentException("an exact cache needs the HYBRID method");
        }
        if (kvHeadMaps != null) {
            for (FeatureMap m : kvHeadMaps) {
                if (m == null || m.inputDim() != featureMap.inputDim() || m.numFeatures() != featureMap.numFeatures()) {
                    throw new IllegalArgumentException("every per-KV-head feature map needs input size "
                            + featureMap.inputDim() + " and " + featureMap.numFeatures() + " features");
                }
            }
        }
        if (sinks < 0 || window < 0) throw new IllegalArgumentException("sinks and window must be >= 0");
        if (blockSize < 1) throw new IllegalArgumentException("blockSize must be >= 1");
        if (!(scale > 0) || Double.isInfinite(scale)) throw new IllegalArgumentException("scale must be > 0");
        if (decay != null) {
            for (double l : decay) {
                if (!(l > 0 && l <= 1)) throw new IllegalArgumentException("decay must be in (0, 1]: " + l);
            }
        }
    }

    public static AttentionSpec linear(FeatureMap map, int headDim) {
        return new AttentionSpec(Method.LINEAR, map, null, 0, 0, 64, 1.0 / Math.sqrt(headDim), null, true);
    }

    public static AttentionSpec hybrid(FeatureMap map, int headDim, int sinks, int window) {
        return new AttentionSpec(Method.HYBRID, map, null, sinks, window, 64, 1.0 / Math.sqrt(headDim), null, true);
    }

    public AttentionSpec withDecay(double[] perHeadDecay) {
        return new AttentionSpec(
                method,
                featureMap,
                perHeadDecay,
                sinks,
                window,
                blockSize,
                scale,
                memoryGain,
                causal,
                kvHeadMaps,
                exactCache,
                cachePolicy);
    }

    public AttentionSpec withBlockSize(int size) {
        return new AttentionSpec(
                method,
                featureMap,
                decay,
                sinks,
                window,
                size,
                scale,
                memoryGain,
                causal,
                kvHeadMaps,
                exactCache,
                cachePolicy);
    }

    public AttentionSpec withScale(double tau) {
        return new AttentionSpec(
                method,
                featureMap,
                decay,
                sinks,
                window,
                blockSize,
                tau,
                memoryGain,
                causal,
                kvHeadMaps,
                exactCache,
                cachePolicy);
    }

    public AttentionSpec withMemoryGain(double[] perHeadGain) {
        return new AttentionSpec(
                method,
                featureMap,
                decay,
                sinks,
                window,
                blockSize,
                scale,
                perHeadGain,
                causal,
                kvHeadMaps,
                exactCache,
                cachePolicy);
    }

    /** One feature map per KV head (fitted maps differ per head); checked against the layer's KV heads by kernels. */
    public AttentionSpec withKvHeadMaps(FeatureMap[] maps) {
        return new AttentionSpec(
                method,
                featureMap,
                decay,
                sinks,
                window,
                blockSize,
                scale,
                memoryGain,
                causal,
                maps,
                exactCache,
                cachePolicy);
    }

    /** Keeps up to {@code size} evicted tokens per KV head exact, chosen by {@code policy}. */
    public AttentionSpec withExactCache(int size, ExactCachePolicy policy) {
        return new AttentionSpec(
                method,
                featureMap,
                decay,
                sinks,
                window,
                blockSize,
                scale,
                memoryGain,
                causal,
                kvHeadMaps,
                size,
                policy);
    }

    /** The feature map of KV head {@code kvHead}. */
    public FeatureMap featureMapOf(int kvHead) {
        return kvHeadMaps == null ? featureMap : kvHeadMaps[kvHead];
    }

    public double decayOf(int head) {
        return decay == null ? 1.0 : decay[head];
    }

    public double memoryGainOf(int head) {
        return memoryGain == null ? 1.0 : memoryGain[head];
    }

    /** What a saved state of this spec belongs to, the same in every process: {@link SpecFingerprint#of}. */
    public long fingerprint() {
        return SpecFingerprint.of(this);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AttentionSpec s
                && method == s.method
                && featureMap.equals(s.featureMap)
                && Arrays.equals(decay, s.decay)
                && sinks == s.sinks
                && window == s.window
                && blockSize == s.blockSize
                && scale == s.scale
                && Arrays.equals(memoryGain, s.memoryGain)
                && causal == s.causal
                && Arrays.equals(kvHeadMaps, s.kvHeadMaps)
                && exactCache == s.exactCache
                && cachePolicy == s.cachePolicy;
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                method.name(),
                featureMap,
                Arrays.hashCode(decay),
                sinks,
                window,
                blockSize,
                scale,
                Arrays.hashCode(memoryGain),
                causal,
                Arrays.hashCode(kvHeadMaps),
                exactCache,
                cachePolicy.name());
    }
}
