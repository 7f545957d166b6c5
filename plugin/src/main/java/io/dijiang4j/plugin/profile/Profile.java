package io.dijiang4j.plugin.profile;

import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.plugin.generation.GenerationOptions;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * A typed profile (see README "Configuration" for every key).
 *
 * @param model a local Jlama model directory, or {@code hf:owner/name} for Jlama's downloader (null only for a profile
 *     installed into a model loaded elsewhere, {@code DiJiang.install})
 * @param modelCache where {@code hf:} models are downloaded
 * @param mode softmax, dijiang or hybrid
 * @param layers which layers run the mode; the others keep softmax
 * @param featureMap feature map kind
 * @param features number of features m per head
 * @param sinks hybrid: first tokens always attended exactly
 * @param window hybrid: recent tokens attended exactly
 * @param exactCache hybrid: per KV head, evicted tokens kept exact beyond the window (0 = none)
 * @param cachePolicy hybrid: which evicted tokens the exact cache keeps
 * @param calibration the calibration sidecar to use (hybrid and dijiang), none, or the one beside the model
 * @param blockSize chunked-prefill block size
 * @param decay per-position decay lambda in (0, 1] of the kernelized memory (1 = none)
 * @param backend auto, cpu or cuda
 * @param featureSeed seed of the random feature maps (key {@code feature_seed})
 * @param checkWeights scan the weights for NaN and infinity when the model loads (key {@code check_weights}, default
 *     true; the cheap checks of file sizes, shapes and dtypes always run)
 * @param generation default generation parameters (keys {@code max_tokens}, {@code temperature} (default {@link
 *     GenerationOptions#DEFAULT_TEMPERATURE}), {@code top_p}, {@code top_k}; {@code seed}, the sampling seed, null
 *     when the key is not given)
 * @param source where it was read and which keys were set (file and line of each), for error messages and the
 *     calibration sidecar's precedence; may be empty
 */
public record Profile(
        ModelReference model,
        Path modelCache,
        Mode mode,
        LayerSelection layers,
        FeatureMapKind featureMap,
        int features,
        int sinks,
        int window,
        int exactCache,
        ExactCachePolicy cachePolicy,
        CalibrationChoice calibration,
        int blockSize,
        double decay,
        Backend backend,
        long featureSeed,
        boolean checkWeights,
        GenerationOptions generation,
        Source source) {

    /** The default of both seeds: {@code feature_seed}, and {@code seed} where a sampling stream must start somewhere. */
    public static final long DEFAULT_SEED = 42L;

    /**
     * The file a profile came from and the keys set in it or since: each with its line in the file, 0 for a key set
     * in code (a {@code with...} method). Defaults are not listed.
     */
    public record Source(Path file, Map<String, Integer> keyLines) {
        public static final Source NONE = new Source(null, Map.of());

        public Source {
            keyLines = Map.copyOf(keyLines);
        }

        /** Whether the profile sets {@code key} (in its file or in code) rather than taking the default. */
        public boolean sets(String key) {
            return keyLines.containsKey(key);
        }

        /** This source with {@code keys} marked as set in code (a key read from the file keeps its line). */
        Source withSet(String... keys) {
            Map<String, Integer> lines = new java.util.HashMap<>(keyLines);
            for (String key : keys) lines.putIfAbsent(key, 0);
            return new Source(file, lines);
        }

        /** An error about {@code key}, naming the file and line when known. */
        public ProfileException error(String key, String message) {
            return ProfileException.at(file, keyLines.getOrDefault(key, 0), key, message);
        }
    }

    public Profile {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(layers, "layers");
        Objects.requireNonNull(generation, "generation");
        Objects.requireNonNull(cachePolicy, "cachePolicy");
        Objects.requireNonNull(calibration, "calibration");
        Objects.requireNonNull(featureMap, "featureMap");
        Objects.requireNonNull(backend, "backend");
        if (exactCache < 0) throw new IllegalArgumentException("exactCache must be >= 0: " + exactCache);
        if (source == null) source = Source.NONE;
    }

    /**
     * Defaults for everything but the model: hybrid, all layers, wdcf with 64 features, 4 sinks, window 64, no exact
     * cache (heavy-hitter policy when one is set), the calibration sidecar beside the model if there is one.
     */
    public static Profile defaults(ModelReference model) {
        return new Profile(
                model,
                defaultModelCache(),
                Mode.HYBRID,
                LayerSelection.all(),
                defaultFeatureMap(Mode.HYBRID),
                64,
                4,
                64,
                0,
                ExactCachePolicy.HEAVY_HITTER,
                CalibrationChoice.AUTO,
                64,
                1.0,
                Backend.AUTO,
                DEFAULT_SEED,
                true,
                GenerationOptions.defaults(),
                Source.NONE);
    }

    /**
     * The memory when the profile sets no {@code feature_map}: in mode hybrid the online centroid memory (it fits
     * itself to the evicted tokens, so it needs no sidecar; on stories260K it cuts the plain window's KL six-fold,
     * where uncalibrated wdcf multiplies perplexity by about 50), else wdcf (pure linear attention needs a fixed map).
     */
    public static FeatureMapKind defaultFeatureMap(Mode mode) {
        return mode == Mode.HYBRID ? FeatureMapKind.ONLINE : FeatureMapKind.WDCF;
    }

    /**
     * Where a session's random stream starts when a generation gives no seed: the profile's {@code seed}, else
     * {@link #DEFAULT_SEED}.
     */
    public long samplingSeed() {
        return generation.seed() != null ? generation.seed() : DEFAULT_SEED;
    }

    static Path defaultModelCache() {
        return Path.of(System.getProperty("user.home"), ".dijiang4j", "models");
    }

    public Profile withModel(ModelReference newModel) {
        Copy c = new Copy(this, "model");
        c.model = newModel;
        return c.build();
    }

    /** Another mode; a feature map the profile does not set follows the mode's default. */
    public Profile withMode(Mode newMode) {
        Copy c = new Copy(this, "mode");
        c.mode = newMode;
        if (!source.sets("feature_map")) c.featureMap = defaultFeatureMap(newMode);
        return c.build();
    }

    /**
     * Spends {@code budget} exact tokens per head ({@link ExactBudget#split}): the sinks, window and exact cache the
     * profile sets stay, the others are derived.
     */
    public Profile withBudget(int budget) {
        ExactBudget split = ExactBudget.split(
                budget,
                source.sets("sinks") ? sinks : null,
                source.sets("window") ? window : null,
                source.sets("exact_cache") ? exactCache : null);
        Copy c = new Copy(this, "budget");
        c.sinks = split.sinks();
        c.window = split.window();
        c.exactCache = split.exactCache();
        return c.build();
    }

    public Profile withLayers(LayerSelection newLayers) {
        Copy c = new Copy(this, newLayers.kind() == LayerSelection.Kind.ALL_BUT ? "except_layers" : "layers");
        c.layers = newLayers;
        return c.build();
    }

    public Profile withHybrid(int newSinks, int newWindow) {
        Copy c = new Copy(this, "sinks", "window");
        c.sinks = newSinks;
        c.window = newWindow;
        return c.build();
    }

    public Profile withFeatures(FeatureMapKind newFeatureMap, int newFeatures) {
        Copy c = new Copy(this, "feature_map", "features");
        c.featureMap = newFeatureMap;
        c.features = newFeatures;
        return c.build();
    }

    public Profile withBackend(Backend newBackend) {
        Copy c = new Copy(this, "backend");
        c.backend = newBackend;
        return c.build();
    }

    public Profile withGeneration(GenerationOptions newGeneration) {
        Copy c = new Copy(this);
        c.generation = newGeneration;
        return c.build();
    }

    /** Hybrid: keep up to {@code size} evicted tokens per KV head exact, chosen by {@code policy}. */
    public Profile withExactCache(int size, ExactCachePolicy policy) {
        Copy c = new Copy(this, "exact_cache", "cache_policy");
        c.exactCache = size;
        c.cachePolicy = policy;
        return c.build();
    }

    /** Whether loading scans the weights for NaN and infinity (key {@code check_weights}). */
    public Profile withCheckWeights(boolean check) {
        Copy c = new Copy(this, "check_weights");
        c.checkWeights = check;
        return c.build();
    }

    /** Which calibration sidecar to use (none, a file, or the one beside the model). */
    public Profile withCalibration(CalibrationChoice newCalibration) {
        Copy c = new Copy(this, "calibration");
        c.calibration = newCalibration;
        return c.build();
    }

    /** A mutable copy of every component, so that each wither changes only its own (and marks its keys set). */
    private static final class Copy {
        ModelReference model;
        Path modelCache;
        Mode mode;
        LayerSelection layers;
        FeatureMapKind featureMap;
        int features;
        int sinks;
        int window;
        int exactCache;
        ExactCachePolicy cachePolicy;
        CalibrationChoice calibration;
        int blockSize;
        double decay;
        Backend backend;
        long featureSeed;
        boolean checkWeights;
        GenerationOptions generation;
        Source source;

        Copy(Profile p, String... setKeys) {
            model = p.model;
            modelCache = p.modelCache;
            mode = p.mode;
            layers = p.layers;
            featureMap = p.featureMap;
            features = p.features;
            sinks = p.sinks;
            window = p.window;
            exactCache = p.exactCache;
            cachePolicy = p.cachePolicy;
            calibration = p.calibration;
            blockSize = p.blockSize;
            decay = p.decay;
            backend = p.backend;
            featureSeed = p.featureSeed;
            checkWeights = p.checkWeights;
            generation = p.generation;
            source = setKeys.length == 0 ? p.source : p.source.withSet(setKeys);
        }

        Profile build() {
            return new Profile(
                    model,
                    modelCache,
                    mode,
                    layers,
                    featureMap,
                    features,
                    sinks,
                    window,
                    exactCache,
                    cachePolicy,
                    calibration,
                    blockSize,
                    decay,
                    backend,
                    featureSeed,
                    checkWeights,
                    generation,
                    source);
        }
    }
}
