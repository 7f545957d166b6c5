package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** The embedded default model (models/stories260K) and profiles that point at it; tests fail without it. */
final class Stories260K {
    /** The name langchain4j-jlama's registry is given; it looks in {@code <cache>/karpathy_stories260K}. */
    static final String JLAMA_MODEL_NAME = "karpathy/stories260K";

    private Stories260K() {}

    static Path dir() {
        Path dir = Path.of(System.getProperty("stories260k.dir", "../models/stories260K"));
        assertTrue(Files.isRegularFile(dir.resolve("model.safetensors")), "stories260K missing at " + dir);
        return dir.toAbsolutePath().normalize();
    }

    /**
     * A langchain4j-jlama model cache holding stories260K without a download: links to the real files in
     * {@code <cache>/karpathy_stories260K} and the {@code .finished} marker its downloader writes when done.
     */
    static Path jlamaCache(Path temp) {
        Path model = dir();
        Path cache = temp.resolve("jlama-cache");
        Path target = cache.resolve("karpathy_stories260K");
        try {
            Files.createDirectories(target);
            try (Stream<Path> files = Files.list(model)) {
                for (Path file : (Iterable<Path>) files::iterator) {
                    if (Files.isRegularFile(file)) {
                        Path link = target.resolve(file.getFileName());
                        if (!Files.exists(link)) {
                            Files.createSymbolicLink(link, file);
                        }
                    }
                }
            }
            Path finished = target.resolve(".finished");
            if (!Files.exists(finished)) {
                Files.createFile(finished);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return cache;
    }

    /** An existing, empty working directory for a langchain4j-jlama model (Jlama requires it to exist). */
    static Path workingDirectory(Path temp) {
        try {
            return Files.createTempDirectory(temp, "jlama-work");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes a profile for stories260K; {@code body} holds the keys after {@code model}. */
    static Path profile(Path temp, String name, String body) {
        Path file = temp.resolve(name + ".yaml");
        try {
            Files.writeString(file, "model: " + dir() + "\n" + body);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    static Path vanilla(Path temp) {
        return profile(temp, "vanilla", "mode: softmax\n");
    }

    /** Hybrid with a window small enough that the kernelized memory is used within stories260K's 512 positions. */
    static Path hybrid(Path temp) {
        return profile(temp, "hybrid", "mode: hybrid\nsinks: 4\nwindow: 32\nfeatures: 32\n");
    }

    static Path dijiang(Path temp) {
        return profile(temp, "dijiang", "mode: dijiang\nfeatures: 32\n");
    }
}
