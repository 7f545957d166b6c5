package io.dijiang4j.plugin.gguf;

import static io.dijiang4j.plugin.gguf.GgufTestFiles.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class GgufFileTest {
    @TempDir
    Path dir;

    /** Every supported type, random non-zero data, odd shapes: equal to a float64 dequantization from the spec. */
    @ParameterizedTest
    @EnumSource(
            value = GgmlType.class,
            names = {"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K"})
    void dequantizesLikeTheSpec(GgmlType type) throws IOException {
        SplittableRandom random = new SplittableRandom(type.id * 7919L + 1);
        long[][] shapes = type.blockSize == 1
                ? new long[][] {{7, 3}, {1}, {5, 1, 3}, {13, 11}}
                : type.blockSize == 32
                        ? new long[][] {{64, 3}, {32}, {96, 1, 5}, {32, 7, 1, 2}}
                        : new long[][] {{512, 3}, {256}, {768, 1, 1}, {256, 3, 1, 2}};
        GgufTestFiles gguf = new GgufTestFiles();
        byte[][] data = new byte[shapes.length][];
        for (int i = 0; i < shapes.length; i++) {
            int elements = (int) Arrays.stream(shapes[i]).reduce(1, (a, b) -> a * b);
            data[i] = randomData(type, elements, random);
            gguf.tensor("t" + i, shapes[i], type.id, data[i]);
        }
        try (GgufFile file = GgufFile.open(gguf.write(dir.resolve("types.gguf")))) {
            for (int i = 0; i < shapes.length; i++) {
                GgufFile.TensorInfo info = file.tensor("t" + i);
                assertEquals(type, info.type());
                assertTrue(Arrays.equals(shapes[i], info.dims()));
                float[] got = file.floats(info);
                double[] terms = new double[got.length];
                double[] want = reference(type, data[i], got.length, terms);
                int nonZero = 0;
                for (int e = 0; e < got.length; e++) {
                    if (want[e] != 0) nonZero++;
                    // ggml computes in float: a few roundings (each at most 2^-24 relative) of the terms' size.
                    double tolerance = type.blockSize == 1 ? 0 : 4 * 0x1p-24 * terms[e];
                    assertTrue(
                            Math.abs(got[e] - want[e]) <= tolerance,
                            type + " tensor t" + i + " element " + e + ": " + got[e] + " vs " + want[e]);
                }
                assertTrue(nonZero > got.length / 2, "random data should be mostly non-zero: " + nonZero);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3})
    void readsMetadataOfEveryValueType(int version) throws IOException {
        GgufTestFiles gguf = new GgufTestFiles();
        gguf.version = version;
        gguf.writeAlignment = true;
        gguf.alignment = 64;
        gguf.put("u8", UINT8, 250)
                .put("i8", INT8, -5)
                .put("u16", UINT16, 65000)
                .put("i16", INT16, -30000)
                .put("u32", UINT32, 4_000_000_000L)
                .put("i32", INT32, -2_000_000_000)
                .put("f32", FLOAT32, 1e-5f)
                .put("bool", BOOL, true)
                .put("str", STRING, "h\u00e9llo \uD83C\uDF55")
                .put("u64", UINT64, 1L << 40)
                .put("i64", INT64, -(1L << 40))
                .put("f64", FLOAT64, Math.PI)
                .putArray("ints", INT32, List.of(3, -1, 7))
                .putArray("strs", STRING, List.of("a b", "", "\u0120t"))
                .putArray(
                        "nested",
                        ARRAY,
                        List.of(new NestedArray(UINT8, List.of(1, 2)), new NestedArray(STRING, List.of("x"))));
        byte[] weights = randomData(GgmlType.F32, 5, new SplittableRandom(1));
        gguf.tensor("w", new long[] {5}, GgmlType.F32.id, weights);
        gguf.tensor("v", new long[] {3}, GgmlType.F32.id, randomData(GgmlType.F32, 3, new SplittableRandom(2)));
        try (GgufFile file = GgufFile.open(gguf.write(dir.resolve("meta.gguf")))) {
            assertEquals(version, file.version());
            assertEquals(64, file.alignment());
            assertEquals(0, file.dataStart() % 64);
            assertEquals(64, file.tensor("v").offset(), "second tensor at the next 64-byte boundary");
            assertEquals(250, file.integer("u8"));
            assertEquals(-5, file.integer("i8"));
            assertEquals(65000, file.integer("u16"));
            assertEquals(-30000, file.integer("i16"));
            assertEquals(4_000_000_000L, file.integer("u32"));
            assertEquals(-2_000_000_000, file.integer("i32"));
            assertEquals(1e-5, file.floating("f32"));
            assertTrue(file.bool("bool"));
            assertEquals("h\u00e9llo \uD83C\uDF55", file.string("str"));
            assertEquals(1L << 40, file.integer("u64"));
            assertEquals(-(1L << 40), file.integer("i64"));
            assertEquals(Math.PI, file.floating("f64"));
            assertTrue(Arrays.equals(new int[] {3, -1, 7}, file.ints("ints")));
            assertEquals(List.of("a b", "", "\u0120t"), file.strings("strs"));
            assertEquals(
                    List.of(List.of(1L, 2L), List.of("x")),
                    file.metadata().get("nested").value());
            assertEquals(GgufFile.ValueType.ARRAY, file.metadata().get("nested").elementType());
            float[] w = file.floats(file.tensor("w"));
            double[] want = reference(GgmlType.F32, weights, 5);
            for (int i = 0; i < 5; i++) assertEquals(want[i], w[i]);
            assertOneLine(assertThrows(GgufException.class, () -> file.integer("str")), "'str' is STRING");
            assertOneLine(
                    assertThrows(GgufException.class, () -> file.string("absent")), "lacks metadata key 'absent'");
        }
    }

    // ---- bad files: one line naming the file and the problem ----

    private GgufTestFiles valid() {
        GgufTestFiles g = new GgufTestFiles();
        g.put("general.architecture", STRING, "llama").putArray("tokens", STRING, List.of("a", "b", "c"));
        g.tensor("a", new long[] {64, 2}, GgmlType.Q8_0.id, randomData(GgmlType.Q8_0, 128, new SplittableRandom(3)));
        g.tensor("b", new long[] {9}, GgmlType.F32.id, randomData(GgmlType.F32, 9, new SplittableRandom(4)));
        return g;
    }

    private GgufException openFails(byte[] bytes, String name) throws IOException {
        Path file = Files.write(dir.resolve(name), bytes);
        return assertThrows(GgufException.class, () -> GgufFile.open(file).close());
    }

    private static void assertOneLine(Exception e, String fragment) {
        String m = e.getMessage();
        assertFalse(m.contains("\n"), "one line: " + m);
        assertTrue(m.contains(fragment), "'" + m + "' should mention " + fragment);
    }

    @Test
    void truncatedAnywhereIsOneClearLine() throws IOException {
        byte[] whole = valid().bytes();
        try (GgufFile ok = GgufFile.open(Files.write(dir.resolve("whole.gguf"), whole))) {
            assertEquals(2, ok.tensors().size());
        }
        for (int cut = 0; cut < whole.length; cut += (cut < 200 ? 1 : 13)) {
            GgufException e = openFails(Arrays.copyOf(whole, cut), "cut" + cut + ".gguf");
            assertOneLine(e, "cut" + cut + ".gguf: ");
            assertTrue(
                    e.getMessage().contains("truncated") || e.getMessage().contains("past the end"),
                    "cut at " + cut + ": " + e.getMessage());
        }
    }

    @Test
    void badMagic() throws IOException {
        byte[] b = valid().bytes();
        b[0] = 'P';
        b[1] = 'K';
        assertOneLine(openFails(b, "zip.gguf"), "not a GGUF file: magic is \"PKUF\"");
    }

    @Test
    void unsupportedVersion() throws IOException {
        GgufTestFiles g = valid();
        g.version = 1;
        assertOneLine(openFails(g.bytes(), "v1.gguf"), "unsupported GGUF version 1 (supported: 2, 3)");
    }

    @Test
    void unknownTensorType() throws IOException {
        GgufTestFiles g = valid();
        g.tensor("odd", new long[] {4}, 99, new byte[16]);
        assertOneLine(openFails(g.bytes(), "type99.gguf"), "tensor 'odd' has unknown ggml type 99");
    }

    @Test
    void unknownValueType() throws IOException {
        GgufTestFiles g = valid();
        g.put("weird", 13, 0);
        assertOneLine(openFails(g.bytes(), "value13.gguf"), "metadata key 'weird' has unknown value type 13");
    }

    @Test
    void tensorPastTheEnd() throws IOException {
        GgufTestFiles g = valid();
        g.tensorAt("far", new long[] {8}, GgmlType.F32.id, new byte[0], 4096);
        assertOneLine(openFails(g.bytes(), "far.gguf"), "tensor 'far' (F32, 32 bytes at");
        assertOneLine(openFails(g.bytes(), "far.gguf"), "past the end of the file");
    }

    @Test
    void misalignedAndOverlappingTensors() throws IOException {
        GgufTestFiles g = valid();
        g.tensorAt("c", new long[] {4}, GgmlType.F32.id, new byte[16], 16);
        assertOneLine(
                openFails(g.bytes(), "misaligned.gguf"),
                "tensor 'c' is at data offset 16, not a multiple of the alignment 32");
        GgufTestFiles h = valid();
        h.tensorAt("c", new long[] {4}, GgmlType.F32.id, new byte[16], 32);
        assertOneLine(openFails(h.bytes(), "overlap.gguf"), "overlap");
    }

    @Test
    void rowNotAWholeNumberOfBlocks() throws IOException {
        GgufTestFiles g = valid();
        g.tensor("q", new long[] {48, 2}, GgmlType.Q4_0.id, new byte[54]);
        assertOneLine(
                openFails(g.bytes(), "rows.gguf"),
                "tensor 'q' has a row of 48 elements, not a multiple of Q4_0's block of 32");
    }

    @Test
    void badAlignment() throws IOException {
        GgufTestFiles g = valid();
        g.put("general.alignment", UINT32, 24);
        assertOneLine(openFails(g.bytes(), "align.gguf"), "general.alignment is 24, expected a power of two");
    }

    @Test
    void hugeArrayLengthIsRefusedWithoutAllocating() throws IOException {
        byte[] b = valid().bytes();
        // the "tokens" array length sits after its key and the type ids: find the 3 and make it 2^40
        int at = indexOf(b, new byte[] {3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 'a'});
        assertTrue(at > 0);
        b[at + 5] = 1;
        assertOneLine(openFails(b, "array.gguf"), "metadata key 'tokens' claims 1099511627779 STRING elements");
    }

    @Test
    void typeThatCannotBeDequantizedIsNamedWhenRead() throws IOException {
        GgufTestFiles g = valid();
        g.tensor("k", new long[] {256}, GgmlType.IQ2_XS.id, new byte[GgmlType.IQ2_XS.blockBytes]);
        try (GgufFile file = GgufFile.open(g.write(dir.resolve("iq2.gguf")))) {
            assertOneLine(
                    assertThrows(GgufException.class, () -> file.floats(file.tensor("k"))),
                    "tensor 'k' has type IQ2_XS, which this reader cannot dequantize (supported: F32, F16, Q4_0");
        }
    }

    @Test
    void missingFile() {
        assertOneLine(
                assertThrows(GgufException.class, () -> GgufFile.open(dir.resolve("none.gguf"))),
                "none.gguf: no such file");
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) if (haystack[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }
}
