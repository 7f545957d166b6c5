package io.dijiang4j.plugin.profile;

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
 * @param blockSize chunked-prefill block size
 * @param decay per-position decay lambda in (0, 1] of the kernelized memory (1 = none)
 * @param backend auto, cpu or cuda
 * @param seed feature-map seed
 * @param generation default generation parameters
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
        int blockSize,
        double decay,
        String backend,
        long seed,
        GenerationOptions generation,
        Source source) {

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
        if (source == null) source = Source.NONE;
    }

    /** Defaults for everything but the model: hybrid, all layers, wdcf with 64 features, 4 sinks, window 64. */
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
                64,
                1.0,
                "auto",
                42L,
                GenerationOptions.defaults(),
                Source.NONE);
    }

    static Path defaultModelCache() {
        return Path.of(System.getProperty("user.home"), ".dijiang4j", "models");
    }

    public Profile withModel(String newModel) {
        return new Profile(
                newModel,
                modelCache,
                mode,
                layers,
                featureMap,
                features,
                sinks,
                window,
                blockSize,
                decay,
                backend,
                seed,
                generation,
                source);
    }

    public Profile withMode(Mode newMode) {
        return new Profile(
                model,
                modelCache,
                newMode,
                layers,
                featureMap,
                features,
                sinks,
                window,
                blockSize,
                decay,
                backend,
                seed,
                generation,
                source);
    }

    public Profile withLayers(LayerSelection newLayers) {
        return new Profile(
                model,
                modelCache,
                mode,
                newLayers,
                featureMap,
                features,
                sinks,
                window,
                blockSize,
                decay,
                backend,
                seed,
                generation,
                source);
    }

    public Profile withHybrid(int newSinks, int newWindow) {
        return new Profile(
                model,
                modelCache,
                mode,
                layers,
                featureMap,
                features,
                newSinks,
                newWindow,
                blockSize,
                decay,
                backend,
                seed,
                generation,
                source);
    }

    public Profile withFeatures(String newFeatureMap, int newFeatures) {
        return new Profile(
                model,
                modelCache,
                mode,
                layers,
                newFeatureMap,
                newFeatures,
                sinks,
                window,
                blockSize,
                decay,
                backend,
                seed,
                generation,
                source);
    }

    public Profile withBackend(String newBackend) {
        return new Profile(
                model,
                modelCache,
                mode,
                layers,
                featureMap,
                features,
                sinks,
                window,
                blockSize,
                decay,
                newBackend,
                seed,
                generation,
                source);
    }

    public Profile withGeneration(GenerationOptions newGeneration) {
        return new Profile(
                model,
                modelCache,
                mode,
                layers,
                featureMap,
                features,
                sinks,
                window,
                blockSize,
                decay,
                backend,
                seed,
                newGeneration,
                source);
    }
}
