package io.dijiang4j.plugin.calibration;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.dijiang4j.plugin.profile.CalibrationChoice;
import io.dijiang4j.plugin.profile.Profile;
import java.nio.file.Files;
import java.nio.file.Path;

/** The stories260K weights in place (../shared/models, never copied into the repository); tests skip without them. */
final class Stories260K {
    private Stories260K() {}

    static Path dir() {
        Path dir = Path.of(System.getProperty("stories260k.dir", "../../shared/models/stories260K"));
        assumeTrue(Files.isRegularFile(dir.resolve("model.safetensors")), "stories260K not found at " + dir);
        return dir.toAbsolutePath().normalize();
    }

    /** Hybrid with the centroid map of 16 features, on the CPU, no sidecar found by accident. */
    static Profile profile() {
        return Profile.defaults(dir().toString())
                .withBackend("cpu")
                .withFeatures("centroids", 16)
                .withCalibration(CalibrationChoice.NONE);
    }
}
