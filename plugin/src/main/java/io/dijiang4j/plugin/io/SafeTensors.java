package io.dijiang4j.plugin.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The project's one safetensors codec: model checkpoints (one file or the shards of {@code
 * model.safetensors.index.json}), calibration sidecars and synthetic models are read and written here.
 *
 * <p>Format: an 8-byte little-endian header length, a JSON header (tensor name to dtype, shape and data offsets,
 * plus optional string {@code __metadata__}), then the data. Reading checks the header strictly (length within the
 * file, offsets inside the data, byte counts matching shape and dtype, the data fully covered) so a truncated or
 * corrupt file is refused with one line; tensors are read one at a time, so multi-gigabyte files are not loaded
 * whole. Writing is deterministic (header in insertion order, {@code __metadata__} first when present, padded with
 * spaces to 8 bytes) and atomic ({@link AtomicFiles}).
 */
public final class SafeTensors {
    static final String METADATA = "__metadata__";
    /**
     * Metadata key of a file's CRC-32 (8 hex digits) over all its bytes with these digits read as zeros; written by
     * {@link Writer#checksummed()} (sidecars), checked whenever present, so that one flipped bit anywhere in a
     * small file is refused instead of read as other numbers.
     */
    static final String CHECKSUM = "crc32";

    private static final String CHECKSUM_PLACEHOLDER = "00000000";
    /** Headers above this are not safetensors files (real ones are kilobytes to a few megabytes). */
    static final long MAX_HEADER_BYTES = 100_000_000;

    private static final ObjectMapper JSON = new ObjectMapper();

    private SafeTensors() {}

    /** Element types, with their size; tensors of other dtypes may be listed but not read. */
    public enum DType {
        F64(64),
        F32(32),
        F16(16),
        BF16(16),
        I64(64),
        I32(32),
        I16(16),
        I8(8),
        U8(8),
        BOOL(8),
        /** Jlama's 4-bit blocks (two values per byte; their scales are a separate F32 tensor). */
        Q4(4);

        private final int bits;

        DType(int bits) {
            this.bits = bits;
        }

        /** Bytes of {@code count} elements. */
        public long bytes(long count) {
            return (count * bits + 7) / 8;
        }

        static DType of(String name) {
            for (DType t : values()) if (t.name().equals(name)) return t;
            return null;
        }
    }

    /** A tensor read as (or written from) floats: row-major data and its shape. */
    public record Tensor(float[] data, int[] shape) {
        public Tensor {
            if (count(shape) != data.length) {
                throw new IllegalArgumentException(
                        "shape " + Arrays.toString(shape) + " does not hold " + data.length + " values");
            }
        }

        public int size(int dim) {
            return shape[dim];
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tensor t && Arrays.equals(data, t.data) && Arrays.equals(shape, t.shape);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(data) + Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return "Tensor" + Arrays.toString(shape);
        }
    }

    /** Reads one safetensors file. */
    public static Reader open(Path file) {
        Reader r = new Reader();
        r.addFile(file);
        return r;
    }

    /** Reads a model directory: {@code model.safetensors}, or every shard its index lists. */
    public static Reader openModel(Path dir) {
        Reader r = new Reader();
        for (Path file : modelFiles(dir)) r.addFile(file);
        return r;
    }

    /** Reads a whole file held in memory ({@code what} names it in errors; empty: the caller names it). */
    public static Reader decode(byte[] bytes, String what) {
        Reader r = new Reader();
        r.add(new Source.Bytes(bytes, what));
        return r;
    }

