package io.dijiang4j.plugin.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (versions 2 and 3, little-endian), memory-mapped: the header, metadata and tensor infos are parsed and
 * checked when it is opened; tensor data is mapped and dequantized on demand. Every offset and size is checked
 * against the file length, so a truncated or inconsistent file is a {@link GgufException} naming the file and what
 * is wrong, never a buffer exception.
 *
 * <p>Layout (ggml's docs/gguf.md): magic "GGUF", uint32 version, uint64 tensor count, uint64 metadata count, the
 * metadata key/value pairs, the tensor infos (name, uint32 n_dims, uint64 dims[n_dims] with the fastest-varying
 * dimension first, uint32 ggml type, uint64 offset), padding to {@code general.alignment} (default 32), then the
 * tensor data, each tensor at its offset (a multiple of the alignment) from the start of the data section.
 */
public final class GgufFile implements AutoCloseable {
    /** "GGUF" read as a little-endian uint32. */
    static final int MAGIC = 0x46554747;

    static final int DEFAULT_ALIGNMENT = 32;
    private static final int MAX_DIMS = 4;

    /** GGUF metadata value types ({@code enum gguf_type}). */
    public enum ValueType {
        UINT8(1),
        INT8(1),
        UINT16(2),
        INT16(2),
        UINT32(4),
        INT32(4),
        FLOAT32(4),
        BOOL(1),
        STRING(8),
        ARRAY(12),
        UINT64(8),
        INT64(8),
        FLOAT64(8);

        /** The fewest bytes one value of this type takes (used to refuse absurd array lengths early). */
        final int minBytes;

        ValueType(int minBytes) {
            this.minBytes = minBytes;
        }
    }

    /**
     * One metadata value. Integers are {@link Long} (UINT64 above 2^63 - 1 wraps, as Java has no unsigned long),
     * FLOAT32 is {@link Float}, FLOAT64 {@link Double}, BOOL {@link Boolean}, STRING {@link String}, ARRAY a
     * {@link List} of such values with {@code elementType} giving their type.
     */
    public record Value(ValueType type, ValueType elementType, Object value) {}

    /** A tensor's description; {@code dims[0]} is the fastest-varying (contiguous) dimension, as in ggml. */
    public record TensorInfo(String name, long[] dims, GgmlType type, long offset, long elements, long bytes) {
        /** The dims slowest first, as safetensors and PyTorch write shapes. */
        public long[] rowMajorShape() {
            long[] shape = new long[dims.length];
            for (int i = 0; i < dims.length; i++) shape[i] = dims[dims.length - 1 - i];
            return shape;
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final long fileSize;
    private final int version;
    private final Map<String, Value> metadata;
    private final Map<String, TensorInfo> tensors;
    private final int alignment;
    private final long dataStart;

    private GgufFile(Path path, FileChannel channel) throws IOException {
        this.path = path;
        this.channel = channel;
        this.fileSize = channel.size();
        // The header is parsed from one mapping of at most 2 GiB; a header larger than that is refused (real ones
        // are a few MB: the vocabulary).
        MappedByteBuffer head = channel.map(FileChannel.MapMode.READ_ONLY, 0, Math.min(fileSize, Integer.MAX_VALUE));
        Cursor in = new Cursor(head.order(ByteOrder.LITTLE_ENDIAN));
        if (fileSize < 4) throw fail("truncated: " + fileSize + " bytes, not even the 4-byte magic");
        int magic = in.i32("the magic");
        if (magic != MAGIC) {
            throw fail("not a GGUF file: magic is " + printable(magic) + ", expected \"GGUF\"");
        }
        int v = in.i32("the version");
        if (v == 2 || v == 3) {
            version = v;
        } else if (Integer.reverseBytes(v) == 2 || Integer.reverseBytes(v) == 3) {
            throw fail("big-endian GGUF (version " + Integer.reverseBytes(v) + ") is not supported");
        } else {
            throw fail("unsupported GGUF version " + Integer.toUnsignedString(v) + " (supported: 2, 3)");
        }
        long tensorCount = in.u64("the tensor count");
        long metadataCount = in.u64("the metadata count");
        // Each entry takes at least 8 bytes: a count larger than the file is corrupt, not a reason to allocate.
        if (tensorCount < 0 || tensorCount > fileSize / 8) throw fail("corrupt tensor count " + tensorCount);
        if (metadataCount < 0 || metadataCount > fileSize / 8) throw fail("corrupt metadata count " + metadataCount);

        Map<String, Value> meta = new LinkedHashMap<>();
        for (long i = 0; i < metadataCount; i++) {
            String key = in.string("metadata key #" + i);
            long typeId = Integer.toUnsignedLong(in.i32("the type of metadata key '" + key + "'"));
            ValueType type = valueType(typeId, "metadata key '" + key + "'");
            Value value = readValue(in, type, key);
            if (meta.put(key, value) != null) throw fail("metadata key '" + key + "' appears twice");
        }
        this.metadata = Collections.unmodifiableMap(meta);

        Value align = meta.get("general.alignment");
        if (align == null) {
            alignment = DEFAULT_ALIGNMENT;
        } else {
            if (align.type() != ValueType.UINT32) {
                throw fail("general.alignment is " + align.type() + ", expected UINT32");
            }
            long a = (Long) align.value();
            if (a <= 0 || Long.bitCount(a) != 1) {
                throw fail("general.alignment is " + a + ", expected a power of two");
            }
            alignment = (int) a;
        }

        Map<String, TensorInfo> infos = new LinkedHashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = in.string("the name of tensor #" + i);
            String what = "tensor '" + name + "'";
            int nDims = in.i32("the dimension count of " + what);
            if (nDims < 1 || nDims > MAX_DIMS) {
                throw fail(what + " has " + Integer.toUnsignedString(nDims) + " dimensions, expected 1 to " + MAX_DIMS);
            }
            long[] dims = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                dims[d] = in.u64("dimension " + d + " of " + what);
                if (dims[d] <= 0) throw fail(what + " has dimension " + d + " = " + Long.toUnsignedString(dims[d]));
                try {
                    elements = Math.multiplyExact(elements, dims[d]);
                } catch (ArithmeticException e) {
                    throw fail(what + " has " + Arrays.toString(dims) + " elements, more than 2^63");
                }
            }
            long typeId = Integer.toUnsignedLong(in.i32("the type of " + what));
            GgmlType type = GgmlType.byId(typeId);
            if (type == null) throw fail(what + " has unknown ggml type " + typeId);
            if (dims[0] % type.blockSize != 0) {
                throw fail(what + " has a row of " + dims[0] + " elements, not a multiple of " + type + "'s block of "
                        + type.blockSize);
            }
            long offset = in.u64("the offset of " + what);
            if (offset < 0 || offset % alignment != 0) {
                throw fail(what + " is at data offset " + Long.toUnsignedString(offset)
                        + ", not a multiple of the alignment " + alignment);
            }
            long bytes;
            try {
                bytes = type.bytesFor(elements);
            } catch (ArithmeticException e) {
                throw fail(what + " is larger than 2^63 bytes");
            }
            if (infos.put(name, new TensorInfo(name, dims, type, offset, elements, bytes)) != null) {
                throw fail(what + " appears twice");
            }
        }
        this.tensors = Collections.unmodifiableMap(infos);
        long afterInfos = in.position();
        this.dataStart = (afterInfos + alignment - 1) / alignment * alignment;
        checkTensorExtents();
    }

    /**
     * Opens and parses {@code path}. Throws {@link GgufException} if it is not a readable, consistent GGUF file.
     */
    public static GgufFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new GgufException(path + ": no such file");
        } catch (IOException e) {
            throw new GgufException(path + ": cannot open: " + e.getMessage());
        }
        try {
            return new GgufFile(path, ch);
        } catch (IOException e) {
            closeQuietly(ch);
            throw new GgufException(path + ": cannot read: " + e.getMessage());
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private void checkTensorExtents() {
        List<TensorInfo> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::offset));
        TensorInfo previous = null;
        for (TensorInfo t : byOffset) {
            long end = dataStart + t.offset() + t.bytes();
            if (end < 0 || end > fileSize) {
                throw fail("tensor '" + t.name() + "' (" + t.type() + ", " + t.bytes() + " bytes at "
                        + (dataStart + t.offset()) + ") ends at byte " + end + ", past the end of the file (" + fileSize
                        + " bytes): truncated?");
            }
            if (previous != null && previous.offset() + previous.bytes() > t.offset()) {
                throw fail("tensors '" + previous.name() + "' and '" + t.name() + "' overlap");
            }
            previous = t;
        }
    }

    private Value readValue(Cursor in, ValueType type, String key) {
        String what = "the value of metadata key '" + key + "'";
        return switch (type) {
            case ARRAY -> {
                long elementTypeId = Integer.toUnsignedLong(in.i32("the element type of " + what));
                ValueType elementType = valueType(elementTypeId, "the array of metadata key '" + key + "'");
                long count = in.u64("the length of " + what);
                if (count < 0 || count > (fileSize - in.position()) / elementType.minBytes) {
                    throw fail("metadata key '" + key + "' claims " + Long.toUnsignedString(count) + " "
                            + elementType + " elements, more than the remaining " + (fileSize - in.position())
                            + " bytes can hold: truncated?");
                }
                List<Object> list = new ArrayList<>((int) count);
                for (long i = 0; i < count; i++)
                    list.add(readValue(in, elementType, key + "[" + i + "]").value());
                yield new Value(ValueType.ARRAY, elementType, Collections.unmodifiableList(list));
            }
            case UINT8 -> new Value(type, null, (long) (in.bytes(1, what).get() & 0xFF));
            case INT8 -> new Value(type, null, (long) in.bytes(1, what).get());
            case UINT16 -> new Value(type, null, (long) (in.bytes(2, what).getShort() & 0xFFFF));
            case INT16 -> new Value(type, null, (long) in.bytes(2, what).getShort());
            case UINT32 -> new Value(type, null, Integer.toUnsignedLong(in.i32(what)));
            case INT32 -> new Value(type, null, (long) in.i32(what));
            case UINT64, INT64 -> new Value(type, null, in.u64(what));
            case FLOAT32 -> new Value(type, null, Float.intBitsToFloat(in.i32(what)));
            case FLOAT64 -> new Value(type, null, Double.longBitsToDouble(in.u64(what)));
            case BOOL -> {
                byte b = in.bytes(1, what).get();
                if (b != 0 && b != 1) throw fail(what + " is a BOOL holding " + b);
                yield new Value(type, null, b == 1);
            }
            case STRING -> new Value(type, null, in.string(what));
        };
    }

    private ValueType valueType(long id, String what) {
        ValueType[] all = ValueType.values();
        if (id >= all.length) throw fail(what + " has unknown value type " + id);
        return all[(int) id];
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public int alignment() {
        return alignment;
    }

    /** The byte offset where the tensor data section starts. */
    public long dataStart() {
        return dataStart;
    }

    public Map<String, Value> metadata() {
        return metadata;
    }

    /** Tensor infos in file order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** The tensor named {@code name}; a {@link GgufException} if there is none. */
    public TensorInfo tensor(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) throw fail("has no tensor '" + name + "'");
        return t;
    }

    /** Whether the metadata has {@code key}. */
    public boolean has(String key) {
        return metadata.containsKey(key);
    }

    /** A string value; a {@link GgufException} if absent or not a string. */
    public String string(String key) {
        return (String) typed(key, ValueType.STRING).value();
    }

    /** An integer value of any integer type; a {@link GgufException} if absent or not an integer. */
    public long integer(String key) {
        Value v = required(key);
        return switch (v.type()) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> (Long) v.value();
            default -> throw fail("metadata key '" + key + "' is " + v.type() + ", expected an integer");
        };
    }

    /** A floating-point value (FLOAT32 or FLOAT64); a {@link GgufException} if absent or of another type. */
    public double floating(String key) {
        Value v = required(key);
        return switch (v.type()) {
            case FLOAT32 -> Double.parseDouble(Float.toString((Float) v.value())); // 1e-5f -> 1e-5, not 9.99..e-6
            case FLOAT64 -> (Double) v.value();
            default -> throw fail("metadata key '" + key + "' is " + v.type() + ", expected FLOAT32 or FLOAT64");
        };
    }

    /** A BOOL value; a {@link GgufException} if absent or of another type. */
    public boolean bool(String key) {
        return (Boolean) typed(key, ValueType.BOOL).value();
    }

    /** An array of strings; a {@link GgufException} if absent or of another type. */
    @SuppressWarnings("unchecked")
    public List<String> strings(String key) {
        Value v = typed(key, ValueType.ARRAY);
        if (v.elementType() != ValueType.STRING) {
            throw fail("metadata key '" + key + "' is an array of " + v.elementType() + ", expected STRING");
        }
        return (List<String>) v.value();
    }

    /** An array of integers as ints; a {@link GgufException} if absent, of another type, or out of int range. */
    public int[] ints(String key) {
        Value v = typed(key, ValueType.ARRAY);
        switch (v.elementType()) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> {}
            default ->
                throw fail("metadata key '" + key + "' is an array of " + v.elementType() + ", expected integers");
        }
        List<?> list = (List<?>) v.value();
        int[] out = new int[list.size()];
        for (int i = 0; i < out.length; i++) {
            long x = (Long) list.get(i);
            if (x != (int) x) throw fail("metadata key '" + key + "'[" + i + "] = " + x + " is out of int range");
            out[i] = (int) x;
        }
        return out;
    }

    private Value required(String key) {
        Value v = metadata.get(key);
        if (v == null) throw fail("lacks metadata key '" + key + "'");
        return v;
    }

    private Value typed(String key, ValueType type) {
        Value v = required(key);
        if (v.type() != type) throw fail("metadata key '" + key + "' is " + v.type() + ", expected " + type);
        return v;
    }

    /**
     * Maps the raw bytes of {@code t} (read-only, little-endian). Tensors over 2 GiB are refused: they would not fit
     * one float[] after dequantization either.
     */
    public ByteBuffer rawData(TensorInfo t) {
        if (t.bytes() > Integer.MAX_VALUE) {
            throw fail("tensor '" + t.name() + "' has " + t.bytes() + " bytes; tensors over 2 GiB are not supported");
        }
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.offset(), t.bytes())
                    .order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw fail("cannot map tensor '" + t.name() + "': " + e.getMessage());
        }
    }

    /** The tensor dequantized to float, in ggml order (dims[0] fastest). */
    public float[] floats(TensorInfo t) {
        if (!t.type().dequantizable) {
            throw fail("tensor '" + t.name() + "' has type " + t.type() + ", which this reader cannot dequantize"
                    + " (supported: " + GgmlType.supportedNames() + ")");
        }
        if (t.elements() > Integer.MAX_VALUE - 8) {
            throw fail("tensor '" + t.name() + "' has " + t.elements() + " elements, more than one Java array holds");
        }
        float[] out = new float[(int) t.elements()];
        t.type().dequantize(rawData(t), out, out.length);
        return out;
    }

    /** A {@link GgufException} whose message starts with this file's path. */
    GgufException fail(String problem) {
        return new GgufException(path + ": " + problem);
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // read-only: nothing is lost
        }
    }

    private static String printable(int magic) {
        byte[] b = ByteBuffer.allocate(4)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putInt(magic)
                .array();
        StringBuilder s = new StringBuilder("\"");
        for (byte x : b) {
            int c = x & 0xFF;
            s.append(c >= 0x20 && c < 0x7F ? Character.toString(c) : String.format("\\x%02x", c));
        }
        return s.append('"').toString();
    }

    /** Sequential reads with every length checked against the file size (not only the mapping's limit). */
    private final class Cursor {
        private final ByteBuffer buf;

        Cursor(ByteBuffer buf) {
            this.buf = buf;
        }

        long position() {
            return buf.position();
        }

        ByteBuffer bytes(long n, String what) {
            long pos = buf.position();
            if (n < 0 || pos + n > fileSize) {
                throw fail("truncated: " + what + " needs " + Long.toUnsignedString(n) + " bytes at offset " + pos
                        + ", the file has " + fileSize);
            }
            if (pos + n > buf.limit()) throw fail("header larger than 2 GiB is not supported (at " + what + ")");
            ByteBuffer slice = buf.slice(buf.position(), (int) n).order(ByteOrder.LITTLE_ENDIAN);
            buf.position((int) (pos + n));
            return slice;
        }

        int i32(String what) {
            return bytes(4, what).getInt();
        }

        long u64(String what) {
            return bytes(8, what).getLong();
        }

        String string(String what) {
            long length = u64("the length of " + what);
            if (length < 0 || length > fileSize - buf.position()) {
                throw fail("truncated: " + what + " claims " + Long.toUnsignedString(length) + " bytes at offset "
                        + buf.position() + ", the file has " + fileSize);
            }
            ByteBuffer b = bytes(length, what);
            byte[] a = new byte[(int) length];
            b.get(a);
            return new String(a, StandardCharsets.UTF_8);
        }
    }
}
