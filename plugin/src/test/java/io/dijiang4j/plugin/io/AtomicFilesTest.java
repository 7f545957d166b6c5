package io.dijiang4j.plugin.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
    @TempDir
    Path temp;

    private List<Path> entries(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    @Test
    void replacesTheFileWholeCreatingItsDirectoryAndLeavesNoTemporaryFile() throws Exception {
        Path file = temp.resolve("sub/out.txt");
        AtomicFiles.writeString(file, "first");
        AtomicFiles.writeString(file, "second");
        assertEquals("second", Files.readString(file));
        assertEquals(List.of(file), entries(file.getParent()));
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    }

    @Test
    void aFailingWriterLeavesTheOldFileAndNoTemporaryFile() throws Exception {
        Path file = temp.resolve("keep.txt");
        AtomicFiles.writeString(file, "old");
        UncheckedIOException e = assertThrows(
                UncheckedIOException.class,
                () -> AtomicFiles.write(file, out -> {
                    out.write(java.nio.ByteBuffer.wrap("partial".getBytes()));
                    throw new IOException("disk full");
                }));
        assertEquals("cannot write " + file + ": IOException disk full", e.getMessage());
        assertEquals("old", Files.readString(file));
        assertEquals(List.of(file), entries(temp));
    }

    @Test
    void aDirectoryAppearsWholeOrNotAtAll() throws Exception {
        Path dir = temp.resolve("model");
        AtomicFiles.writeDirectory(dir, d -> AtomicFiles.writeString(d.resolve("a.txt"), "a"));
        assertEquals("a", Files.readString(dir.resolve("a.txt")));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AtomicFiles.writeDirectory(dir, d -> {}))
                .getMessage()
                .endsWith("already exists and is not empty"));
        Path failed = temp.resolve("failed");
        assertThrows(
                UncheckedIOException.class,
                () -> AtomicFiles.writeDirectory(failed, d -> {
                    AtomicFiles.writeString(d.resolve("half.txt"), "x");
                    throw new IOException("stopped");
                }));
        assertFalse(Files.exists(failed));
        assertEquals(List.of(dir), entries(temp), "no temporary directory left");
    }
}
