package io.dijiang4j.plugin.calibration;

import io.dijiang4j.plugin.gguf.GgufModels;
import io.dijiang4j.plugin.profile.CalibrationChoice;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.Profile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Finds and checks the calibration sidecar a profile uses. A sidecar holds, per layer, the settings of {@link
 * #HELD_KEYS}: with a sidecar those profile keys would have no effect, so a profile that sets one (in its file or in
 * code) is refused rather than silently overridden.
 */
public final class Sidecars {
    /** The profile keys a sidecar sets per layer (its memory map and exact budget). */
    public static final List<String> HELD_KEYS = List.of(
            "feature_map", "features", "feature_seed", "sinks", "window", "exact_cache", "cache_policy", "budget");

    private Sidecars() {}

    /**
     * Refuses a profile that sets a key the sidecar {@code file} holds: one line naming the key (file and line when
     * it came from a file) and the sidecar.
     */
    public static void checkPrecedence(Profile profile, Path file) {
        for (String key : HELD_KEYS) {
            if (profile.source().sets(key)) {
                throw profile.source()
                        .error(
                                key,
                                "the calibration sidecar " + file + " sets it per layer; remove the key from the"
                                        + " profile, or set calibration: none to use the profile's value");
            }
        }
    }

    /**
     * The model directory of a profile without downloading anything: the {@code model} path (for a .gguf file, where
     * loading converts it in the model cache), or for {@code
     * hf:owner/name} the directory Jlama's downloader uses ({@code model_cache/owner_name}); empty when that is not
     * a directory.
     */
    public static Optional<Path> modelDirectory(Profile profile) {
        if (profile.model() == null) return Optional.empty();
        Path dir = profile.model().directory(profile.modelCache());
        if (GgufModels.isGguf(dir)) {
            // a GGUF model is loaded from its conversion in the model cache: the sidecar belongs beside that
            try {
                dir = GgufModels.convertedDirectory(
                        dir, GgufModels.cacheRoot(profile.modelCache()), GgufModels.PROFILE_PRECISION);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + dir + ": " + e.getMessage(), e);
            }
        }
        return Files.isDirectory(dir) ? Optional.of(dir) : Optional.empty();
    }

    /** Where {@code calibrate} writes by default and where AUTO looks: beside the model's config.json. */
    public static Optional<Path> besideModel(Profile profile) {
        return modelDirectory(profile).map(d -> d.resolve(CalibrationChoice.DEFAULT_FILE_NAME));
    }

    /**
     * The sidecar file the profile uses, if any: none in mode softmax or with {@code calibration: none}; the named
     * file (which must exist); or, by default, {@value CalibrationChoice#DEFAULT_FILE_NAME} beside the model's
     * config.json when that file exists.
     */
    public static Optional<Path> fileOf(Profile profile) {
        if (profile.mode() == Mode.SOFTMAX) return Optional.empty();
        CalibrationChoice choice = profile.calibration();
        return switch (choice.kind()) {
            case NONE -> Optional.empty();
            case FILE -> {
                if (!Files.isRegularFile(choice.file())) {
                    throw profile.source().error("calibration", "calibration sidecar " + choice.file() + " not found");
                }
                yield Optional.of(choice.file());
            }
            case AUTO -> besideModel(profile).filter(Files::isRegularFile);
        };
    }

    /**
     * Reads the profile's sidecar and checks it was made for the profile's model (same {@link ModelFingerprint}).
     *
     * @throws IllegalArgumentException for a profile that sets a key the sidecar holds ({@link #checkPrecedence}),
     *     a corrupt file, or one made for another model (naming both)
     */
    public static Optional<Calibration> load(Profile profile) {
        Optional<Path> file = fileOf(profile);
        if (file.isEmpty()) return Optional.empty();
        checkPrecedence(profile, file.get());
        Calibration c = CalibrationFile.read(file.get());
        Path dir = modelDirectory(profile)
                .orElseThrow(() -> new IllegalArgumentException("calibration sidecar " + file.get()
                        + ": cannot check which model it belongs to, the model directory of '" + profile.model()
                        + "' is not found"));
        String fingerprint = ModelFingerprint.of(dir);
        if (!fingerprint.equals(c.model().fingerprint())) {
            throw new IllegalArgumentException("calibration sidecar " + file.get() + " was made for model '"
                    + c.model().name() + "' (fingerprint " + shortHash(c.model().fingerprint())
                    + "), not for the loaded model '" + dir.getFileName() + "' in " + dir + " (fingerprint "
                    + shortHash(fingerprint) + "); run dijiang calibrate for this model or set calibration: none");
        }
        return Optional.of(c);
    }

    public static String shortHash(String hex) {
        return hex.length() > 16 ? hex.substring(0, 16) + "..." : hex;
    }
}
