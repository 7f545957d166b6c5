package io.dijiang4j.plugin.gguf;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * ggml tensor types as numbered in ggml.h ({@code enum ggml_type}), with their block geometry, and dequantization to
 * float for the types this reader supports. Block layouts follow ggml-common.h / ggml-quants.c
 * ({@code dequantize_row_*}): the arithmetic is done in float exactly as ggml does (fp16 scales widened to float).
 */
public enum GgmlType {
    F32(0, 1, 4, true),
    F16(1, 1, 2, true),
    Q4_0(2, 32, 18, true),
    Q4_1(3, 32, 20, true),
    Q5_0(6, 32, 22, true),
    Q5_1(7, 32, 24, true),
    Q8_0(8, 32, 34, true),
    Q8_1(9, 32, 36, false),
    Q2_K(10, 256, 84, true),
    Q3_K(11, 256, 110, true),
    Q4_K(12, 256, 144, true),
    Q5_K(13, 256, 176, true),
    Q6_K(14, 256, 210, true),
    Q8_K(15, 256, 292, false),
    IQ2_XXS(16, 256, 66, false),
    IQ2_XS(17, 256, 74, false),
    IQ3_XXS(18, 256, 98, false),
    IQ1_S(19, 256, 50, false),
    IQ4_NL(20, 32, 18, false),
    IQ3_S(21, 256, 110, false),
    IQ2_S(22, 256, 82, false),
    IQ4_XS(23, 256, 136, false),
    I8(24, 1, 1, false),
    I16(25, 1, 2, false),
    I32(26, 1, 4, false),
    I64(27, 1, 8, false),
    F64(28, 1, 8, false),
    IQ1_M(29, 256, 56, false),
    BF16(30, 1, 2, true);

    /** The id stored in a GGUF tensor info. */
    public final int id;
    /** Elements per block (1 for plain types). */
    public final int blockSize;
    /** Bytes per block. */
    public final int blockBytes;
    /** Whether {@link #dequantize} supports this type. */
    public final boolean dequantizable;

