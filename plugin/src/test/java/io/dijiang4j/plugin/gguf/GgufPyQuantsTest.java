package io.dijiang4j.plugin.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A GGUF written by llama.cpp's own Python package (gguf-py; scripts/reference/gguf_quants_reference.py): random
 * blocks of each type, each beside gguf-py's float32 dequantization of it. The reader must agree with that
 * independent implementation.
 */
class GgufPyQuantsTest {
    @TempDir
    Path dir;

    @Test
    void agreesWithGgufPyDequantization() throws IOException {
        Path file = dir.resolve("gguf-py-quants.gguf");
        try (InputStream in = getClass().getResourceAsStream("/gguf/gguf-py-quants.gguf")) {
            assertTrue(in != null, "fixture /gguf/gguf-py-quants.gguf missing");
            Files.copy(in, file);
        }
        Set<GgmlType> seen = new TreeSet<>();
        try (GgufFile gguf = GgufFile.open(file)) {
            assertEquals(3, gguf.version());
            for (GgufFile.TensorInfo t : gguf.tensors().values()) {
                if (t.name().endsWith(".expected")) continue;
                float[] ours = gguf.floats(t);
                float[] theirs = gguf.floats(gguf.tensor(t.name() + ".expected"));
                assertEquals(theirs.length, ours.length, t.name());
                int differing = 0;
                for (int i = 0; i < ours.length; i++) {
                    if (Float.floatToRawIntBits(ours[i]) != Float.floatToRawIntBits(theirs[i])) differing++;
                }
                assertEquals(
                        0,
                        differing,
                        String.format(Locale.ROOT, "%s: %d of %d values differ", t.name(), differing, ours.length));
                seen.add(t.type());
            }
        }
        assertEquals(
                Set.of(
                        GgmlType.F16,
                        GgmlType.BF16,
                        GgmlType.Q4_0,
                        GgmlType.Q4_1,
                        GgmlType.Q5_0,
                        GgmlType.Q5_1,
                        GgmlType.Q8_0,
                        GgmlType.Q2_K,
                        GgmlType.Q3_K,
                        GgmlType.Q4_K,
                        GgmlType.Q5_K,
                        GgmlType.Q6_K),
                seen);
    }
}
