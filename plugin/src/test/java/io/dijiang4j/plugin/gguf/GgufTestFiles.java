package io.dijiang4j.plugin.gguf;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Writes small GGUF files for tests, byte by byte from the format description (ggml docs/gguf.md), independently of
 * {@link GgufFile}; and makes random blocks of each tensor type.
 */
final class GgufTestFiles {
    /** Value type ids (gguf_type). */
    static final int UINT8 = 0,
            INT8 = 1,
            UINT16 = 2,
            INT16 = 3,
            UINT32 = 4,
            INT32 = 5,
            FLOAT32 = 6,
            BOOL = 7,
            STRING = 8,
            ARRAY = 9,
            UINT64 = 10,
            INT64 = 11,
            FLOAT64 = 12;

    record Meta(String key, int type, Object value, int elementType) {}

    /** A tensor: ggml dims (fastest first), ggml type id, raw data; offset -1 means "next aligned position". */
    record Tensor(String name, long[] dims, int typeId, byte[] data, long offset) {}

    int version = 3;
    int magic = GgufFile.MAGIC;
    /** The alignment used to lay out data; written as general.alignment only if {@link #writeAlignment}. */
    int alignment = 32;

    boolean writeAlignment;
    final List<Meta> meta = new ArrayList<>();
    final List<Tensor> tensors = new ArrayList<>();

    GgufTestFiles put(String key, int type, Object value) {
        meta.add(new Meta(key, type, value, -1));
        return this;
    }

    GgufTestFiles putArray(String key, int elementType, List<?> values) {
        meta.add(new Meta(key, ARRAY, values, elementType));
        return this;
    }

    GgufTestFiles tensor(String name, long[] dims, int typeId, byte[] data) {
        tensors.add(new Tensor(name, dims, typeId, data, -1));
        return this;
    }

    GgufTestFiles tensorAt(String name, long[] dims, int typeId, byte[] data, long offset) {
        tensors.add(new Tensor(name, dims, typeId, data, offset));
        return this;
    }

