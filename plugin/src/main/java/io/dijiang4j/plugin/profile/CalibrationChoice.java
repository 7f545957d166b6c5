package io.dijiang4j.plugin.profile;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Which calibration sidecar ({@code dijiang calibrate}) a profile uses: the file beside the model's config.json when
 * there is one ({@link #AUTO}, the default), none ({@link #NONE}, YAML {@code calibration: none}), or a named file.
 *
 * @param kind AUTO, NONE or FILE
 * @param file the sidecar for FILE, else null
 */
public record CalibrationChoice(Kind kind, Path file) {
    public enum Kind {
        AUTO,
        NONE,
        FILE
    }

    /** Name of the sidecar that {@link #AUTO} looks for beside the model's config.json. */
    public static final String DEFAULT_FILE_NAME = "dijiang-calibration.safetensors";

    public static final CalibrationChoice AUTO = new CalibrationChoice(Kind.AUTO, null);
    public static final CalibrationChoice NONE = new CalibrationChoice(Kind.NONE, null);

    public CalibrationChoice {
        Objects.requireNonNull(kind, "kind");
        if ((kind == Kind.FILE) != (file != null)) {
            throw new IllegalArgumentException("a file is given exactly for kind FILE");
        }
    }

    public static CalibrationChoice file(Path file) {
        return new CalibrationChoice(Kind.FILE, Objects.requireNonNull(file, "file"));
    }
}
