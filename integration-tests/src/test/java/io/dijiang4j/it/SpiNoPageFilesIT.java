package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.langchain4j.model.jlama.JlamaChatModel;
import io.dijiang4j.adapters.spi.ProfileSetting;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The SPI drop-in as a new user runs it (no working directory given, so Jlama makes one in java.io.tmpdir): after
 * the requests, java.io.tmpdir holds nothing new. Vanilla Jlama leaves a KV page file per request there (Jlama
 * issue 140, docs/JLAMA.md §4).
 */
class SpiNoPageFilesIT {
    @TempDir
    Path temp;

    private final String tmpdir = System.getProperty("java.io.tmpdir");

    @AfterEach
    void restore() {
        System.setProperty("java.io.tmpdir", tmpdir);
        System.clearProperty(ProfileSetting.PROPERTY);
    }

    @ParameterizedTest
    @ValueSource(strings = {"none", "vanilla", "hybrid"})
    void requestsLeaveNoFileInTheTemporaryDirectory(String profile) throws IOException {
        Path cache = Stories260K.jlamaCache(temp);
        switch (profile) {
            case "vanilla" ->
                System.setProperty(
                        ProfileSetting.PROPERTY, Stories260K.vanilla(temp).toString());
            case "hybrid" ->
                System.setProperty(
                        ProfileSetting.PROPERTY, Stories260K.hybrid(temp).toString());
            default -> {}
        }
        Path scratch = Files.createDirectory(temp.resolve("tmp"));
        System.setProperty("java.io.tmpdir", scratch.toString());
        JlamaChatModel model = JlamaChatModel.builder()
                .modelCachePath(cache)
                .modelName(Stories260K.JLAMA_MODEL_NAME)
                .temperature(0f)
                .maxTokens(64)
                .build();
        assertFalse(model.chat("Once upon a time").isBlank());
        assertFalse(model.chat("The dog").isBlank());
        assertEquals(List.of(), entries(scratch), "left in java.io.tmpdir");
    }

    private static List<String> entries(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(p -> !p.equals(dir))
                    .map(p -> dir.relativize(p) + " (" + size(p) + " bytes)")
                    .toList();
        }
    }

    private static long size(Path p) {
        try {
            return Files.isRegularFile(p) ? Files.size(p) : 0;
        } catch (IOException e) {
            return -1;
        }
    }
}
