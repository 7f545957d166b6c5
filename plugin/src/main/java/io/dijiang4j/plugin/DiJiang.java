package io.dijiang4j.plugin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.ModelSupport;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.safetensors.SafeTensorSupport;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.jlama.JlamaInternals;
import io.dijiang4j.plugin.calibration.Sidecars;
import io.dijiang4j.plugin.gguf.ByteLevelBpeTokenizer;
import io.dijiang4j.plugin.gguf.GgufModels;
import io.dijiang4j.plugin.io.AtomicFiles;
import io.dijiang4j.plugin.io.ModelFileCheck;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.plugin.profile.ProfileLoader;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import jdk.incubator.vector.FloatVector;

/**
 * Entry point of the plugin's API.
 *
 * <pre>{@code
 * try (DiJiangModel model = DiJiang.load(ProfileLoader.load(Path.of("configs/hybrid.yaml")));
 *      Session session = model.newSession()) {
 *     GenerationResult g = session.generate("Once upon a time", model.profile().generation(), piece -> {});
 * }
 * }</pre>
 */
public final class DiJiang {
    /** Architectures ({@code model_type} of config.json) the plugin loads. */
    public static final List<String> ARCHITECTURES = List.of("llama", "mistral", "qwen2");

    private DiJiang() {}

    /** Loads the profile's model and installs its attention. */
    public static DiJiangModel load(Profile profile) {
        return load(profile, message -> {});
    }

    /** Loads a YAML profile file, then the model. */
    public static DiJiangModel load(Path profileFile) {
        return load(ProfileLoader.load(profileFile));
    }

    /** As {@link #load(Profile)}, reporting loading steps to {@code progress} (one line each). */
    public static DiJiangModel load(Profile profile, Consumer<String> progress) {
        JlamaInternals.check();
        // a profile key the sidecar would override is refused before the (slow) model load, not after
        Sidecars.fileOf(profile).ifPresent(sidecar -> Sidecars.checkPrecedence(profile, sidecar));
        File dir = resolveModelDirectory(profile, progress);
        String architecture = architecture(profile, dir);
        // a damaged checkpoint is one line naming the file and tensor, not an error from inside Jlama's loader
        long checkStart = System.nanoTime();
        int tensors = ModelFileCheck.check(dir.toPath(), profile.checkWeights());
        progress.accept(String.format(
                Locale.ROOT,
                "checked %d tensors%s in %.2f s",
                tensors,
                profile.checkWeights() ? " (sizes, shapes, no NaN/Inf)" : " (sizes, shapes)",
                (System.nanoTime() - checkStart) / 1e9));
        Path workingDirectory;
        try {
            workingDirectory = Files.createTempDirectory("dijiang4j-jlama-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a working directory for Jlama", e);
        }
        progress.accept("loading " + architecture + " model from " + dir + " ...");
        long start = System.nanoTime();
        AbstractModel jlama;
        try {
            // byte-level BPE vocabularies: Jlama's tokenizer maps code points, not bytes (docs/JLAMA.md §4)
            jlama = ByteLevelBpeTokenizer.isByteLevel(dir.toPath())
                    ? GgufModels.loadByteLevelLlama(dir.toPath(), workingDirectory, DType.F32, DType.I8)
                    : ModelSupport.loadModel(
                            AbstractModel.InferenceType.FULL_GENERATION,
                            dir,
                            workingDirectory.toFile(),
                            DType.F32,
                            DType.I8,
                            Optional.empty(),
                            Optional.empty(),
                            Optional.empty(),
                            SafeTensorSupport::loadWeights);
        } catch (IOException | RuntimeException e) {
            AtomicFiles.deleteTree(workingDirectory);
            throw new IllegalArgumentException("cannot load the model in " + dir + ": " + rootMessage(e), e);
        }
        DiJiangModel model;
        try {
            checkStateFitsTheHeap(profile, jlama.getConfig());
            model = new DiJiangModel(jlama, profile, true, workingDirectory, UnaryOperator.identity());
            try {
                checkJlamaVectorWidth(model);
            } catch (RuntimeException e) {
                model.close(); // closes the Jlama model and its working directory too
                throw e;
            }
        } catch (RuntimeException e) {
            jlama.close();
            AtomicFiles.deleteTree(workingDirectory);
            throw e;
        }
        var c = jlama.getConfig();
        progress.accept(String.format(
                Locale.ROOT,
                "loaded in %.1f s: %d layers, %d heads (%d KV) of size %d, context %d; mode %s on %d of %d layers, backend %s, tensor ops %s",
                (System.nanoTime() - start) / 1e9,
                c.numberOfLayers,
                c.numberOfHeads,
                c.numberOfKeyValueHeads,
                c.headSize,
                c.contextLength,
                profile.mode().key(),
                model.installation().kernelizedLayers().size(),
                c.numberOfLayers,
                model.installation().backend(),
                model.installation().tensorOps()));
        return model;
    }

    /**
     * Installs the profile's attention into a Jlama model loaded elsewhere (the profile's {@code model} key is not
     * used) and wraps it for sessions. Closing the returned handle uninstalls the layers but leaves the Jlama model
     * open: its owner closes it.
     */
    public static DiJiangModel install(AbstractModel model, Profile profile) {
        return install(model, profile, UnaryOperator.identity());
    }

