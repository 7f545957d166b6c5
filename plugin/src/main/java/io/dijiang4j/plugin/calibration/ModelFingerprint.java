package io.dijiang4j.plugin.calibration;

import io.dijiang4j.plugin.io.SafeTensors;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Identifies a model directory cheaply but specifically: SHA-256 over config.json, tokenizer.json (when present) and,
 * for each safetensors file (model.safetensors, or the shards its index lists, in name order), its name, size and
 * header (tensor names, dtypes, shapes and offsets). Weight bytes are not read, so a directory of many gigabytes
 * costs milliseconds; two checkpoints of one architecture still differ in their headers or sizes unless they are
 * the same file layout with other numbers (a retrained model of the same shape), which this check cannot see.
 */
public final class ModelFingerprint {
    private ModelFingerprint() {}

    /** The hex SHA-256 fingerprint of {@code dir}. */
    public static String of(Path dir) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("no SHA-256 in this JVM", e);
        }
        try {
            Path config = dir.resolve("config.json");
            if (!Files.isRegularFile(config)) throw new IllegalArgumentException("no config.json in " + dir);
            addNamed(sha, "config.json", Files.readAllBytes(config));
            Path tokenizer = dir.resolve("tokenizer.json");
            if (Files.isRegularFile(tokenizer)) addNamed(sha, "tokenizer.json", Files.readAllBytes(tokenizer));
            for (Path file : SafeTensors.modelFiles(dir)) {
                long size = Files.size(file);
                addNamed(
                        sha,
                        file.getFileName().toString() + ":" + size,
                        SafeTensors.open(file).headers().get(0));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot fingerprint the model in " + dir + ": " + e.getMessage(), e);
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private static void addNamed(MessageDigest sha, String name, byte[] content) {
        byte[] label = name.getBytes(StandardCharsets.UTF_8);
        sha.update(ByteBuffer.allocate(16)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(label.length)
                .putLong(content.length)
                .array());
        sha.update(label);
        sha.update(content);
    }
}
