package io.dijiang4j.plugin.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Every file the project writes goes through here: the content goes to a temporary file in the target's directory,
 * is forced to disk, then renamed over the target in one step. A reader sees the old file or the new one, never
 * half of one, and a crash leaves at most a hidden {@code .name.*.tmp} file, which the next successful write of
 * the same target deletes. Failures are one-line {@link UncheckedIOException}s naming the target.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes the content of a file to an open channel (positioned at 0). */
    @FunctionalInterface
    public interface Content {
        void writeTo(FileChannel out) throws IOException;
    }

    /** Fills a directory (empty when called) with files. */
    @FunctionalInterface
    public interface DirectoryContent {
        void writeInto(Path directory) throws IOException;
    }

    public static void write(Path file, byte[] bytes) {
        write(file, out -> writeFully(out, ByteBuffer.wrap(bytes)));
    }

    public static void writeString(Path file, String text) {
        write(file, text.getBytes(StandardCharsets.UTF_8));
    }

    /** Writes {@code file} atomically, creating its directory when missing. */
    public static void write(Path file, Content content) {
        Path target = file.toAbsolutePath().normalize();
        try {
            Files.createDirectories(target.getParent());
            Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName() + ".", ".tmp");
            try {
                try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE);
                        FileLock writing = out.lock()) {
                    content.writeTo(out);
                    out.force(true);
                }
                shareable(tmp, "rw-r--r--");
                move(tmp, target, true);
            } finally {
                Files.deleteIfExists(tmp);
            }
            deleteAbandoned(target);
            syncDirectory(target.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + describe(e), e);
        }
    }

    /**
     * Deletes the temporary files of {@code target} that a killed writer left: those nobody holds the lock of (the
     * operating system releases a dead process's locks; a writer of this or another live process still holds its
     * own, so it is left alone).
     */
    private static void deleteAbandoned(Path target) {
        String glob =
                "." + target.getFileName().toString().replace("\\", "\\\\").replaceAll("([*?\\[\\]{}])", "\\\\$1")
                        + ".*.tmp";
        try (DirectoryStream<Path> stale = Files.newDirectoryStream(target.getParent(), glob)) {
            for (Path p : stale) {
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE);
                        FileLock lock = ch.tryLock()) {
                    if (lock != null) Files.deleteIfExists(p);
                } catch (IOException | OverlappingFileLockException e) {
                    // held by a writer of this JVM, or gone already: not abandoned
                }
            }
        } catch (IOException | RuntimeException e) {
            // best effort: the file itself was written
        }
    }

    /**
     * Writes the directory {@code target} atomically: {@code content} fills a temporary sibling directory, which is
     * renamed into place. {@code target} must not exist or be an empty directory.
     */
    public static Path writeDirectory(Path target, DirectoryContent content) {
        Path dir = target.toAbsolutePath().normalize();
        try {
            if (Files.exists(dir) && !isEmptyDirectory(dir)) {
                throw new IllegalArgumentException("output " + dir + " already exists and is not empty");
            }
            Files.createDirectories(dir.getParent());
            Path tmp = Files.createTempDirectory(dir.getParent(), "." + dir.getFileName() + ".tmp-");
            boolean moved = false;
            try {
                content.writeInto(tmp);
                shareable(tmp, "rwxr-xr-x");
                if (Files.isDirectory(dir)) Files.delete(dir); // empty (checked above)
                move(tmp, dir, false);
                moved = true;
            } finally {
                if (!moved) deleteTree(tmp);
            }
            syncDirectory(dir.getParent());
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target + ": " + describe(e), e);
        }
    }

    /**
     * A scratch file in {@code directory} for content too large to hold in memory before it is written atomically
     * (same file system, so no copy across devices); the caller deletes it.
     */
    public static Path scratchFile(Path directory, String name) throws IOException {
        Path dir = directory.toAbsolutePath().normalize();
        Files.createDirectories(dir);
        return Files.createTempFile(dir, "." + name + ".", ".tmp");
    }

    public static void writeFully(FileChannel out, ByteBuffer bytes) throws IOException {
        while (bytes.hasRemaining()) out.write(bytes);
    }

    /**
     * Deletes a scratch directory tree (working directories, failed outputs); missing is fine. Best effort: what
     * cannot be deleted is logged as a warning, not thrown, so that cleanup never hides the error that caused it.
     */
    public static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException | UncheckedIOException e) {
            System.getLogger(AtomicFiles.class.getName())
                    .log(System.Logger.Level.WARNING, "could not delete " + dir + ": " + e.getMessage());
        }
    }

    private static void move(Path from, Path to, boolean replace) throws IOException {
        try {
            if (replace) Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            else Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            // a file system without atomic renames (some network mounts): still one rename, not a copy
            if (replace) Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
            else Files.move(from, to);
        }
    }

    /** Temporary files and directories are created owner-only; outputs are meant to be read by others. */
    private static void shareable(Path p, String permissions) throws IOException {
        try {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(permissions));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system
        }
    }

    /** Makes the rename itself durable where the platform allows opening a directory (Linux); elsewhere skipped. */
    private static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            // best effort: the data itself was forced before the rename
        }
    }

    private static boolean isEmptyDirectory(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return false;
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.findAny().isEmpty();
        }
    }

    private static String describe(IOException e) {
        String m = e.getMessage();
        return m == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + " " + m;
    }
}
