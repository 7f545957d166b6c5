package io.dijiang4j.plugin.calibration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.AttentionSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CalibrationFileTest {
    @TempDir
    Path temp;

    static final Calibration.ModelInfo MODEL = Fixtures.model("ab12".repeat(16), 3, 6, 2, 8);

    @Test
    void roundTripGivesEqualCalibrationsAndEqualPerLayerSpecs() throws Exception {
        for (String kind : List.of("centroids", "wdcf", "performer")) {
            Calibration c = Fixtures.random(MODEL, kind, 12, 3);
            Path file = temp.resolve(kind + ".safetensors");
            CalibrationFile.write(file, c);
            Calibration back = CalibrationFile.read(file);
            assertEquals(c, back, kind);
            for (int layer = 0; layer < MODEL.layers(); layer++) {
                for (boolean hybrid : new boolean[] {true, false}) {
                    AttentionSpec expected = c.spec(layer, hybrid, 32);
                    assertEquals(expected, back.spec(layer, hybrid, 32), kind + " layer " + layer);
                    assertEquals(kind, expected.featureMapOf(1).name());
                }
            }
            assertNotEquals(c.spec(0, true, 32), c.spec(1, true, 32), "layers differ");
            AttentionSpec s2 = back.spec(2, true, 32);
            assertEquals(3, s2.sinks());
            assertEquals(19, s2.window());
            assertEquals(4, s2.exactCache());
            assertEquals(0.0, s2.memoryGainOf(0));
            assertTrue(s2.memoryGainOf(1) > 0);
            assertNotEquals(s2.featureMapOf(0), s2.featureMapOf(1), "a map per KV head");
        }
    }

    /** Format 2: a layer may use the online centroid memory (no fitted map read, gains per head, hybrid only). */
    @Test
    void onlineMemoryLayersRoundTripAndGiveTheOnlineSpec() throws Exception {
        Calibration fitted = Fixtures.random(MODEL, "centroids", 12, 4);
        List<Calibration.Layer> layers = new java.util.ArrayList<>(fitted.layers());
        layers.set(1, layers.get(1).withOnlineMemory(24));
        Calibration c = fitted.withLayers(layers);
        Path file = temp.resolve("online.safetensors");
        CalibrationFile.write(file, c);
        Calibration back = CalibrationFile.read(file);
        assertEquals(c, back);
        assertEquals(24, back.layers().get(1).onlineClusters());
        assertEquals(0, back.layers().get(0).onlineClusters());
        AttentionSpec online = back.spec(1, true, 32);
        assertEquals("online", online.featureMap().name());
        assertEquals(24, online.featureMap().numFeatures());
        assertEquals(null, online.kvHeadMaps(), "the online memory fits itself per KV head");
        assertEquals(layers.get(1).window(), online.window());
        assertEquals(layers.get(1).exactCache(), online.exactCache());
        for (int h = 0; h < MODEL.heads(); h++) {
            assertEquals(layers.get(1).gains()[h], online.memoryGainOf(h), 0.0, "gain " + h);
        }
        assertEquals("centroids", back.spec(0, true, 32).featureMapOf(0).name());
        String message = assertThrows(IllegalArgumentException.class, () -> back.spec(1, false, 32))
                .getMessage();
        assertTrue(message.contains("online") && message.contains("hybrid"), message);
    }

    /** Sidecars of format 1 (before the online memory) still load, every layer on its fitted map. */
    @Test
    void formatOneStillLoads() {
        Calibration c = Fixtures.random(MODEL, "centroids", 8, 6);
        byte[] bytes = CalibrationFile.encode(c);
        // format-1 files predate checksums: rename the checksum key (same length, so the header length holds) so that
        // the edited versions below are read as unchecksummed files
        String text = new String(bytes, StandardCharsets.ISO_8859_1).replace("\"crc32\":\"", "\"crcxx\":\"");
        // the metadata JSON sits as a string in the safetensors header: its quotes are escaped
        String v2 = "\\\"version\\\":" + Calibration.FORMAT_VERSION;
        assertTrue(text.contains(v2), "the header names its version");
        byte[] v1 = text.replace(v2, "\\\"version\\\":1").getBytes(StandardCharsets.ISO_8859_1);
        assertEquals(c, CalibrationFile.decode(v1));
        byte[] v9 = text.replace(v2, "\\\"version\\\":9").getBytes(StandardCharsets.ISO_8859_1);
        String message = assertThrows(IllegalArgumentException.class, () -> CalibrationFile.decode(v9))
                .getMessage();
        assertTrue(message.contains("version 9"), message);
    }

    @Test
    void sameCalibrationSameBytes() {
        Calibration c = Fixtures.random(MODEL, "centroids", 8, 5);
        byte[] a = CalibrationFile.encode(c);
        assertArrayEquals(a, CalibrationFile.encode(Fixtures.random(MODEL, "centroids", 8, 5)));
        assertArrayEquals(a, CalibrationFile.encode(CalibrationFile.decode(a)));
        String header = new String(a, 8, 400, StandardCharsets.UTF_8);
        assertTrue(header.contains("\"__metadata__\""), header);
    }

    @Test
    void truncatedOrCorruptFilesAreRefusedNamingTheFile() throws Exception {
        byte[] bytes = CalibrationFile.encode(Fixtures.random(MODEL, "centroids", 8, 7));
        Path file = temp.resolve("bad.safetensors");
        for (int keep : new int[] {0, 5, 100, bytes.length - 4}) {
            Files.write(file, Arrays.copyOf(bytes, keep));
            String message = assertThrows(IllegalArgumentException.class, () -> CalibrationFile.read(file))
                    .getMessage();
            assertTrue(message.contains(file.toString()) && message.contains("not valid"), message);
        }
        byte[] corrupt = bytes.clone();
        corrupt[20] = '{';
        Files.write(file, corrupt);
        assertThrows(IllegalArgumentException.class, () -> CalibrationFile.read(file));
        byte[] longer = Arrays.copyOf(bytes, bytes.length + 4);
        Files.write(file, longer);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CalibrationFile.read(file))
                .getMessage()
                .contains("does not match"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CalibrationFile.read(temp.resolve("none")))
                .getMessage()
                .contains("not found"));
    }

    @Test
    void writingReplacesAtomicallyAndLeavesNoTemporaryFile() throws Exception {
        Path file = temp.resolve("c.safetensors");
        CalibrationFile.write(file, Fixtures.random(MODEL, "wdcf", 8, 1));
        Calibration second = Fixtures.random(MODEL, "wdcf", 8, 2);
        CalibrationFile.write(file, second);
        assertEquals(second, CalibrationFile.read(file));
        try (var list = Files.list(temp)) {
            assertEquals(List.of(file), list.toList());
        }
    }
}
