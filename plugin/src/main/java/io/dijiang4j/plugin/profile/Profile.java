package io.dijiang4j.plugin.profile;

import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.plugin.generation.GenerationOptions;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * A typed profile (see README "Configuration" for every key).
 *
 * @param model a local Jlama model directory, or {@code hf:owner/name} for Jlama's downloader
 * @param modelCache where {@code hf:} models are downloaded
 * @param mode softmax, dijiang or hybrid
 * @param layers which layers run the mode; the others keep softmax
 * @param featureMap feature map kind ({@code FeatureMaps.KINDS})
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
 * @param generation default generation parameters (keys {@code max_tokens}, {@code temperature} (default {@link
 *     GenerationOptions#DEFAULT_TEMPERATURE}), {@code top_p}, {@code top_k}; {@code seed}, the sampling seed, null
 *     when the key is not given)
 * @param source where it was read (file and the line of each key), for error messages; may be empty
 */
public record Profile(
        String model,
        Path modelCache,
        Mode mode,
        LayerSelection layers,
        String featureMap,
        int features,
        int sinks,
        int window,
        int exactCache,
        ExactCachePolicy cachePolicy,
        CalibrationChoice calibration,
        int blockSize,
        double decay,
        String backend,
        long featureSeed,
        GenerationOptions generation,
        Source source) {

    /** The default of both seeds: {@code feature_seed}, and {@code seed} where a sampling stream must start somewhere. */
    public static final long DEFAULT_SEED = 42L;

    /** The file a profile came from and the line of each key in it. */
    public record Source(Path file, Map<String, Integer> keyLines) {
        public static final Source NONE = new Source(null, Map.of());

        public Source {
            keyLines = Map.copyOf(keyLines);
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
        if (exactCache < 0) throw new IllegalArgumentException("exactCache must be >= 0: " + exactCache);
        if (source == null) source = Source.NONE;
    }

    /**
     * Defaults for everything but the model: hybrid, all layers, wdcf with 64 features, 4 sinks, window 64, no exact
     * cache (heavy-hitter policy when one is set), the calibration sidecar beside the model if there is one.
     */
    public static Profile defaults(String model) {
        return new Profile(
                model,
                defaultModelCache(),
                Mode.HYBRID,
                LayerSelection.all(),
                "wdcf",
                64,
                4,
                64,
                0,
                ExactCachePolicy.HEAVY_HITTER,
                CalibrationChoice.AUTO,
                64,
                1.0,
                "auto",
                DEFAULT_SEED,
                GenerationOptions.defaults(),
                Source.NONE);
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

    public Profile withModel(String newModel) {
        Copy c = new Copy(this);
        c.model = newModel;
        return c.build();
    }

    public Profile withMode(Mode newMode) {
        Copy c = new Copy(this);
        c.mode = newMode;
        return c.build();
    }

    public Profile withLayers(LayerSelection newLayers) {
        Copy c = new Copy(this);
        c.layers = newLayers;
        return c.build();
    }

    public Profile withHybrid(int newSinks, int newWindow) {
        Copy c = new Copy(this);
        c.sinks = newSinks;
        c.window = newWindow;
        return c.build();
    }

    public Profile withFeatures(String newFeatureMap, int newFeatures) {
        Copy c = new Copy(this);
        c.featureMap = newFeatureMap;
        c.features = newFeatures;
        return c.build();
    }

    public Profile withBackend(String newBackend) {
        Copy c = new Copy(this);
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
        Copy c = new Copy(this);
        c.exactCache = size;
        c.cachePolicy = policy;
        return c.build();
    }

    /** Which calibration sidecar to use (none, a file, or the one beside the model). */
    public Profile withCalibration(CalibrationChoice newCalibration) {
        Copy c = new Copy(this);
        c.calibration = newCalibration;
        return c.build();
    }

    /** A mutable copy of every component, so that each wither changes only its own. */
    private static final class Copy {
        String model;
        Path modelCache;
        Mode mode;
        LayerSelection layers;
        String featureMap;
        int features;
        int sinks;
        int window;
        int exactCache;
        ExactCachePolicy cachePolicy;
        CalibrationChoice calibration;
        int blockSize;
        double decay;
        String backend;
        long featureSeed;
        GenerationOptions generation;
        Source source;

        Copy(Profile p) {
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
            generation = p.generation;
            source = p.source;
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
                    generation,
                    source);
        }
    }
}
