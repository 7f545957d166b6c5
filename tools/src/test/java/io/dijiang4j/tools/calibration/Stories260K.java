package io.dijiang4j.tools.calibration;

import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.plugin.profile.Backend;
import io.dijiang4j.plugin.profile.CalibrationChoice;
import io.dijiang4j.plugin.profile.FeatureMapKind;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import java.nio.file.Path;

/** The stories260K model for the calibration tests (found as the eval tests find it). */
final class Stories260K {
    private Stories260K() {}

    /** Calibration options with the centroid map of 16 features (4 sinks, heavy-hitter caches). */
    static Calibrator.Options options(long seed) {
        return Calibrator.Options.defaults(seed)
                .withMemory(FeatureMapKind.CENTROIDS, 16, 4, ExactCachePolicy.HEAVY_HITTER);
    }

    static Path dir() {
        return io.dijiang4j.plugin.Stories260K.dir();
    }

    /** Hybrid on the CPU, no sidecar found by accident (calibrate takes the memory map as options). */
    static Profile profile() {
        return Profile.defaults(ModelReference.local(dir()))
                .withBackend(Backend.CPU)
                .withCalibration(CalibrationChoice.NONE);
    }
}
