package io.dijiang4j.nativemodels;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A small safetensors reader and writer: tensors are read one at a time into float arrays (F32, F16, BF16), so
 * files larger than 2 GiB and sharded checkpoints ({@code model.safetensors.index.json}) work without mapping
 * everything. Written files are F32, written to a temporary file and renamed.
 */
public final class SafeTensorsFile {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A tensor as loaded: row-major data and its shape. */
    public record Tensor(float[] data, int[] shape) {
        public int size(int dim) {
            return shape[dim];
        }
    }

    private record Entry(Path file, long dataStart, String dtype, int[] shape, long begin, long end) {}

    private final Map<String, Entry> entries = new LinkedHashMap<>();

    private SafeTensorsFile() {}

    /** Opens {@code model.safetensors} or the shards listed by {@code model.safetensors.index.json} in dir. */
    public static SafeTensorsFile open(Path dir) {
        SafeTensorsFile st = new SafeTensorsFile();
        Path single = dir.resolve("model.safetensors");
        Path index = dir.resolve("model.safetensors.index.json");
        try {
            if (Files.isRegularFile(single)) {
                st.readHeader(single);
            } else if (Files.isRegularFile(index)) {
                JsonNode map = JSON.readTree(index.toFile()).path("weight_map");
                java.util.Set<String> shards = new java.util.TreeSet<>();
                map.elements().forEachRemaining(n -> shards.add(n.asText()));
                for (String shard : shards) st.readHeader(dir.resolve(shard));
            } else if (Files.isRegularFile(dir.resolve("pytorch_model.bin"))) {
                throw new IllegalArgumentException(
                        "only safetensors weights are supported; convert " + dir
                                + "/pytorch_model.bin to model.safetensors (e.g. transformers save_pretrained(safe_serialization=True))");
            } else {
                throw new IllegalArgumentException("no model.safetensors (or index) in " + dir);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read safetensors in " + dir + ": " + e.getMessage(), e);
        }
        return st;
    }

    private void readHeader(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0);
            long headerLen = len.flip().getLong();
            if (headerLen <= 0 || headerLen > 100_000_000 || headerLen + 8 > ch.size()) {
                throw new IllegalArgumentException("not a safetensors file (bad header length): " + file);
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            readFully(ch, header, 8);
            JsonNode root = JSON.readTree(new String(header.array(), StandardCharsets.UTF_8));
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                if (f.getKey().equals("__metadata__")) continue;
                JsonNode t = f.getValue();
                int[] shape = new int[t.path("shape").size()];
                for (int i = 0; i < shape.length; i++)
                    shape[i] = t.path("shape").get(i).asInt();
                long b = t.path("data_offsets").get(0).asLong();
                long e = t.path("data_offsets").get(1).asLong();
                entries.put(
                        f.getKey(),
                        new Entry(file, 8 + headerLen, t.path("dtype").asText(), shape, b, e));
            }
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) throw new IOException("unexpected end of file");
        }
    }

    public Set<String> names() {
        return entries.keySet();
    }

    public boolean has(String name) {
        return entries.containsKey(name);
    }

    /** The tensor called name; a missing tensor or an unsupported dtype is a one-line error. */
    public Tensor get(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new IllegalArgumentException("checkpoint has no tensor '" + name + "'");
        long count = 1;
        for (int s : e.shape) count *= s;
        int width = switch (e.dtype) {
            case "F32" -> 4;
            case "F16", "BF16" -> 2;
            default ->
                throw new IllegalArgumentException(
                        "tensor '" + name + "' has unsupported dtype " + e.dtype + " (F32, F16, BF16 supported)");
        };
        if (count * width != e.end - e.begin || count > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("tensor '" + name + "': size does not match its shape");
        }
        float[] out = new float[(int) count];
        try (FileChannel ch = FileChannel.open(e.file, StandardOpenOption.READ)) {
            long pos = e.dataStart + e.begin;
            int done = 0;
            ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            while (done < count) {
                int n = (int) Math.min((long) buf.capacity() / width, count - done);
                buf.clear().limit(n * width);
                readFully(ch, buf, pos);
                pos += (long) n * width;
                buf.flip();
                for (int i = 0; i < n; i++) {
                    out[done + i] = switch (e.dtype) {
                        case "F32" -> buf.getFloat();
                        case "F16" -> Float.float16ToFloat(buf.getShort());
                        default -> Float.intBitsToFloat((buf.getShort() & 0xffff) << 16);
                    };
                }
                done += n;
            }
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot read tensor '" + name + "': " + ex.getMessage(), ex);
        }
        return new Tensor(out, e.shape.clone());
    }

    /** The tensor called name, checked to have exactly the expected shape. */
    public Tensor get(String name, int... expectedShape) {
        Tensor t = get(name);
        if (!Arrays.equals(t.shape(), expectedShape)) {
            throw new IllegalArgumentException("tensor '" + name + "' has shape " + Arrays.toString(t.shape())
                    + ", expected " + Arrays.toString(expectedShape));
        }
        return t;
    }

    /** Writes F32 tensors (sorted by name) to file, atomically. */
    public static void write(Path file, Map<String, Tensor> tensors) throws IOException {
        TreeMap<String, Tensor> sorted = new TreeMap<>(tensors);
        Map<String, Object> header = new LinkedHashMap<>();
        long offset = 0;
        for (Map.Entry<String, Tensor> e : sorted.entrySet()) {
            long bytes = 4L * e.getValue().data().length;
            header.put(e.getKey(), Map.of("dtype", "F32", "shape", e.getValue().shape(), "data_offsets", new long[] {
                offset, offset + bytes
            }));
            offset += bytes;
        }
        byte[] headerBytes = JSON.writeValueAsBytes(header);
        int pad = (8 - headerBytes.length % 8) % 8;
        byte[] padded = Arrays.copyOf(headerBytes, headerBytes.length + pad);
        Arrays.fill(padded, headerBytes.length, padded.length, (byte) ' ');
        Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), ".tmp-", ".safetensors");
        try (OutputStream out = Files.newOutputStream(tmp)) {
            ByteBuffer len =
                    ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded.length);
            out.write(len.array());
            out.write(padded);
            for (Tensor t : sorted.values()) {
                ByteBuffer buf = ByteBuffer.allocate(4 * t.data().length).order(ByteOrder.LITTLE_ENDIAN);
                for (float v : t.data()) buf.putFloat(v);
                out.write(buf.array());
            }
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Writes text to file atomically. */
    public static void writeText(Path file, String text) throws IOException {
        Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), ".tmp-", ".txt");
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
