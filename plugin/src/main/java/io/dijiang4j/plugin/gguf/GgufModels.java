package io.dijiang4j.plugin.gguf;

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
        String name = gguf.getFileName().toString().replaceFirst("(?i)\\.gguf$", "");
        Path dir = cacheRoot.resolve(name + "-" + sha256(gguf).substring(0, 16) + "-"
                + precision.name().toLowerCase(Locale.ROOT));
        if (Files.isRegularFile(dir.resolve("config.json")) && Files.isRegularFile(dir.resolve("model.safetensors"))) {
            return dir;
        }
        if (progress != null) progress.println("converting " + gguf + " into " + dir + " ...");
        GgufConverter.convert(gguf, dir, precision, progress);
        return dir;
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
