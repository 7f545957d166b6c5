package io.dijiang4j.plugin.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.io.SafeTensors.DType;
import io.dijiang4j.plugin.io.SafeTensors.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
    @TempDir
    Path temp;

    /** Values exact in F32, F16 and BF16 alike (small integers and halves). */
    private static final Tensor MATRIX = new Tensor(new float[] {1, -2, 0.5f, 3, 0, -0.25f}, new int[] {2, 3});

    @Test
    void everyFloatDtypeRoundTripsThroughAFileAndMemory() {
        SafeTensors.Writer w = SafeTensors.writer().metadata("k", "v");
        for (DType t : List.of(DType.F32, DType.F16, DType.BF16)) w.add("m." + t, t, MATRIX);
        Path file = temp.resolve("all.safetensors");
        w.writeTo(file);
        for (SafeTensors.Reader r : List.of(SafeTensors.open(file), SafeTensors.decode(w.toBytes(), "memory"))) {
            assertEquals(List.of("m.F32", "m.F16", "m.BF16"), List.copyOf(r.names()));
            assertEquals(Map.of("k", "v"), r.metadata());
            for (DType t : List.of(DType.F32, DType.F16, DType.BF16)) {
                assertEquals(MATRIX, r.get("m." + t, 2, 3), t.name());
                assertEquals(t.name(), r.dtype("m." + t));
            }
        }
    }

    @Test
    void bfloat16RoundsToNearestEven() {
        float x = Float.intBitsToFloat(0x3f80_8001); // just above halfway between two bfloat16 values
        assertEquals((short) 0x3f81, SafeTensors.bfloat16(x));
        assertEquals((short) 0x3f80, SafeTensors.bfloat16(Float.intBitsToFloat(0x3f80_8000))); // tie: to even
        assertTrue(Float.isNaN(Float.intBitsToFloat(SafeTensors.bfloat16(Float.NaN) << 16)));
    }

    @Test
    void rawQ4AndI8TensorsAreCheckedAgainstTheirShapeAndListed() {
        Path file = temp.resolve("q4.safetensors");
        SafeTensors.writer()
                .addRaw("w", DType.Q4, new int[] {2, 32}, ByteBuffer.allocate(32))
                .addRaw("w.qb", DType.F32, new int[] {2, 1}, ByteBuffer.allocate(8))
                .addRaw("i", DType.I8, new int[] {3}, ByteBuffer.allocate(3))
                .writeTo(file);
        SafeTensors.Reader r = SafeTensors.open(file);
        assertEquals("Q4", r.dtype("w"));
        assertArrayEquals(new int[] {2, 32}, r.shape("w"));
        assertEquals(
                "tensor 'w' has unsupported dtype Q4 (F32, F16, BF16 supported)",
                assertThrows(IllegalArgumentException.class, () -> r.get("w")).getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> SafeTensors.writer().addRaw("w", DType.Q4, new int[] {2, 32}, ByteBuffer.allocate(31)));
    }

    @Test
    void theSameTensorsGiveTheSameBytesWithAHeaderPaddedTo8() {
        byte[] a = SafeTensors.writer()
                .add("b", DType.F32, MATRIX)
                .metadata("x", "1")
                .toBytes();
        byte[] b = SafeTensors.writer()
                .metadata("x", "1")
                .add("b", DType.F32, MATRIX)
                .toBytes();
        assertArrayEquals(a, b);
        long header = ByteBuffer.wrap(a).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, header % 8);
        assertEquals(8 + header + 4 * 6, a.length);
        assertTrue(new String(a, 8, (int) header, StandardCharsets.UTF_8).startsWith("{\"__metadata__\""));
    }

    @Test
    void badHeadersAndOffsetsAreOneLineErrorsNamingTheFile() throws Exception {
        byte[] good = SafeTensors.writer().add("t", DType.F32, MATRIX).toBytes();
        assertEquals("f: truncated (3 bytes)", error(Arrays.copyOf(good, 3)));
        assertTrue(error(Arrays.copyOf(good, good.length - 1))
                .startsWith("f: tensor 't' lies outside the file (offsets 0..24, data 23 bytes; truncated? the file"
                        + " has " + (good.length - 1) + " bytes, this tensor needs at least " + good.length + ")"));
        assertEquals(
                "f: data size 25 bytes does not match the header's tensors (24 bytes)",
                error(Arrays.copyOf(good, good.length + 1)));
        assertTrue(error(Arrays.copyOf(good, 12)).startsWith("f: not a safetensors file or truncated (header length"));
        assertTrue(error(header("[1, 2]")).startsWith("f: corrupt safetensors header"));
        assertTrue(error(header("{\"t\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 16]}}"))
                .startsWith("f: tensor 't' lies outside the file (offsets 0..16, data 0 bytes"));
        assertTrue(error(header("{\"t\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 0]}}"))
                .startsWith("f: tensor 't' has 0 bytes, its shape [2] of F32 needs 8"));
        assertTrue(error(header("{\"t\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 0]}}"))
                .equals("f: tensor 't' has a bad shape"));
        assertTrue(error(header("{\"t\": {\"shape\": [], \"data_offsets\": [0, 0]}}"))
                .contains("has no dtype"));
        Path file = Files.write(temp.resolve("short.safetensors"), Arrays.copyOf(good, 20));
        String message = assertThrows(IllegalArgumentException.class, () -> SafeTensors.open(file))
                .getMessage();
        assertTrue(message.startsWith(file + ": "), message);
        assertFalse(message.contains("\n"), message);
    }

    @Test
    void aModelDirectoryIsOneFileOrTheShardsOfItsIndex() throws Exception {
        Path single = Files.createDirectories(temp.resolve("single"));
        SafeTensors.write(single.resolve("model.safetensors"), Map.of("a", MATRIX));
        assertEquals(MATRIX, SafeTensors.openModel(single).get("a"));
        Path sharded = Files.createDirectories(temp.resolve("sharded"));
        SafeTensors.write(sharded.resolve("s1.safetensors"), Map.of("a", MATRIX));
        SafeTensors.write(sharded.resolve("s2.safetensors"), Map.of("b", MATRIX));
        Files.writeString(
                sharded.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\"}}");
        SafeTensors.Reader r = SafeTensors.openModel(sharded);
        assertEquals(List.of("a", "b"), List.copyOf(r.names()));
        assertEquals(2, r.headers().size());
        Path torch = Files.createDirectories(temp.resolve("torch"));
        Files.writeString(torch.resolve("pytorch_model.bin"), "x");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SafeTensors.openModel(torch))
                .getMessage()
                .contains("only safetensors weights are supported"));
        assertEquals(
                "checkpoint has no tensor 'zz'",
                assertThrows(IllegalArgumentException.class, () -> r.get("zz")).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> r.get("a", 3, 2))
                .getMessage()
                .equals("tensor 'a' has shape [2, 3], expected [3, 2]"));
    }

    @Test
    void aSpooledWriterWritesTheSameBytesAndDeletesItsScratchFile() throws Exception {
        Path dir = Files.createDirectories(temp.resolve("spool"));
        Path file = dir.resolve("big.safetensors");
        try (SafeTensors.Writer w = SafeTensors.spooledWriter(dir)) {
            w.add("t", DType.F32, MATRIX).metadata("x", "1").writeTo(file);
        }
        assertArrayEquals(
                SafeTensors.writer()
                        .add("t", DType.F32, MATRIX)
                        .metadata("x", "1")
                        .toBytes(),
                Files.readAllBytes(file));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList(), "only the output remains");
        }
    }

    private static String error(byte[] bytes) {
        String m = assertThrows(IllegalArgumentException.class, () -> SafeTensors.decode(bytes, "f"))
                .getMessage();
        assertFalse(m.contains("\n"), m);
        return m;
    }

    private static byte[] header(String json) {
        byte[] j = json.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + j.length)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(j.length)
                .put(j)
                .array();
    }
}
