package io.dijiang4j.cpunative;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The committed library is present and was built from the C sources as they are (cpu-native/build-native.sh). */
class NativeLibraryResourcesTest {
    private static final Path C_SOURCES = Path.of("src/main/c");

    @Test
    void theCommittedLibraryIsNotOlderThanItsSources() throws IOException, NoSuchAlgorithmException {
        try (InputStream library = NativeQ4Kernel.class.getResourceAsStream(NativeQ4Kernel.LIBRARY_RESOURCE)) {
            assertNotNull(library, "missing " + NativeQ4Kernel.LIBRARY_RESOURCE);
        }
        String recorded;
        try (InputStream in = NativeQ4Kernel.class.getResourceAsStream("linux-x86_64/sources.sha256")) {
            assertNotNull(in, "missing sources.sha256 beside the library");
            recorded = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
        StringBuilder actual = new StringBuilder();
        try (Stream<Path> files = Files.list(C_SOURCES)) {
            for (Path c : files.filter(
                            p -> p.toString().endsWith(".c") || p.toString().endsWith(".h"))
                    .sorted()
                    .collect(Collectors.toList())) {
                byte[] digest = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(c));
                actual.append(HexFormat.of().formatHex(digest))
                        .append("  ")
                        .append(c.getFileName())
                        .append('\n');
            }
        }
        assertEquals(actual.toString(), recorded, "the library is stale: run cpu-native/build-native.sh");
    }
}
