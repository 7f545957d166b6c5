package io.dijiang4j.plugin.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.llama.LlamaConfig;
import com.github.tjake.jlama.model.llama.LlamaModel;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.safetensors.SafeTensorSupport;
import com.github.tjake.jlama.util.JsonSupport;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;

/**
 * Runs GGUF models through Jlama by converting them once into a cache of model directories, keyed by the GGUF's
 * SHA-256 and the weight precision, so a changed file is converted again and an unchanged one is not.
 */
public final class GgufModels {
    private GgufModels() {}

    /** Whether {@code path} names a GGUF file (by its extension). */
    public static boolean isGguf(Path path) {
        return path.getFileName() != null
                && path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".gguf")
                && Files.isRegularFile(path);
    }

    /**
     * The Jlama model directory for {@code gguf} under {@code cacheRoot}, converting it first if the cache lacks it
     * (conversion is atomic, so an interrupted one leaves nothing behind).
     *
     * @param progress where to print progress lines, or null for none
     */
    public static Path modelDirectory(
            Path gguf, Path cacheRoot, GgufConverter.Precision precision, PrintStream progress) throws IOException {
        Path dir = convertedDirectory(gguf, cacheRoot, precision);
        if (Files.isRegularFile(dir.resolve("config.json")) && Files.isRegularFile(dir.resolve("model.safetensors"))) {
            return dir;
        }
        if (progress != null) progress.println("converting " + gguf + " into " + dir + " ...");
        GgufConverter.convert(gguf, dir, precision, progress);
        return dir;
    }

    /**
     * Where {@link #modelDirectory} keeps {@code gguf} converted (whether or not it is there yet): named after the
     * file, the first 16 hex digits of its SHA-256 and the precision.
     */
    public static Path convertedDirectory(Path gguf, Path cacheRoot, GgufConverter.Precision precision)
            throws IOException {
        String name = gguf.getFileName().toString().replaceFirst("(?i)\\.gguf$", "");
        return cacheRoot.resolve(name + "-" + sha256(gguf).substring(0, 16) + "-"
                + precision.name().toLowerCase(Locale.ROOT));
    }

    /** The folder of a profile's model cache that GGUF models are converted into. */
    public static Path cacheRoot(Path modelCache) {
        return modelCache.resolve("gguf");
    }

    /** The precision a profile's GGUF model is converted to when loaded (exact). */
    public static final GgufConverter.Precision PROFILE_PRECISION = GgufConverter.Precision.F32;

    /**
     * Loads a llama model directory with a byte-level BPE vocabulary (what {@link GgufConverter} writes) into Jlama,
     * as {@code ModelSupport.loadModel} does, but with {@link ByteLevelBpeTokenizer} instead of Jlama's tokenizer,
     * which mangles non-ASCII text. Everything Jlama does with its tokenizer (generate, chat templates, decoding)
     * then handles any Unicode text.
     *
     * @param workingDirectory Jlama's working directory (KV cache pages of its own {@code generate}), or null for
     *     Jlama's default
     */
    public static AbstractModel loadByteLevelLlama(
            Path dir, Path workingDirectory, DType workingType, DType workingQuantizedType) throws IOException {
        JsonNode config = JsonSupport.om.readTree(dir.resolve("config.json").toFile());
        String type = config.path("model_type").asText();
        if (!type.equals("llama")) {
            throw new IllegalArgumentException(
                    dir.resolve("config.json") + ": model_type is '" + type + "', expected llama");
        }
        LlamaConfig c = JsonSupport.om.treeToValue(config, LlamaConfig.class);
        if (workingDirectory != null) c.setWorkingDirectory(workingDirectory.toFile());
        return new LlamaModel(
                AbstractModel.InferenceType.FULL_GENERATION,
                c,
                SafeTensorSupport.loadWeights(dir.toFile()),
                new ByteLevelBpeTokenizer(dir),
                workingType,
                workingQuantizedType,
                Optional.empty());
    }

    /** The SHA-256 of a file, lower-case hex. */
    public static String sha256(Path file) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks SHA-256", e);
        }
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), digest)) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        return HexFormat.of().formatHex(digest.digest());
    }
}