    GgmlType(int id, int blockSize, int blockBytes, boolean dequantizable) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
        this.dequantizable = dequantizable;
    }

    /** The type with this id, or null if there is none (or it is one of ggml's removed ids). */
    public static GgmlType byId(long id) {
        for (GgmlType t : values()) if (t.id == id) return t;
        return null;
    }

    /** The types {@link #dequantize} supports, for error messages. */
    public static String supportedNames() {
        return Arrays.stream(values())
                .filter(t -> t.dequantizable)
                .map(Enum::name)
                .collect(Collectors.joining(", "));
    }

    /** Bytes that {@code elements} elements take; {@code elements} must be a multiple of the block size. */
    public long bytesFor(long elements) {
        return Math.multiplyExact(elements / blockSize, (long) blockBytes);
    }

    /**
     * Dequantizes {@code count} elements (a multiple of the block size) from {@code src} (little-endian, read from
     * its position on) into {@code dst[0..count)}.
     */
    public void dequantize(ByteBuffer src, float[] dst, int count) {
        if (!dequantizable) throw new UnsupportedOperationException("cannot dequantize " + this);
        if (count % blockSize != 0) throw new IllegalArgumentException(count + " is not a multiple of " + blockSize);
        ByteBuffer b = src.slice().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        switch (this) {
            case F32 -> b.asFloatBuffer().get(dst, 0, count);
            case F16 -> {
                for (int i = 0; i < count; i++) dst[i] = Float.float16ToFloat(b.getShort(2 * i));
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) dst[i] = Float.intBitsToFloat((b.getShort(2 * i) & 0xFFFF) << 16);
            }
            case Q4_0 -> {
                for (int blk = 0, o = 0; o < count; blk += blockBytes, o += 32) {
                    float d = Float.float16ToFloat(b.getShort(blk));
                    for (int j = 0; j < 16; j++) {
                        int q = b.get(blk + 2 + j) & 0xFF;
                        dst[o + j] = ((q & 0x0F) - 8) * d;
                        dst[o + j + 16] = ((q >>> 4) - 8) * d;
                    }
                }
            }
            case Q4_1 -> {
                for (int blk = 0, o = 0; o < count; blk += blockBytes, o += 32) {
                    float d = Float.float16ToFloat(b.getShort(blk));
                    float m = Float.float16ToFloat(b.getShort(blk + 2));
                    for (int j = 0; j < 16; j++) {
                        int q = b.get(blk + 4 + j) & 0xFF;
                        dst[o + j] = (q & 0x0F) * d + m;
                        dst[o + j + 16] = (q >>> 4) * d + m;
                    }
                }
            }
            case Q5_0 -> {
                for (int blk = 0, o = 0; o < count; blk += blockBytes, o += 32) {
                    float d = Float.float16ToFloat(b.getShort(blk));
                    int qh = b.getInt(blk + 2);
                    for (int j = 0; j < 16; j++) {
                        int q = b.get(blk + 6 + j) & 0xFF;
                        int high0 = ((qh >>> j) << 4) & 0x10;
                        int high1 = (qh >>> (j + 12)) & 0x10;
                        dst[o + j] = (((q & 0x0F) | high0) - 16) * d;
                        dst[o + j + 16] = (((q >>> 4) | high1) - 16) * d;
                    }
                }
            }
            case Q5_1 -> {
                for (int blk = 0, o = 0; o < count; blk += blockBytes, o += 32) {
                    float d = Float.float16ToFloat(b.getShort(blk));
                    float m = Float.float16ToFloat(b.getShort(blk + 2));
                    int qh = b.getInt(blk + 4);
                    for (int j = 0; j < 16; j++) {
                        int q = b.get(blk + 8 + j) & 0xFF;
                        int high0 = ((qh >>> j) << 4) & 0x10;
                        int high1 = (qh >>> (j + 12)) & 0x10;
                        dst[o + j] = ((q & 0x0F) | high0) * d + m;
                        dst[o + j + 16] = ((q >>> 4) | high1) * d + m;
                    }
                }
            }
            case Q8_0 -> {
                for (int blk = 0, o = 0; o < count; blk += blockBytes, o += 32) {
                    float d = Float.float16ToFloat(b.getShort(blk));
                    for (int j = 0; j < 32; j++) dst[o + j] = b.get(blk + 2 + j) * d;
                }
            }
            case Q2_K -> {
                for (int blk = 0, o = 0; o < count; blk += blockBytes, o += 256) {
                    float d = Float.float16ToFloat(b.getShort(blk + 80)); // scales[16], qs[64], d, dmin
                    float min = Float.float16ToFloat(b.getShort(blk + 82));
                    int y = o, is = 0;
                    for (int half = 0; half < 2; half++) { // 128 elements from 32 bytes of 2-bit values
                        int q = blk + 16 + 32 * half;
                        for (int shift = 0; shift < 8; shift += 2) {
                            for (int part = 0; part < 2; part++) { // 16 elements per scale
                                int sc = b.get(blk + is++) & 0xFF;
                                float dl = d * (sc & 0x0F), ml = min * (sc >>> 4);
                                for (int l = 0; l < 16; l++) {
                                    dst[y++] = dl * (((b.get(q + 16 * part + l) & 0xFF) >>> shift) & 3) - ml;
                                }
                            }
                        }
                    }
                }
            }
            case Q3_K -> {
                int[] scales = new int[16];
                for (int blk = 0, o = 0; o < count; blk += blockBytes, o += 256) {
                    float d = Float.float16ToFloat(b.getShort(blk + 108)); // hmask[32], qs[64], scales[12], d
                    unpackQ3Scales(b, blk + 96, scales);
                    int y = o, is = 0, bit = 1;
                    for (int half = 0; half < 2; half++) {
                        int q = blk + 32 + 32 * half;
                        for (int shift = 0; shift < 8; shift += 2, bit <<= 1) {
                            for (int part = 0; part < 2; part++) {
                                float dl = d * (scales[is++] - 32);
                                for (int l = 0; l < 16; l++) {
                                    int low = ((b.get(q + 16 * part + l) & 0xFF) >>> shift) & 3;
                                    int minus = (b.get(blk + 16 * part + l) & bit) != 0 ? 0 : 4;
                                    dst[y++] = dl * (low - minus);
                                }
                            }
                        }
                    }
                }
            }
            case Q4_K, Q5_K -> {
                boolean five = this == Q5_K;
                int qsOffset = five ? 48 : 16; // after d, dmin, scales[12] (and qh[32] for Q5_K)
                for (int blk = 0, o = 0; o < count; blk += blockBytes, o += 256) {
                    float d = Float.float16ToFloat(b.getShort(blk));
                    float min = Float.float16ToFloat(b.getShort(blk + 2));
                    for (int chunk = 0; chunk < 4; chunk++) { // 64 elements: two sub-blocks of 32 with own scale/min
                        float d1 = d * scaleK4(b, blk + 4, 2 * chunk), m1 = min * minK4(b, blk + 4, 2 * chunk);
                        float d2 = d * scaleK4(b, blk + 4, 2 * chunk + 1), m2 = min * minK4(b, blk + 4, 2 * chunk + 1);
                        for (int l = 0; l < 32; l++) {
                            int q = b.get(blk + qsOffset + 32 * chunk + l) & 0xFF;
                            int high = five ? b.get(blk + 16 + l) & 0xFF : 0;
                            int h1 = five ? ((high >>> (2 * chunk)) & 1) << 4 : 0;
                            int h2 = five ? ((high >>> (2 * chunk + 1)) & 1) << 4 : 0;
                            dst[o + 64 * chunk + l] = d1 * ((q & 0x0F) + h1) - m1;
                            dst[o + 64 * chunk + 32 + l] = d2 * ((q >>> 4) + h2) - m2;
                        }
                    }
                }
            }
            case Q6_K -> {
                for (int blk = 0, o = 0; o < count; blk += blockBytes, o += 256) {
                    float d = Float.float16ToFloat(b.getShort(blk + 208)); // ql[128], qh[64], scales[16], d
                    for (int half = 0; half < 2; half++) {
                        int ql = blk + 64 * half, qh = blk + 128 + 32 * half, sc = blk + 192 + 8 * half;
                        int y = o + 128 * half;
                        for (int l = 0; l < 32; l++) {
                            int is = l / 16;
                            int low0 = b.get(ql + l) & 0xFF, low1 = b.get(ql + l + 32) & 0xFF;
                            int high = b.get(qh + l) & 0xFF;
                            int q1 = ((low0 & 0xF) | ((high & 3) << 4)) - 32;
                            int q2 = ((low1 & 0xF) | (((high >>> 2) & 3) << 4)) - 32;
                            int q3 = ((low0 >>> 4) | (((high >>> 4) & 3) << 4)) - 32;
                            int q4 = ((low1 >>> 4) | (((high >>> 6) & 3) << 4)) - 32;
                            dst[y + l] = d * b.get(sc + is) * q1;
                            dst[y + l + 32] = d * b.get(sc + is + 2) * q2;
                            dst[y + l + 64] = d * b.get(sc + is + 4) * q3;
                            dst[y + l + 96] = d * b.get(sc + is + 6) * q4;
                        }
                    }
                }
            }
            default -> throw new UnsupportedOperationException("cannot dequantize " + this);
        }
    }

    /**
     * Q3_K's sixteen 6-bit scales from 12 bytes: scale i has its low 4 bits in byte i % 8 (low nibble for i < 8, high
     * for i >= 8) and its high 2 bits in byte 8 + i % 4 at bit 2 * (i / 4) (ggml's kmask1/kmask2 shuffle).
     */
    private static void unpackQ3Scales(ByteBuffer b, int at, int[] scales) {
        for (int i = 0; i < 16; i++) {
            int low = b.get(at + i % 8) & 0xFF;
            low = i < 8 ? low & 0x0F : low >>> 4;
            int high = ((b.get(at + 8 + i % 4) & 0xFF) >>> (2 * (i / 4))) & 3;
            scales[i] = low | (high << 4);
        }
    }

    /** ggml's get_scale_min_k4, scale part: the 6-bit scale of sub-block j from the 12 packed bytes at {@code at}. */
    private static int scaleK4(ByteBuffer b, int at, int j) {
        return j < 4 ? b.get(at + j) & 63 : (b.get(at + j + 4) & 0x0F) | (((b.get(at + j - 4) & 0xFF) >>> 6) << 4);
    }

    /** get_scale_min_k4, min part. */
    private static int minK4(ByteBuffer b, int at, int j) {
        return j < 4
                ? b.get(at + j + 4) & 63
                : ((b.get(at + j + 4) & 0xFF) >>> 4) | (((b.get(at + j) & 0xFF) >>> 6) << 4);
    }
}