    /**
     * As {@link #install(AbstractModel, Profile)}, with every kernelized layer's spec (the profile's, or the
     * calibration sidecar's for that layer) passed through {@code adjust} first: for diagnostics that switch a part
     * of the same plan off (eval's ablation: the exact cache, the memory).
     */
    public static DiJiangModel install(AbstractModel model, Profile profile, UnaryOperator<AttentionSpec> adjust) {
        DiJiangModel installed = new DiJiangModel(model, profile, false, null, adjust);
        try {
            checkJlamaVectorWidth(installed);
        } catch (RuntimeException e) {
            installed.close();
            throw e;
        }
        return installed;
    }

    /**
     * Jlama 0.8.4's Panama loops have no tail (docs/JLAMA.md §1): its softmax attention overruns a head whose size is
     * not a multiple of the JVM's vector length, as stories260K's head of 8 floats does with 512-bit vectors
     * ({@code DIJIANG_VECTOR_BITS=512}). One line here, not an IndexOutOfBoundsException from Jlama's pool at the
     * first prompt. Kernelized layers run on the project's kernels, which take any length.
     */
    static void checkJlamaVectorWidth(DiJiangModel model) {
        var c = model.jlama().getConfig();
        int lanes = FloatVector.SPECIES_PREFERRED.length();
        boolean jlamaAttention = model.installation().kernelizedLayers().size() < c.numberOfLayers;
        if (jlamaAttention && c.headSize % lanes != 0) {
            throw new IllegalArgumentException(String.format(
                    Locale.ROOT,
                    "the model's head size %d is not a multiple of %d floats, this JVM's vector length (%d-bit"
                            + " vectors): Jlama 0.8.4's softmax attention would overrun it; run with"
                            + " DIJIANG_VECTOR_BITS=256 (-XX:MaxVectorSize=32) or a profile that kernelizes every layer",
                    c.headSize,
                    lanes,
                    lanes * Float.SIZE));
        }
    }

    /**
     * A session's hybrid state is allocated whole (sinks, window and exact cache rows of every KV head and layer):
     * a profile whose state cannot fit the heap is one line here, not an OutOfMemoryError at the first prompt.
     */
    static void checkStateFitsTheHeap(Profile profile, com.github.tjake.jlama.safetensors.Config c) {
        if (profile.mode() != io.dijiang4j.plugin.profile.Mode.HYBRID) return;
        long rows = (long) profile.sinks() + profile.window() + profile.exactCache();
        long bytes = 2L * Float.BYTES * rows * c.headSize * c.numberOfKeyValueHeads * c.numberOfLayers;
        long heap = Runtime.getRuntime().maxMemory();
        if (bytes > heap / 2) {
            throw profile.source()
                    .error(
                            profile.source().sets("window") ? "window" : "sinks",
                            String.format(
                                    Locale.ROOT,
                                    "a session's exact tokens (sinks %d + window %d + exact_cache %d per head) need"
                                            + " %.1f MiB, more than half the heap (%.1f MiB): lower them or raise -Xmx",
                                    profile.sinks(),
                                    profile.window(),
                                    profile.exactCache(),
                                    bytes / 1048576.0,
                                    heap / 1048576.0));
        }
    }

    static File resolveModelDirectory(Profile profile, Consumer<String> progress) {
        ModelReference model = profile.model();
        if (model == null) throw profile.source().error("model", "no model given");
        if (model instanceof ModelReference.HuggingFace hf) {
            // Jlama's own downloader (skipped when the cache already holds the model); not exercised by the tests
            progress.accept(
                    "fetching " + hf.repository() + " into " + profile.modelCache() + " (Jlama downloader) ...");
            try {
                Files.createDirectories(profile.modelCache());
                return SafeTensorSupport.maybeDownloadModel(profile.modelCache().toString(), hf.repository());
            } catch (IOException | RuntimeException e) {
                throw profile.source().error("model", "cannot download " + hf.repository() + ": " + rootMessage(e));
            }
        }
        Path local = model.directory(profile.modelCache());
        if (GgufModels.isGguf(local)) {
            // converted once into the model cache, keyed by the file's SHA-256 (GgufModels.modelDirectory)
            Path cache = GgufModels.cacheRoot(profile.modelCache());
            progress.accept("using " + local + " (GGUF), converted into " + cache + " when not cached ...");
            try {
                return GgufModels.modelDirectory(local, cache, GgufModels.PROFILE_PRECISION, null)
                        .toFile();
            } catch (IOException e) {
                throw profile.source().error("model", "cannot convert " + local + ": " + rootMessage(e));
            }
        }
        File dir = local.toFile();
        if (!dir.isDirectory()) throw profile.source().error("model", "model directory " + dir + " does not exist");
        if (!new File(dir, "config.json").isFile()) {
            throw profile.source().error("model", "no config.json in model directory " + dir);
        }
        return dir;
    }

    static String architecture(Profile profile, File dir) {
        JsonNode config;
        try {
            config = new ObjectMapper().readTree(new File(dir, "config.json"));
        } catch (IOException e) {
            throw profile.source().error("model", "cannot read " + dir + "/config.json: " + rootMessage(e));
        }
        String type = config.path("model_type").asText("");
        if (type.isEmpty()) throw profile.source().error("model", dir + "/config.json has no model_type");
        if (!ARCHITECTURES.contains(type)) {
            throw profile.source()
                    .error("model", "unsupported architecture " + type + " (supported: " + ARCHITECTURES + ")");
        }
        return type;
    }

    static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }
}
