package io.dijiang4j.plugin.calibration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * One small safetensors file of F32 tensors with string metadata ({@code __metadata__}), read whole and checked
 * strictly: the plugin's {@code nativemodels.SafeTensorsFile} reads model directories lazily and keeps no metadata,
 * while a sidecar must be refused clearly when truncated or corrupt. Written deterministically (tensors and
 * metadata keys sorted, header padded with spaces to 8 bytes) to a temporary file that is then renamed.
 */
final class SafetensorsIo {
    static final String METADATA = "__metadata__";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A tensor: row-major F32 data and its shape. */
    record Tensor(float[] data, int[] shape) {
        Tensor {
            long count = 1;
            for (int s : shape) count *= s;
            if (count != data.length) {
                throw new IllegalArgumentException(
                        "shape " + Arrays.toString(shape) + " does not hold " + data.length + " values");
            }
        }
    }

    /** What a file holds. */
    record Content(Map<String, Tensor> tensors, Map<String, String> metadata) {}

    private SafetensorsIo() {}

    static byte[] encode(Map<String, Tensor> tensors, Map<String, String> metadata) {
        TreeMap<String, Tensor> sorted = new TreeMap<>(tensors);
        ObjectNode header = JSON.createObjectNode();
        ObjectNode meta = header.putObject(METADATA);
        new TreeMap<>(metadata).forEach(meta::put);
        long offset = 0;
        for (Map.Entry<String, Tensor> e : sorted.entrySet()) {
            long bytes = 4L * e.getValue().data().length;
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "F32");
            ArrayNode shape = t.putArray("shape");
            for (int s : e.getValue().shape()) shape.add(s);
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] headerBytes;
        try {
            headerBytes = JSON.writeValueAsBytes(header);
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode the safetensors header", e);
        }
        int padded = headerBytes.length + (8 - headerBytes.length % 8) % 8;
        ByteBuffer out =
                ByteBuffer.allocate(Math.toIntExact(8 + padded + offset)).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(headerBytes);
        for (int i = headerBytes.length; i < padded; i++) out.put((byte) ' ');
        for (Tensor t : sorted.values()) for (float v : t.data()) out.putFloat(v);
        return out.array();
    }

    /** Writes {@code bytes} to {@code file} through a temporary file in the same directory and a rename. */
    static void writeAtomically(Path file, byte[] bytes) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, ".tmp-" + file.getFileName(), ".part");
        try {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                out.write(bytes);
            }
            try { // temporary files are created owner-only; a sidecar is meant to be read by others
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException e) {
                // not a POSIX file system
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Parses a whole file; any inconsistency (short file, bad header, offsets outside the data, a dtype other than
     * F32, trailing bytes) is an IllegalArgumentException whose message says what is wrong.
     */
    static Content decode(byte[] bytes) {
        if (bytes.length < 8) throw new IllegalArgumentException("truncated (" + bytes.length + " bytes)");
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLength = buf.getLong();
        if (headerLength <= 0 || headerLength > bytes.length - 8L) {
            throw new IllegalArgumentException("not a safetensors file or truncated (header length " + headerLength
                    + ", file " + bytes.length + " bytes)");
        }
        JsonNode header;
        try {
            header = JSON.readTree(new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalArgumentException("corrupt safetensors header");
        }
        if (header == null || !header.isObject()) throw new IllegalArgumentException("corrupt safetensors header");
        long dataStart = 8 + headerLength, dataLength = bytes.length - dataStart;
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        long covered = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (f.getKey().equals(METADATA)) {
                f.getValue()
                        .fields()
                        .forEachRemaining(
                                m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            JsonNode t = f.getValue();
            String name = f.getKey();
            if (!"F32".equals(t.path("dtype").asText())) {
                throw new IllegalArgumentException("tensor '" + name + "' is not F32");
            }
            JsonNode shapeNode = t.path("shape"), offsets = t.path("data_offsets");
            if (!shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2) {
                throw new IllegalArgumentException("tensor '" + name + "' has no shape or offsets");
            }
            int[] shape = new int[shapeNode.size()];
            long count = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = shapeNode.get(i).asInt(-1);
                if (shape[i] < 0) throw new IllegalArgumentException("tensor '" + name + "' has a bad shape");
                count *= shape[i];
            }
            long begin = offsets.get(0).asLong(-1), end = offsets.get(1).asLong(-1);
            if (begin < 0 || end < begin || end > dataLength || end - begin != 4 * count) {
                throw new IllegalArgumentException("tensor '" + name + "' lies outside the file (truncated?)");
            }
            covered += end - begin;
            float[] data = new float[(int) count];
            ByteBuffer slice = ByteBuffer.wrap(bytes, (int) (dataStart + begin), (int) (end - begin))
                    .order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < data.length; i++) data[i] = slice.getFloat();
            tensors.put(name, new Tensor(data, shape));
        }
        if (covered != dataLength) {
            throw new IllegalArgumentException(
                    "data size " + dataLength + " bytes does not match the header's tensors (" + covered + " bytes)");
        }
        return new Content(tensors, metadata);
    }

    static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) throw new IOException("unexpected end of file");
        }
    }
}