    byte[] bytes() {
        Out out = new Out();
        out.i32(magic);
        out.i32(version);
        out.i64(tensors.size());
        List<Meta> all = new ArrayList<>(meta);
        if (writeAlignment) all.add(0, new Meta("general.alignment", UINT32, (long) alignment, -1));
        out.i64(all.size());
        for (Meta m : all) {
            out.string(m.key());
            out.i32(m.type());
            if (m.type() == ARRAY) {
                out.i32(m.elementType());
                List<?> list = (List<?>) m.value();
                out.i64(list.size());
                for (Object v : list) out.value(m.elementType(), v);
            } else {
                out.value(m.type(), m.value());
            }
        }
        long[] offsets = new long[tensors.size()];
        long next = 0;
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = tensors.get(i);
            offsets[i] = t.offset() >= 0 ? t.offset() : next;
            next = align(Math.max(next, offsets[i] + t.data().length), alignment);
        }
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = tensors.get(i);
            out.string(t.name());
            out.i32(t.dims().length);
            for (long d : t.dims()) out.i64(d);
            out.i32(t.typeId());
            out.i64(offsets[i]);
        }
        while (out.size() % alignment != 0) out.write(0);
        long dataStart = out.size();
        byte[] header = out.toByteArray();
        long end = dataStart;
        for (int i = 0; i < tensors.size(); i++)
            end = Math.max(end, dataStart + offsets[i] + tensors.get(i).data().length);
        byte[] file = new byte[Math.toIntExact(end)];
        System.arraycopy(header, 0, file, 0, header.length);
        for (int i = 0; i < tensors.size(); i++) {
            byte[] d = tensors.get(i).data();
            System.arraycopy(d, 0, file, (int) (dataStart + offsets[i]), d.length);
        }
        return file;
    }

    Path write(Path file) throws IOException {
        Files.write(file, bytes());
        return file;
    }

    static long align(long x, long a) {
        return (x + a - 1) / a * a;
    }

    private static final class Out extends ByteArrayOutputStream {
        void i32(int v) {
            writeBytes(ByteBuffer.allocate(4)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putInt(v)
                    .array());
        }

        void i64(long v) {
            writeBytes(ByteBuffer.allocate(8)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putLong(v)
                    .array());
        }

        void string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            writeBytes(b);
        }

        void value(int type, Object v) {
            switch (type) {
                case UINT8, INT8, BOOL -> write((int) toLong(v));
                case UINT16, INT16 ->
                    writeBytes(ByteBuffer.allocate(2)
                            .order(ByteOrder.LITTLE_ENDIAN)
                            .putShort((short) toLong(v))
                            .array());
                case UINT32, INT32 -> i32((int) toLong(v));
                case UINT64, INT64 -> i64(toLong(v));
                case FLOAT32 -> i32(Float.floatToRawIntBits(((Number) v).floatValue()));
                case FLOAT64 -> i64(Double.doubleToRawLongBits(((Number) v).doubleValue()));
                case STRING -> string((String) v);
                case ARRAY -> { // nested: value is Meta-like {elementType, list}
                    NestedArray a = (NestedArray) v;
                    i32(a.elementType());
                    i64(a.values().size());
                    for (Object x : a.values()) value(a.elementType(), x);
                }
                default -> i32(0); // an unknown type id is written by the caller's test on purpose
            }
        }

        private static long toLong(Object v) {
            return v instanceof Boolean b ? (b ? 1 : 0) : ((Number) v).longValue();
        }
    }

    /** An array inside an array. */
    record NestedArray(int elementType, List<?> values) {}

    // ---- random tensor data, block by block ----

    /** A random finite, non-zero fp16 with magnitude in [2^-8, 2^2). */
    static short randomHalf(SplittableRandom r) {
        int exponent = 15 - 8 + r.nextInt(10); // biased exponent
        int mantissa = r.nextInt(1024);
        int sign = r.nextBoolean() ? 0x8000 : 0;
        return (short) (sign | (exponent << 10) | mantissa);
    }

    /** Random raw bytes for {@code elements} elements of {@code type}: every scale finite and non-zero. */
    static byte[] randomData(GgmlType type, int elements, SplittableRandom r) {
        ByteBuffer b = ByteBuffer.allocate((int) type.bytesFor(elements)).order(ByteOrder.LITTLE_ENDIAN);
        int blocks = elements / type.blockSize;
        for (int blk = 0; blk < blocks; blk++) {
            switch (type) {
                case F32 -> b.putFloat((float) r.nextGaussian() * 3);
                case F16 -> b.putShort(r.nextInt(8) == 0 ? (short) (r.nextInt(1024)) : randomHalf(r)); // subnormals too
                case BF16 -> b.putShort((short) (Float.floatToRawIntBits((float) r.nextGaussian() * 5) >>> 16));
                case Q4_0, Q8_0, Q5_0 -> {
                    b.putShort(randomHalf(r));
                    if (type == GgmlType.Q5_0) b.putInt(r.nextInt());
                    fillRandom(b, type == GgmlType.Q8_0 ? 32 : 16, r);
                }
                case Q4_1, Q5_1 -> {
                    b.putShort(randomHalf(r));
                    b.putShort(randomHalf(r));
                    if (type == GgmlType.Q5_1) b.putInt(r.nextInt());
                    fillRandom(b, 16, r);
                }
                case Q4_K, Q5_K -> {
                    b.putShort(randomHalf(r));
                    b.putShort(randomHalf(r));
                    fillRandom(b, type.blockBytes - 4, r);
                }
                case Q6_K -> {
                    fillRandom(b, type.blockBytes - 2, r);
                    b.putShort(randomHalf(r));
                }
                default -> fillRandom(b, type.blockBytes, r);
            }
        }
        return b.array();
    }

    private static void fillRandom(ByteBuffer b, int n, SplittableRandom r) {
        for (int i = 0; i < n; i++) b.put((byte) r.nextInt(256));
    }

    /** IEEE half to double, from the bit layout (1 sign, 5 exponent, 10 mantissa bits). */
    static double half(int bits) {
        int sign = (bits >> 15) & 1, exponent = (bits >> 10) & 0x1F, mantissa = bits & 0x3FF;
        double magnitude = exponent == 0
                ? mantissa * Math.pow(2, -24)
                : exponent == 31
                        ? (mantissa == 0 ? Double.POSITIVE_INFINITY : Double.NaN)
                        : (1 + mantissa / 1024.0) * Math.pow(2, exponent - 15);
        return sign == 1 ? -magnitude : magnitude;
    }

    /**
     * Float64 dequantization of {@code data}, written from ggml's block definitions: per block of 32, Q4_0 holds an
     * fp16 scale d and 16 bytes whose low nibbles are elements 0-15 and high nibbles elements 16-31, value (q-8)d;
     * Q4_1 adds an fp16 minimum m, value q d + m; Q5_0/Q5_1 add a uint32 whose bit e is the fifth bit of element e,
     * values (q-16)d and q d + m; Q8_0 is d and 32 int8, value q d.
     */
    static double[] reference(GgmlType type, byte[] data, int elements) {
        return reference(type, data, elements, new double[elements]);
    }

    /**
     * As {@link #reference(GgmlType, byte[], int)}, also filling {@code terms[e]} with the sum of the magnitudes of
     * the terms element e is made of (what float rounding errors scale with). Super-blocks of 256 (ggml-common.h):
     * Q4_K is fp16 d, fp16 dmin, 12 bytes packing eight 6-bit scales and mins, 128 bytes of nibbles (each 64
     * elements: 32 low nibbles, then the same 32 bytes' high nibbles), value d*scale*q - dmin*min per sub-block of
     * 32; Q5_K adds 32 bytes whose bit s of byte l is the fifth bit of element l of sub-block s; Q6_K is 128 bytes of
     * low nibbles, 64 bytes of 2-bit highs, 16 int8 scales (one per 16 elements) and fp16 d last, value
     * d*scale*(q-32).
     */
    static double[] reference(GgmlType type, byte[] data, int elements, double[] terms) {
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        double[] y = new double[elements];
        switch (type) {
            case F32 -> {
                for (int i = 0; i < elements; i++) y[i] = b.getFloat(4 * i);
            }
            case F16 -> {
                for (int i = 0; i < elements; i++) y[i] = half(b.getShort(2 * i) & 0xFFFF);
            }
            case BF16 -> {
                for (int i = 0; i < elements; i++) {
                    int bits = b.getShort(2 * i) & 0xFFFF;
                    int sign = bits >> 15, exponent = (bits >> 7) & 0xFF, mantissa = bits & 0x7F;
                    double m = exponent == 0
                            ? mantissa / 128.0 * Math.pow(2, -126)
                            : (1 + mantissa / 128.0) * Math.pow(2, exponent - 127);
                    y[i] = sign == 1 ? -m : m;
                }
            }
            case Q4_K, Q5_K -> {
                for (int e = 0; e < elements; e++) {
                    int base = (e / 256) * type.blockBytes, k = e % 256, sub = k / 32, l = k % 32;
                    double d = half(b.getShort(base) & 0xFFFF), dmin = half(b.getShort(base + 2) & 0xFFFF);
                    int[] packed = new int[12];
                    for (int i = 0; i < 12; i++) packed[i] = b.get(base + 4 + i) & 0xFF;
                    int scale = sub < 4 ? packed[sub] & 63 : (packed[sub + 4] & 15) | ((packed[sub - 4] >> 6) << 4);
                    int min = sub < 4 ? packed[sub + 4] & 63 : (packed[sub + 4] >> 4) | ((packed[sub] >> 6) << 4);
                    int qs = type == GgmlType.Q5_K ? base + 48 : base + 16;
                    int nibbles = b.get(qs + 32 * (sub / 2) + l) & 0xFF;
                    int q = sub % 2 == 0 ? nibbles & 15 : nibbles >> 4;
                    if (type == GgmlType.Q5_K) q += ((b.get(base + 16 + l) >> sub) & 1) * 16;
                    y[e] = d * scale * q - dmin * min;
                    terms[e] = Math.abs(d * scale * q) + Math.abs(dmin * min);
                }
            }
            case Q6_K -> {
                for (int e = 0; e < elements; e++) {
                    int base = (e / 256) * type.blockBytes, k = e % 256, half = k / 128, quarter = (k % 128) / 32;
                    int l = k % 32;
                    int low = b.get(base + 64 * half + l + (quarter % 2) * 32) & 0xFF;
                    int lowBits = quarter < 2 ? low & 15 : low >> 4;
                    int highBits = ((b.get(base + 128 + 32 * half + l) & 0xFF) >> (2 * quarter)) & 3;
                    int scale = b.get(base + 192 + 8 * half + l / 16 + 2 * quarter);
                    double d = half(b.getShort(base + 208) & 0xFFFF);
                    y[e] = d * scale * ((lowBits | (highBits << 4)) - 32);
                    terms[e] = Math.abs(y[e]);
                }
            }
            default -> {
                for (int e = 0; e < elements; e++) {
                    int base = (e / 32) * type.blockBytes, j = e % 32;
                    double d = half(b.getShort(base) & 0xFFFF);
                    switch (type) {
                        case Q8_0 -> y[e] = b.get(base + 2 + j) * d;
                        case Q4_0 -> y[e] = (nibble(b, base + 2, j) - 8) * d;
                        case Q4_1 -> y[e] = nibble(b, base + 4, j) * d + half(b.getShort(base + 2) & 0xFFFF);
                        case Q5_0 -> {
                            long qh = b.getInt(base + 2) & 0xFFFFFFFFL;
                            y[e] = ((nibble(b, base + 6, j) | (((qh >> j) & 1) << 4)) - 16) * d;
                        }
                        case Q5_1 -> {
                            long qh = b.getInt(base + 4) & 0xFFFFFFFFL;
                            double m = half(b.getShort(base + 2) & 0xFFFF);
                            y[e] = (nibble(b, base + 8, j) | (((qh >> j) & 1) << 4)) * d + m;
                        }
                        default -> throw new IllegalArgumentException("no reference for " + type);
                    }
                    terms[e] = Math.abs(y[e]) + 16 * Math.abs(d); // q*d and, for Q4_1/Q5_1, the minimum (< 4 d here)
                }
            }
        }
        return y;
    }

    /** Element j (0-31) of a block's 16 nibble bytes: low nibbles first, then high nibbles. */
    private static int nibble(ByteBuffer b, int qs, int j) {
        int q = b.get(qs + (j % 16)) & 0xFF;
        return j < 16 ? q & 0x0F : q >>> 4;
    }
}
