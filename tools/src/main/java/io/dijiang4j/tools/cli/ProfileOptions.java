package io.dijiang4j.tools.cli;

import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.gguf.GgufModels;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.plugin.profile.ProfileLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The options {@code generate} and {@code chat} share: a profile and its overrides. The model comes from
 * {@code --model}, else the environment variable {@code DIJIANG_MODEL}, else the profile.
 */
public final class ProfileOptions {
    @Option(
            names = "--config",
            paramLabel = "FILE",
            description = "YAML profile (see configs/; default: configs/hybrid.yaml of the installation).")
    Path config;

    @Option(
            names = "--model",
            paramLabel = "DIR",
            description = "Model directory (overrides the profile and DIJIANG_MODEL).")
    String model;

    @Option(names = "--mode", paramLabel = "MODE", description = "softmax, dijiang or hybrid (overrides the profile).")
    String mode;

    @Option(names = "--max-tokens", paramLabel = "N", description = "Tokens to generate at most (prompt not counted).")
    Integer maxTokens;

    @Option(
            names = "--temperature",
            paramLabel = "T",
            description = "0 = greedy (default: the profile's, else " + GenerationOptions.DEFAULT_TEMPERATURE + ").")
    Float temperature;

    @Option(names = "--top-p", paramLabel = "P", description = "Nucleus sampling mass in (0, 1].")
    Float topP;

    @Option(names = "--top-k", paramLabel = "K", description = "Sample among the K most likely tokens (0 = all).")
    Integer topK;

    @Option(
            names = "--seed",
            paramLabel = "S",
            description = "Sampling seed (overrides the profile's seed; default " + Profile.DEFAULT_SEED + ").")
    Long seed;

    /** The default profile: configs/hybrid.yaml under {@code dijiang.home} (set by bin/dijiang), else the working directory. */
    static Path defaultConfig() {
        return Path.of(System.getProperty("dijiang.home", "."))
                .resolve("configs")
                .resolve("hybrid.yaml");
    }

    public Profile profile() {
        Profile p = ProfileLoader.load(config != null ? config : defaultConfig());
        String override = model != null ? model : System.getenv("DIJIANG_MODEL");
        if (override != null && !override.isBlank()) {
            String source = model != null ? "--model" : "DIJIANG_MODEL";
            ModelReference reference;
            try {
                reference = ModelReference.parse(override);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(source + " " + override + ": " + e.getMessage());
            }
            if (reference instanceof ModelReference.Local local
                    && !Files.isDirectory(local.directory())
                    && !GgufModels.isGguf(local.directory())) {
                throw new IllegalArgumentException(
                        source + " " + override + ": neither a model directory nor a .gguf file");
            }
            p = p.withModel(reference);
        }
        if (mode != null) p = p.withMode(Mode.parse(mode));
        GenerationOptions g = p.generation();
        if (maxTokens != null) g = g.withMaxTokens(maxTokens);
        if (temperature != null) g = g.withTemperature(temperature);
        if (topP != null) g = g.withTopP(topP);
        if (topK != null) g = g.withTopK(topK);
        g = g.withSeed(seed != null ? seed : p.samplingSeed());
        return p.withGeneration(g);
    }
}
