package io.dijiang4j.tools.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.Stories260K;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shipped hybrid profile with its sidecar: a key the sidecar holds, set in the profile, is one line, exit 2. */
class SidecarPrecedenceCliTest {
    private static final Path CONFIGS =
            Path.of("..", "configs").toAbsolutePath().normalize();

    @TempDir
    Path temp;

    /** configs/hybrid.yaml and its sidecar copied to the temporary folder, {@code extra} appended to the profile. */
    private Path shippedHybrid(String extra) throws Exception {
        Files.copy(CONFIGS.resolve("hybrid.calibration.safetensors"), temp.resolve("hybrid.calibration.safetensors"));
        String shipped = Files.readString(CONFIGS.resolve("hybrid.yaml"))
                .replace("model: ../models/stories260K", "model: " + Stories260K.dir());
        return Files.writeString(temp.resolve("hybrid.yaml"), shipped + extra);
    }

    @Test
    void windowSetBesideASidecarIsOneLineNamingTheKeyAndTheSidecar() throws Exception {
        Path profile = shippedHybrid("window: 36\n");
        Path sidecar = temp.resolve("hybrid.calibration.safetensors");
        int line = (int) Files.readString(profile).lines().count();

        CliRun r = CliRun.of("generate", "--config", profile.toString(), "--prompt", "Once", "--max-tokens", "1");

        assertEquals(2, r.exitCode(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertEquals(
                "error: " + profile + ":line " + line + ": key 'window': the calibration sidecar " + sidecar
                        + " sets it per layer; remove the key from the profile, or set calibration: none to use the"
                        + " profile's value",
                r.err().strip());
        assertTrue(r.out().isEmpty(), r.out());
    }

    @Test
    void theShippedHybridProfileSetsNoKeyItsSidecarHolds() throws Exception {
        Path profile = shippedHybrid("");
        CliRun r = CliRun.of(
                "generate",
                "--config",
                profile.toString(),
                "--prompt",
                "Once",
                "--max-tokens",
                "2",
                "--temperature",
                "0");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().startsWith("Once"), r.out());
    }
}
