package io.dijiang4j.plugin.calibration;

import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.CentroidFeatureMap;
import io.dijiang4j.attention.features.FeatureMaps;
import io.dijiang4j.attention.features.OnlineCentroidMap;
import io.dijiang4j.plugin.profile.FeatureMapKind;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * What {@code dijiang calibrate} fitted for one model: per layer the hybrid's exact budget (sinks, window, exact
 * cache) and its kernelized memory (a feature map per KV head, a gain per query head, 0 = memory off for that
 * head), plus where it came from and what it measured. Stored as a sidecar by {@link CalibrationFile}; turned into
 * one {@link AttentionSpec} per layer by {@link #spec}.
 *
 * <p>Numbers are float, as stored, so a calibration in memory and the same one read back give equal specs.
 *
 * @param model the model it was made for
 * @param map the memory map family of every layer
 * @param settings how it was made
 * @param layers one entry per model layer
 * @param results measured summary values (e.g. calibration KL of the whole profile), free-form, for reports
 */
public record Calibration(
        ModelInfo model, MapInfo map, Settings settings, List<Layer> layers, Map<String, Double> results) {

    /** Version 2 added a layer's online memory ({@link Layer#onlineClusters()}); version 1 files still load. */
    public static final int FORMAT_VERSION = 2;

    /**
     * The model a calibration belongs to.
     *
     * @param name the model directory's name (for messages)
     * @param fingerprint {@link ModelFingerprint}
     * @param scale softmax temperature tau of its attention
     */
    public record ModelInfo(
            String name, String fingerprint, int layers, int heads, int kvHeads, int headSize, double scale) {
        public ModelInfo {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(fingerprint, "fingerprint");
            if (layers < 1 || heads < 1 || kvHeads < 1 || headSize < 1 || heads % kvHeads != 0) {
                throw new IllegalArgumentException("bad model shape: " + layers + " layers, " + heads + " heads, "
                        + kvHeads + " KV heads of size " + headSize);
            }
            if (!(scale > 0) || Double.isInfinite(scale)) throw new IllegalArgumentException("bad scale " + scale);
        }
    }

    /**
     * The memory's feature map family.
     *
     * @param kind {@code centroids} (per KV head, data-fitted) or a seeded kind
     * @param features m
     * @param seed seed of a seeded kind (recorded for centroids too: the k-means seed)
     */
    public record MapInfo(FeatureMapKind kind, int features, long seed) {
        public MapInfo {
            Objects.requireNonNull(kind, "kind");
            if (features < 1) throw new IllegalArgumentException("features must be >= 1: " + features);
        }

        public boolean centroids() {
            return kind == FeatureMapKind.CENTROIDS;
        }
    }

    /**
     * How the calibration was made.
     *
     * @param source "sampled" (texts the model sampled itself) or the text file's name
     * @param texts number of calibration texts
     * @param tokens calibration positions in all
     * @param seed seed of sampling, k-means and pair subsampling
     * @param budget average exact tokens per head and layer (sinks + window + cache) the search was allowed
     */
    public record Settings(String source, int texts, long tokens, long seed, double budget) {
        public Settings {
            Objects.requireNonNull(source, "source");
        }
    }

    /**
     * One layer.
     *
     * @param sinks first tokens kept exact
     * @param window recent tokens kept exact
     * @param exactCache evicted tokens kept exact per KV head
     * @param cachePolicy which evicted tokens the cache keeps
     * @param gains per query head memory gain g_h >= 0 (0 = that head's memory off)
     * @param centroids per KV head, the centroids times sqrt(tau), row-major [m][d]; null for a seeded map
     * @param weights per KV head: the centroid map's log weights, or a seeded map's kernel weights (relative, >= 0)
     * @param windowError attention-output error (mean squared, over calibration rows) with the memory off
     * @param memoryError the same with the fitted memory (both without exact cache)
     * @param kl next-token KL(vanilla || this layer alone converted) on the calibration texts; NaN if not measured
     * @param onlineClusters 0: the memory is the fitted map above; L > 0: the online centroid memory of L clusters per
     *     KV head, which fits itself at run time (the calibration-free memory, chosen per layer where it scored
     *     better; the fitted map is then kept in the file but not used), the gains switching it on or off per head
     */
    public record Layer(
            int sinks,
            int window,
            int exactCache,
            ExactCachePolicy cachePolicy,
            float[] gains,
            float[][] centroids,
            float[][] weights,
            double windowError,
            double memoryError,
            double kl,
            int onlineClusters) {
        /** A layer whose memory is the fitted map. */
        public Layer(
                int sinks,
                int window,
                int exactCache,
                ExactCachePolicy cachePolicy,
                float[] gains,
                float[][] centroids,
                float[][] weights,
                double windowError,
                double memoryError,
                double kl) {
            this(sinks, window, exactCache, cachePolicy, gains, centroids, weights, windowError, memoryError, kl, 0);
        }

        public Layer {
            Objects.requireNonNull(cachePolicy, "cachePolicy");
            Objects.requireNonNull(gains, "gains");
            Objects.requireNonNull(weights, "weights");
            if (sinks < 0 || window < 0 || exactCache < 0) {
                throw new IllegalArgumentException("sinks, window and exact cache must be >= 0");
            }
            if (sinks + window < 1) throw new IllegalArgumentException("a hybrid layer needs sinks + window >= 1");
            for (float g : gains) {
                if (!(g >= 0) || Float.isInfinite(g)) throw new IllegalArgumentException("bad memory gain " + g);
            }
            if (centroids != null && centroids.length != weights.length) {
                throw new IllegalArgumentException("centroids and weights differ in KV heads");
            }
            if (onlineClusters < 0) throw new IllegalArgumentException("online clusters must be >= 0");
        }

        /** Whether the memory is the online centroid memory (not the fitted map). */
        public boolean online() {
            return onlineClusters > 0;
        }

        /** Exact tokens per head: sinks + window + cache. */
        public int exactTokens() {
            return sinks + window + exactCache;
        }

        /** Whether any query head uses the memory. */
        public boolean memory() {
            for (float g : gains) if (g > 0) return true;
            return false;
        }

        /** The same layer with another exact budget. */
        public Layer withBudget(int newWindow, int newCache, ExactCachePolicy policy) {
            return new Layer(
                    sinks,
                    newWindow,
                    newCache,
                    policy,
                    gains,
                    centroids,
                    weights,
                    windowError,
                    memoryError,
                    kl,
                    onlineClusters);
        }

        /** The same layer with every head's memory off. */
        public Layer withoutMemory() {
            return new Layer(
                    sinks,
                    window,
                    exactCache,
                    cachePolicy,
                    new float[gains.length],
                    centroids,
                    weights,
                    windowError,
                    memoryError,
                    kl,
                    onlineClusters);
        }

        /** The same layer with other memory gains (per query head; 0 = off). */
        public Layer withGains(float[] newGains) {
            return new Layer(
                    sinks,
                    window,
                    exactCache,
                    cachePolicy,
                    newGains,
                    centroids,
                    weights,
                    windowError,
                    memoryError,
                    kl,
                    onlineClusters);
        }

        /** The same layer with the online centroid memory of {@code clusters} per KV head (0: the fitted map). */
        public Layer withOnlineMemory(int clusters) {
            return new Layer(
                    sinks,
                    window,
                    exactCache,
                    cachePolicy,
                    gains,
                    centroids,
                    weights,
                    windowError,
                    memoryError,
                    kl,
                    clusters);
        }

        public Layer withKl(double newKl) {
            return new Layer(
                    sinks,
                    window,
                    exactCache,
                    cachePolicy,
                    gains,
                    centroids,
                    weights,
                    windowError,
                    memoryError,
                    newKl,
                    onlineClusters);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Layer l
                    && sinks == l.sinks
                    && window == l.window
                    && exactCache == l.exactCache
                    && cachePolicy == l.cachePolicy
                    && Arrays.equals(gains, l.gains)
                    && Arrays.deepEquals(centroids, l.centroids)
                    && Arrays.deepEquals(weights, l.weights)
                    && Double.compare(windowError, l.windowError) == 0
                    && Double.compare(memoryError, l.memoryError) == 0
                    && Double.compare(kl, l.kl) == 0
                    && onlineClusters == l.onlineClusters;
        }

        @Override
        public int hashCode() {
            return Objects.hash(
                    sinks,
                    window,
                    exactCache,
                    cachePolicy,
                    Arrays.hashCode(gains),
                    Arrays.deepHashCode(centroids),
                    Arrays.deepHashCode(weights),
                    windowError,
                    memoryError,
                    kl,
                    onlineClusters);
        }

        @Override
        public String toString() {
            return String.format(
                    Locale.ROOT,
                    "Layer[sinks %d, window %d, cache %d %s, memory %s%s, kl %.4g]",
                    sinks,
                    window,
                    exactCache,
                    cachePolicy,
                    memory(),
                    online() ? " (online, " + onlineClusters + " clusters)" : "",
                    kl);
        }
    }

    public Calibration {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(map, "map");
        Objects.requireNonNull(settings, "settings");
        layers = List.copyOf(layers);
        results = Map.copyOf(results);
        if (layers.size() != model.layers()) {
            throw new IllegalArgumentException("the model has " + model.layers() + " layers, got " + layers.size());
        }
        int m = map.features(), d = model.headSize();
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            String where = "layer " + i + ": ";
            if (l.gains().length != model.heads()) {
                throw new IllegalArgumentException(where + "needs " + model.heads() + " gains");
            }
            if (l.weights().length != model.kvHeads()) {
                throw new IllegalArgumentException(where + "needs weights for " + model.kvHeads() + " KV heads");
            }
            if (map.centroids() != (l.centroids() != null)) {
                throw new IllegalArgumentException(where + "centroids are given exactly for the centroid map");
            }
            for (int h = 0; h < model.kvHeads(); h++) {
                if (l.weights()[h].length != m) throw new IllegalArgumentException(where + "needs " + m + " weights");
                if (l.centroids() != null && l.centroids()[h].length != m * d) {
                    throw new IllegalArgumentException(where + "needs " + m + " x " + d + " centroids");
                }
            }
        }
    }

    /** Average exact tokens per head over the layers (what the budget bounds). */
    public double averageExactTokens() {
        return layers.stream().mapToInt(Layer::exactTokens).average().orElse(0);
    }

    /** The feature map of KV head {@code kvHead} of {@code layer}. */
    public FeatureMap featureMap(int layer, int kvHead) {
        Layer l = layers.get(layer);
        if (map.centroids()) {
            return new CentroidFeatureMap(model.headSize(), l.centroids()[kvHead], l.weights()[kvHead]);
        }
        FeatureMap base = FeatureMaps.create(map.kind().key(), model.headSize(), map.features(), map.seed());
        float[] w = l.weights()[kvHead];
        double[] factors = new double[w.length];
        for (int i = 0; i < w.length; i++) factors[i] = w[i];
        return FeatureMaps.withKernelWeights(base, factors);
    }

    /**
     * The spec of {@code layer}: hybrid (its sinks, window, exact cache, a map per KV head, a gain per query head)
     * or, for pure linear attention, the per-KV-head maps alone.
     */
    public AttentionSpec spec(int layer, boolean hybrid, int blockSize) {
        Layer l = layers.get(layer);
        if (l.online()) {
            if (!hybrid) {
                throw new IllegalArgumentException("layer " + layer + " of the calibration uses the online memory,"
                        + " which only the hybrid has (mode hybrid)");
            }
            AttentionSpec spec = AttentionSpec.hybrid(
                            new OnlineCentroidMap(model.headSize(), l.onlineClusters()),
                            model.headSize(),
                            l.sinks(),
                            l.window())
                    .withScale(model.scale())
                    .withBlockSize(blockSize)
                    .withMemoryGain(gainsOf(l));
            return l.exactCache() > 0 ? spec.withExactCache(l.exactCache(), l.cachePolicy()) : spec;
        }
        FeatureMap[] maps = new FeatureMap[model.kvHeads()];
        for (int h = 0; h < maps.length; h++) maps[h] = featureMap(layer, h);
        AttentionSpec spec = hybrid
                ? AttentionSpec.hybrid(maps[0], model.headSize(), l.sinks(), l.window())
                : AttentionSpec.linear(maps[0], model.headSize());
        spec = spec.withScale(model.scale()).withBlockSize(blockSize).withKvHeadMaps(maps);
        if (!hybrid) return spec;
        spec = spec.withMemoryGain(gainsOf(l));
        return l.exactCache() > 0 ? spec.withExactCache(l.exactCache(), l.cachePolicy()) : spec;
    }

    private static double[] gainsOf(Layer l) {
        double[] gains = new double[l.gains().length];
        for (int h = 0; h < gains.length; h++) gains[h] = l.gains()[h];
        return gains;
    }

    /** The same calibration with other layers. */
    public Calibration withLayers(List<Layer> newLayers) {
        return new Calibration(model, map, settings, newLayers, results);
    }

    public Calibration withResults(Map<String, Double> newResults) {
        return new Calibration(model, map, settings, layers, newResults);
    }
}
