package io.dijiang4j.plugin.profile;

import java.nio.file.Path;
import java.util.Objects;
import java.util.function.Function;

/**
 * The model a profile names, parsed once: a local Jlama model directory, or {@code hf:owner/name} for Jlama's
 * downloader. {@link #toString()} gives the form it was written in.
 */
public sealed interface ModelReference permits ModelReference.Local, ModelReference.HuggingFace {
    String HF_PREFIX = "hf:";

    /**
     * Where the model's files are (or, for a repository, will be once downloaded into {@code modelCache}); the
     * directory may not exist.
     */
    Path directory(Path modelCache);

    /** A model directory on this machine. */
    record Local(Path directory) implements ModelReference {
        public Local {
            Objects.requireNonNull(directory, "directory");
        }

        @Override
        public Path directory(Path modelCache) {
            return directory;
        }

        @Override
        public String toString() {
            return directory.toString();
        }
    }

    /**
     * A Hugging Face repository, fetched by Jlama's downloader into {@code model_cache/owner_name}.
     *
     * @param repository {@code owner/name}
     */
    record HuggingFace(String repository) implements ModelReference {
        public HuggingFace {
            String[] parts = repository.split("/", -1);
            if (parts.length != 2 || parts[0].isBlank() || parts[1].isBlank()) {
                throw new IllegalArgumentException(
                        "a Hugging Face model is written hf:owner/name, got '" + HF_PREFIX + repository + "'");
            }
        }

        /** Jlama's downloader stores {@code owner/name} as {@code owner_name}. */
        @Override
        public Path directory(Path modelCache) {
            return modelCache.resolve(repository.replace('/', '_'));
        }

        @Override
        public String toString() {
            return HF_PREFIX + repository;
        }
    }

    static ModelReference local(Path directory) {
        return new Local(directory);
    }

    /** {@code text} with relative paths against the working directory. */
    static ModelReference parse(String text) {
        return parse(text, s -> Path.of(s).toAbsolutePath().normalize());
    }

    /**
     * {@code hf:owner/name}, else a directory that {@code toPath} resolves (a profile resolves relative paths against
     * its own directory).
     *
     * @throws IllegalArgumentException for an empty value or a malformed repository name
     */
    static ModelReference parse(String text, Function<String, Path> toPath) {
        if (text == null || text.isBlank()) throw new IllegalArgumentException("no model given");
        if (text.startsWith(HF_PREFIX)) return new HuggingFace(text.substring(HF_PREFIX.length()));
        return new Local(toPath.apply(text));
    }
}
