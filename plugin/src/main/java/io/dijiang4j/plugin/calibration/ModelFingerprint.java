package io.dijiang4j.plugin.calibration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.TreeSet;

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
            for (Path file : safetensorsFiles(dir)) {
                long size = Files.size(file);
                addNamed(sha, file.getFileName().toString() + ":" + size, header(file, size));
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

    private static TreeSet<Path> safetensorsFiles(Path dir) throws IOException {
        TreeSet<Path> files = new TreeSet<>();
        Path single = dir.resolve("model.safetensors");
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.isRegularFile(single)) {
            files.add(single);
        } else if (Files.isRegularFile(index)) {
            JsonNode map = new ObjectMapper().readTree(index.toFile()).path("weight_map");
            map.elements().forEachRemaining(n -> files.add(dir.resolve(n.asText())));
        } else {
            throw new IllegalArgumentException("no model.safetensors (or index) in " + dir);
        }
        return files;
    }

    private static byte[] header(Path file, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            SafetensorsIo.readFully(ch, length, 0);
            long headerLength = length.flip().getLong();
            if (headerLength <= 0 || headerLength > 100_000_000 || headerLength + 8 > size) {
                throw new IllegalArgumentException("not a safetensors file (bad header length): " + file);
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLength);
            SafetensorsIo.readFully(ch, header, 8);
            return header.array();
        }
    }
}