    /**
     * The safetensors files of a model directory in name order: {@code model.safetensors}, else the shards listed by
     * {@code model.safetensors.index.json}.
     *
     * @throws IllegalArgumentException when there is neither (naming a {@code pytorch_model.bin} to convert)
     */
    public static List<Path> modelFiles(Path dir) {
        Path single = dir.resolve("model.safetensors");
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.isRegularFile(single)) return List.of(single);
        if (Files.isRegularFile(index)) {
            TreeSet<Path> shards = new TreeSet<>();
            try {
                JsonNode map = JSON.readTree(index.toFile()).path("weight_map");
                map.elements().forEachRemaining(n -> shards.add(dir.resolve(n.asText())));
            } catch (IOException e) {
                throw new IllegalArgumentException(index + ": not a valid index (" + oneLine(e) + ")");
            }
            if (shards.isEmpty()) throw new IllegalArgumentException(index + ": lists no shards");
            return List.copyOf(shards);
        }
        if (Files.isRegularFile(dir.resolve("pytorch_model.bin"))) {
            throw new IllegalArgumentException(
                    "only safetensors weights are supported; convert " + dir
                            + "/pytorch_model.bin to model.safetensors (e.g. transformers save_pretrained(safe_serialization=True))");
        }
        throw new IllegalArgumentException("no model.safetensors (or index) in " + dir);
    }

    /** Writes F32 tensors (in name order) and no metadata to {@code file}, atomically. */
    public static void write(Path file, Map<String, Tensor> tensors) {
        Writer w = writer();
        new TreeMap<>(tensors).forEach((name, t) -> w.add(name, DType.F32, t));
        w.writeTo(file);
    }

    /** A writer that holds the data in memory (sidecars, test checkpoints). */
    public static Writer writer() {
        return new Writer(null);
    }

    /**
     * A writer that spools the data to a scratch file in {@code directory} (use the target's directory), for
     * checkpoints too large to hold in memory; close it to delete the scratch file.
     */
    public static Writer spooledWriter(Path directory) {
        try {
            return new Writer(AtomicFiles.scratchFile(directory, "safetensors-data"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a scratch file in " + directory + ": " + oneLine(e), e);
        }
    }

    /** The tensors of one or more files: header checked when opened, data read per tensor. */
    public static final class Reader {
        private record Entry(
                Source source, long dataStart, DType dtype, String dtypeName, int[] shape, long begin, long end) {}

        private final Map<String, Entry> entries = new LinkedHashMap<>();
        private final Map<String, String> metadata = new LinkedHashMap<>();
        private final List<byte[]> headers = new ArrayList<>();

        private Reader() {}

        private void addFile(Path file) {
            long size;
            try {
                size = Files.size(file);
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read " + file + ": " + oneLine(e));
            }
            add(new Source.File(file, size));
        }

        private void add(Source source) {
            String where = source.name().isEmpty() ? "" : source.name() + ": ";
            byte[] headerBytes;
            long headerLength;
            try {
                if (source.size() < 8) throw new IllegalArgumentException("truncated (" + source.size() + " bytes)");
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
                source.read(len, 0);
                headerLength = len.flip().getLong();
                if (headerLength <= 0 || headerLength > MAX_HEADER_BYTES || headerLength > source.size() - 8) {
                    throw new IllegalArgumentException("not a safetensors file or truncated (header length "
                            + headerLength + ", file " + source.size() + " bytes)");
                }
                ByteBuffer header = ByteBuffer.allocate((int) headerLength);
                source.read(header, 8);
                headerBytes = header.array();
            } catch (IOException e) {
                throw new IllegalArgumentException(where + "cannot read the header: " + oneLine(e));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + e.getMessage());
            }
            JsonNode root;
            try {
                root = JSON.readTree(new String(headerBytes, StandardCharsets.UTF_8));
            } catch (IOException e) {
                root = null;
            }
            if (root == null || !root.isObject()) {
                throw new IllegalArgumentException(where + "corrupt safetensors header (not a JSON object)");
            }
            long dataStart = 8 + headerLength, dataLength = source.size() - dataStart, covered = 0;
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                if (f.getKey().equals(METADATA)) {
                    if (!f.getValue().isObject()) {
                        throw new IllegalArgumentException(where + "corrupt safetensors header (bad __metadata__)");
                    }
                    f.getValue()
                            .fields()
                            .forEachRemaining(
                                    m -> metadata.put(m.getKey(), m.getValue().asText()));
                    continue;
                }
                Entry e = entry(where, f.getKey(), f.getValue(), source, dataStart, dataLength);
                if (entries.put(f.getKey(), e) != null) {
                    throw new IllegalArgumentException(where + "tensor '" + f.getKey() + "' is in two files");
                }
                covered += e.end - e.begin;
            }
            if (covered != dataLength) {
                throw new IllegalArgumentException(where + "data size " + dataLength
                        + " bytes does not match the header's tensors (" + covered + " bytes)");
            }
            if (metadata.containsKey(CHECKSUM)) verifyChecksum(where, source, headerBytes, metadata.get(CHECKSUM));
            headers.add(headerBytes);
        }

        private static void verifyChecksum(String where, Source source, byte[] header, String stored) {
            byte[] field = ("\"" + CHECKSUM + "\":\"" + stored + "\"").getBytes(StandardCharsets.UTF_8);
            int at = indexOf(header, field);
            if (stored.length() != CHECKSUM_PLACEHOLDER.length() || at < 0 || source.size() > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(where + "corrupt safetensors header (bad " + CHECKSUM + ")");
            }
            byte[] all = new byte[(int) source.size()];
            try {
                source.read(ByteBuffer.wrap(all), 0);
            } catch (IOException e) {
                throw new IllegalArgumentException(where + "cannot read: " + oneLine(e));
            }
            int digits = 8 + at + field.length - 1 - stored.length();
            for (int i = 0; i < stored.length(); i++) all[digits + i] = '0';
            java.util.zip.CRC32 crc = new java.util.zip.CRC32();
            crc.update(all);
            String computed = String.format("%08x", crc.getValue());
            if (!computed.equals(stored)) {
                throw new IllegalArgumentException(where + "damaged file: checksum " + computed + ", the header says "
                        + stored + " (truncated or changed since it was written)");
            }
        }

        private static int indexOf(byte[] haystack, byte[] needle) {
            outer:
            for (int i = 0; i + needle.length <= haystack.length; i++) {
                for (int j = 0; j < needle.length; j++) if (haystack[i + j] != needle[j]) continue outer;
                return i;
            }
            return -1;
        }

        private static Entry entry(
                String where, String name, JsonNode t, Source source, long dataStart, long dataLength) {
            String tensor = where + "tensor '" + name + "' ";
            JsonNode shapeNode = t.path("shape"), offsets = t.path("data_offsets");
            String dtypeName = t.path("dtype").asText("");
            if (dtypeName.isEmpty() || !shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2) {
                throw new IllegalArgumentException(tensor + "has no dtype, shape or data offsets");
            }
            int[] shape = new int[shapeNode.size()];
            for (int i = 0; i < shape.length; i++) {
                JsonNode s = shapeNode.get(i);
                if (!s.canConvertToInt() || s.asInt() < 0)
                    throw new IllegalArgumentException(tensor + "has a bad shape");
                shape[i] = s.asInt();
            }
            long begin = offsets.get(0).canConvertToLong() ? offsets.get(0).asLong() : -1;
            long end = offsets.get(1).canConvertToLong() ? offsets.get(1).asLong() : -1;
            if (begin < 0 || end < begin || end > dataLength) {
                throw new IllegalArgumentException(tensor + "lies outside the file (offsets " + begin + ".." + end
                        + ", data " + dataLength + " bytes; truncated? the file has " + source.size()
                        + " bytes, this tensor needs at least " + (dataStart + Math.max(end, 0)) + ")");
            }
            DType dtype = DType.of(dtypeName);
            if (dtype != null && end - begin != dtype.bytes(count(shape))) {
                throw new IllegalArgumentException(tensor + "has " + (end - begin) + " bytes, its shape "
                        + Arrays.toString(shape) + " of " + dtypeName + " needs " + dtype.bytes(count(shape)));
            }
            return new Entry(source, dataStart, dtype, dtypeName, shape, begin, end);
        }

        public Set<String> names() {
            return Collections.unmodifiableSet(entries.keySet());
        }

        public boolean has(String name) {
            return entries.containsKey(name);
        }

        /** The header's {@code __metadata__} strings (of every file read). */
        public Map<String, String> metadata() {
            return Collections.unmodifiableMap(metadata);
        }

        /** The raw JSON header of each file, in the order read (what a model fingerprint hashes). */
        public List<byte[]> headers() {
            return headers.stream().map(byte[]::clone).toList();
        }

        public int[] shape(String name) {
            return entry(name).shape.clone();
        }

        /** The dtype as the header writes it (F32, BF16, Q4, ...). */
        public String dtype(String name) {
            return entry(name).dtypeName;
        }

        private Entry entry(String name) {
            Entry e = entries.get(name);
            if (e == null) throw new IllegalArgumentException("checkpoint has no tensor '" + name + "'");
            return e;
        }

        /** The tensor called {@code name} as floats (F32, F16 or BF16); other dtypes are a one-line error. */
        public Tensor get(String name) {
            Entry e = entry(name);
            if (e.dtype != DType.F32 && e.dtype != DType.F16 && e.dtype != DType.BF16) {
                throw new IllegalArgumentException(
                        "tensor '" + name + "' has unsupported dtype " + e.dtypeName + " (F32, F16, BF16 supported)");
            }
            long count = count(e.shape);
            if (count > Integer.MAX_VALUE) throw new IllegalArgumentException("tensor '" + name + "' is too large");
            int width = (int) e.dtype.bytes(1);
            float[] out = new float[(int) count];
            try (Source.Open in = e.source.open()) {
                long pos = e.dataStart + e.begin;
                ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
                for (int done = 0; done < count; ) {
                    int n = (int) Math.min((long) buf.capacity() / width, count - done);
                    buf.clear().limit(n * width);
                    in.read(buf, pos);
                    pos += (long) n * width;
                    buf.flip();
                    for (int i = 0; i < n; i++) {
                        out[done + i] = switch (e.dtype) {
                            case F32 -> buf.getFloat();
                            case F16 -> Float.float16ToFloat(buf.getShort());
                            default -> Float.intBitsToFloat((buf.getShort() & 0xffff) << 16);
                        };
                    }
                    done += n;
                }
            } catch (IOException ex) {
                throw new UncheckedIOException(
                        "cannot read tensor '" + name + "' of " + e.source.name() + ": " + oneLine(ex), ex);
            }
            return new Tensor(out, e.shape.clone());
        }

        /**
         * The index of the first NaN or infinite value of a float tensor (F32, F16, BF16), or -1 when every value is
         * finite or the dtype holds no floats (Q4 and I8 blocks: their F32 scales are tensors of their own). The
         * stored bits are read in chunks and their exponent field tested with the Vector API (all ones: NaN or
         * infinity), so a gigabyte of weights costs well under a second once it is in the page cache.
         */
        public long firstNonFinite(String name) {
            Entry e = entry(name);
            int width;
            int exponent;
            if (e.dtype == DType.F32) {
                width = 4;
                exponent = 0x7f800000;
            } else if (e.dtype == DType.F16 || e.dtype == DType.BF16) {
                width = 2;
                exponent = e.dtype == DType.F16 ? 0x7c00 : 0x7f80;
            } else {
                return -1;
            }
            long count = (e.end - e.begin) / width;
            ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            int[] ints = width == 4 ? new int[buf.capacity() / 4] : null;
            short[] shorts = width == 2 ? new short[buf.capacity() / 2] : null;
            try (Source.Open in = e.source.open()) {
                long pos = e.dataStart + e.begin;
                for (long done = 0; done < count; ) {
                    int n = (int) Math.min((long) buf.capacity() / width, count - done);
                    buf.clear().limit(n * width);
                    in.read(buf, pos);
                    pos += (long) n * width;
                    buf.flip();
                    int hit = width == 4
                            ? NonFinite.firstIn(ints, buf.asIntBuffer(), n, exponent)
                            : NonFinite.firstIn(shorts, buf.asShortBuffer(), n, (short) exponent);
                    if (hit >= 0) return done + hit;
                    done += n;
                }
            } catch (IOException ex) {
                throw new UncheckedIOException(
                        "cannot read tensor '" + name + "' of " + e.source.name() + ": " + oneLine(ex), ex);
            }
            return -1;
        }

        /** The file (or in-memory source) that holds {@code name}, as errors name it. */
        public String fileOf(String name) {
            return entry(name).source.name();
        }

        /** The tensor called {@code name}, checked to have exactly the expected shape. */
        public Tensor get(String name, int... expectedShape) {
            int[] shape = entry(name).shape;
            if (!Arrays.equals(shape, expectedShape)) {
                throw new IllegalArgumentException("tensor '" + name + "' has shape " + Arrays.toString(shape)
                        + ", expected " + Arrays.toString(expectedShape));
            }
            return get(name);
        }
    }

    /**
     * Builds a safetensors file: tensors in the order added, metadata, then {@link #toBytes} or {@link #writeTo}.
     * Tensors are encoded as they are added (into memory, or a scratch file for a spooled writer).
     */
    public static final class Writer implements AutoCloseable {
        private final Path spool;
        private final FileChannel spoolChannel;
        private final ByteArrayOutputStream memory;
        private final ObjectNode tensors = JSON.createObjectNode();
        private final TreeMap<String, String> metadata = new TreeMap<>();
        private long offset;
        private boolean checksummed;

        private Writer(Path spool) {
            this.spool = spool;
            try {
                this.spoolChannel = spool == null ? null : FileChannel.open(spool, StandardOpenOption.WRITE);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot open " + spool + ": " + oneLine(e), e);
            }
            this.memory = spool == null ? new ByteArrayOutputStream() : null;
        }

        /** Adds the {@link #CHECKSUM} of the whole file to its metadata (in-memory writers only). */
        public Writer checksummed() {
            if (memory == null) throw new IllegalStateException("only an in-memory writer adds a checksum");
            checksummed = true;
            return this;
        }

        public Writer metadata(String key, String value) {
            metadata.put(key, value);
            return this;
        }

        /** Adds a float tensor stored as {@code dtype} (F32, F16 or BF16; BF16 rounds to nearest even). */
        public Writer add(String name, DType dtype, Tensor tensor) {
            float[] v = tensor.data();
            int width = switch (dtype) {
                case F32 -> 4;
                case F16, BF16 -> 2;
                default -> throw new IllegalArgumentException("floats are written as F32, F16 or BF16, not " + dtype);
            };
            ByteBuffer b = ByteBuffer.allocate(v.length * width).order(ByteOrder.LITTLE_ENDIAN);
            for (float x : v) {
                switch (dtype) {
                    case F32 -> b.putFloat(x);
                    case F16 -> b.putShort(Float.floatToFloat16(x));
                    default -> b.putShort(bfloat16(x));
                }
            }
            return addRaw(name, dtype, tensor.shape(), b.flip());
        }

        /** Adds a tensor given as its stored little-endian bytes (checked against shape and dtype). */
        public Writer addRaw(String name, DType dtype, int[] shape, ByteBuffer bytes) {
            if (name.equals(METADATA) || tensors.has(name)) {
                throw new IllegalArgumentException("tensor name '" + name + "' is reserved or already used");
            }
            long size = bytes.remaining();
            if (size != dtype.bytes(count(shape))) {
                throw new IllegalArgumentException("tensor '" + name + "': " + size + " bytes for shape "
                        + Arrays.toString(shape) + " of " + dtype);
            }
            ObjectNode t = tensors.putObject(name);
            t.put("dtype", dtype.name());
            ArrayNode s = t.putArray("shape");
            for (int d : shape) s.add(d);
            t.putArray("data_offsets").add(offset).add(offset + size);
            offset += size;
            ByteBuffer data = bytes.duplicate();
            try {
                if (spoolChannel != null) AtomicFiles.writeFully(spoolChannel, data);
                else while (data.hasRemaining()) memory.write(data.get());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write tensor '" + name + "': " + oneLine(e), e);
            }
            return this;
        }

        /** The file's bytes (in-memory writers only). */
        public byte[] toBytes() {
            if (memory == null) throw new IllegalStateException("a spooled writer writes to a file: use writeTo");
            if (checksummed) metadata.put(CHECKSUM, CHECKSUM_PLACEHOLDER);
            byte[] header = header();
            byte[] data = memory.toByteArray();
            byte[] out = Arrays.copyOf(header, header.length + data.length);
            System.arraycopy(data, 0, out, header.length, data.length);
            if (checksummed) {
                java.util.zip.CRC32 crc = new java.util.zip.CRC32();
                crc.update(out);
                byte[] field =
                        ("\"" + CHECKSUM + "\":\"" + CHECKSUM_PLACEHOLDER + "\"").getBytes(StandardCharsets.UTF_8);
                int digits = Reader.indexOf(header, field) + field.length - 1 - CHECKSUM_PLACEHOLDER.length();
                byte[] hex = String.format("%08x", crc.getValue()).getBytes(StandardCharsets.UTF_8);
                System.arraycopy(hex, 0, out, digits, hex.length);
                metadata.remove(CHECKSUM);
            }
            return out;
        }

        /** Writes the file atomically. */
        public void writeTo(Path file) {
            if (memory != null) {
                AtomicFiles.write(file, toBytes());
                return;
            }
            AtomicFiles.write(file, out -> {
                AtomicFiles.writeFully(out, ByteBuffer.wrap(header()));
                spoolChannel.force(false);
                try (FileChannel in = FileChannel.open(spool, StandardOpenOption.READ)) {
                    for (long pos = 0, size = in.size(); pos < size; ) pos += in.transferTo(pos, size - pos, out);
                }
            });
        }

        /** Length, JSON ({@code __metadata__} first when there is any), spaces to a multiple of 8 bytes. */
        private byte[] header() {
            ObjectNode root = JSON.createObjectNode();
            if (!metadata.isEmpty()) metadata.forEach(root.putObject(METADATA)::put);
            root.setAll(tensors);
            byte[] json;
            try {
                json = JSON.writeValueAsBytes(root);
            } catch (IOException e) {
                throw new IllegalStateException("cannot encode a safetensors header", e);
            }
            int padded = (json.length + 7) / 8 * 8;
            ByteBuffer out = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
            out.putLong(padded).put(json);
            while (out.hasRemaining()) out.put((byte) ' ');
            return out.array();
        }

        /** Deletes the scratch file of a spooled writer. */
        @Override
        public void close() {
            if (spool == null) return;
            try {
                spoolChannel.close();
                Files.deleteIfExists(spool);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete " + spool + ": " + oneLine(e), e);
            }
        }
    }

    /** Where a file's bytes are: on disk, or in memory. */
    private sealed interface Source {
        String name();

        long size();

        Open open() throws IOException;

        default void read(ByteBuffer dst, long position) throws IOException {
            try (Open in = open()) {
                in.read(dst, position);
            }
        }

        interface Open extends AutoCloseable {
            void read(ByteBuffer dst, long position) throws IOException;

            @Override
            void close() throws IOException;
        }

        record File(Path path, long size) implements Source {
            public String name() {
                return path.toString();
            }

            public Open open() throws IOException {
                FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
                return new Open() {
                    public void read(ByteBuffer dst, long position) throws IOException {
                        while (dst.hasRemaining()) {
                            if (ch.read(dst, position + dst.position()) < 0) {
                                throw new IOException("unexpected end of file");
                            }
                        }
                    }

                    public void close() throws IOException {
                        ch.close();
                    }
                };
            }
        }

        record Bytes(byte[] bytes, String name) implements Source {
            public long size() {
                return bytes.length;
            }

            public Open open() {
                return new Open() {
                    public void read(ByteBuffer dst, long position) throws IOException {
                        int n = dst.remaining();
                        if (position + n > bytes.length) throw new IOException("unexpected end of data");
                        dst.put(bytes, (int) position, n);
                    }

                    public void close() {}
                };
            }
        }
    }

    static long count(int[] shape) {
        long n = 1;
        for (int s : shape) n = Math.multiplyExact(n, s);
        return n;
    }

    /** Float to bfloat16, rounding to nearest even (NaN stays NaN). */
    static short bfloat16(float x) {
        int bits = Float.floatToRawIntBits(x);
        if (Float.isNaN(x)) return (short) ((bits >>> 16) | 0x40);
        bits += 0x7fff + ((bits >>> 16) & 1);
        return (short) (bits >>> 16);
    }

    private static String oneLine(Exception e) {
        String m = e.getMessage();
        return (m == null ? e.getClass().getSimpleName() : m)
                .replace((char) 10, (char) 32)
                .strip();
    }
}
