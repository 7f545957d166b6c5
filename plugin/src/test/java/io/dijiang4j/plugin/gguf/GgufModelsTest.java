package io.dijiang4j.plugin.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufModelsTest {
    @TempDir
    Path dir;

    @Test
    void convertsOnceAndAgainWhenTheFileChanges() throws IOException {
        GgufConverterTest tiny = new GgufConverterTest();
        Path gguf = tiny.tinyLlama(null).write(dir.resolve("Tiny.GGUF"));
        assertTrue(GgufModels.isGguf(gguf));
        assertFalse(GgufModels.isGguf(dir.resolve("absent.gguf")));
        Path cache = dir.resolve("cache");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        PrintStream progress = new PrintStream(log, true, StandardCharsets.UTF_8);
        Path first = GgufModels.modelDirectory(gguf, cache, GgufConverter.Precision.F32, progress);
        assertTrue(Files.isRegularFile(first.resolve("model.safetensors")));
        int conversions = log.toString(StandardCharsets.UTF_8).split("converting ", -1).length - 1;
        assertEquals(1, conversions);
        long modified =
                Files.getLastModifiedTime(first.resolve("model.safetensors")).toMillis();
        assertEquals(first, GgufModels.modelDirectory(gguf, cache, GgufConverter.Precision.F32, progress));
        assertEquals(
                modified,
                Files.getLastModifiedTime(first.resolve("model.safetensors")).toMillis());
        assertEquals(1, log.toString(StandardCharsets.UTF_8).split("converting ", -1).length - 1, "reused");

        Path bf16 = GgufModels.modelDirectory(gguf, cache, GgufConverter.Precision.BF16, null);
        assertNotEquals(first, bf16);
        new GgufConverterTest()
                .tinyLlama(g -> g.put("general.note", GgufTestFiles.STRING, "changed"))
                .write(gguf);
        Path changed = GgufModels.modelDirectory(gguf, cache, GgufConverter.Precision.F32, null);
        assertNotEquals(first, changed, "a changed file gets its own directory");
    }

    @Test
    void sha256OfAKnownInput() throws IOException {
        Path f = Files.writeString(dir.resolve("abc"), "abc");
        assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", GgufModels.sha256(f));
    }
}
