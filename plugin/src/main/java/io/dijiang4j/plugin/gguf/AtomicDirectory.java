package io.dijiang4j.plugin.gguf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Creates a directory all at once: its files are written into a temporary sibling that is renamed into place at the
 * end, so readers see either nothing or the complete directory, and a failure leaves nothing behind. (The same
 * pattern is in {@code synth.SyntheticModels.write}; this is the public form it could share.)
 */
public final class AtomicDirectory {
    /** Writes the directory's contents into the given (temporary) directory. */
    @FunctionalInterface
    public interface Contents<T> {
        T writeInto(Path directory) throws IOException;
    }

    private AtomicDirectory() {}

    /**
     * Creates {@code target}, which must not exist or be an empty directory, with what {@code contents} writes.
     *
     * @return what {@code contents} returned
     */
    public static <T> T create(Path target, Contents<T> contents) throws IOException {
        Path dir = target.toAbsolutePath().normalize();
        if (Files.exists(dir)) {
            boolean emptyDir;
            try (Stream<Path> entries = Files.isDirectory(dir) ? Files.list(dir) : null) {
                emptyDir = entries != null && entries.findAny().isEmpty();
            }
            if (!emptyDir) throw new IllegalArgumentException("output " + dir + " already exists and is not empty");
        }
        Path parent = dir.getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempDirectory(parent, "." + dir.getFileName() + ".tmp-");
        boolean done = false;
        try {
            T result = contents.writeInto(tmp);
            try { // temporary directories are owner-only; a model directory is meant to be shared
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
            } catch (UnsupportedOperationException ignored) {
                // not a POSIX file system
            }
            if (Files.isDirectory(dir)) Files.delete(dir); // empty (checked above)
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, dir);
            }
            done = true;
            return result;
        } finally {
            if (!done) deleteRecursively(tmp);
        }
    }

    /** Deletes a directory tree; nothing if it does not exist. */
    public static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
