package io.dijiang4j.plugin.gguf;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The SmolLM2-135M-Instruct GGUF in the cache that scripts/fetch-smollm2.sh fills (never in the repository). Tests
 * that need it fail, not skip, when it is missing or differs from the recorded SHA-256: the fixtures are only
 * meaningful for that exact file.
 */
public final class SmolLM2 {
    private SmolLM2() {}

    static Path repositoryRoot() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isRegularFile(dir.resolve("scripts/smollm2.sha256"))) dir = dir.getParent();
        if (dir == null)
            fail("scripts/smollm2.sha256 not found above " + Path.of("").toAbsolutePath());
        return dir;
    }

    /** The verified GGUF path. */
    public static Path gguf() throws IOException {
        String[] recorded = Files.readString(repositoryRoot().resolve("scripts/smollm2.sha256"))
                .trim()
                .split("\\s+");
        String cache = System.getenv("DIJIANG_CACHE");
        Path root = cache != null && !cache.isBlank()
                ? Path.of(cache)
                : Path.of(System.getProperty("user.home"), ".cache", "dijiang4j");
        Path file = root.resolve("smollm2").resolve(recorded[1]);
        if (!Files.isRegularFile(file)) {
            fail("SmolLM2 model not found at " + file + ": run scripts/fetch-smollm2.sh (bin/test runs it when the"
                    + " cache lacks the model)");
        }
        String actual = GgufModels.sha256(file);
        if (!actual.equals(recorded[0])) {
            fail(file + " has SHA-256 " + actual + ", expected " + recorded[0] + ": delete it and run"
                    + " scripts/fetch-smollm2.sh");
        }
        return file;
    }
}
