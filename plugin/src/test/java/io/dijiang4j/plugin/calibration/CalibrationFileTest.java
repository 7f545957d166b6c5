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
