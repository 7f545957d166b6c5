package io.dijiang4j.tools.calibration;

import io.dijiang4j.plugin.profile.CalibrationChoice;
import io.dijiang4j.plugin.profile.Profile;
import java.nio.file.Path;

/** The stories260K model for the calibration tests (found as the eval tests find it). */
final class Stories260K {
    private Stories260K() {}

    static Path dir() {
        return io.dijiang4j.plugin.Stories260K.dir();
    }

    /** Hybrid with the centroid map of 16 features, on the CPU, no sidecar found by accident. */
    static Profile profile() {
        return Profile.defaults(dir().toString())
                .withBackend("cpu")
                .withFeatures("centroids", 16)
                .withCalibration(CalibrationChoice.NONE);
    }
}
