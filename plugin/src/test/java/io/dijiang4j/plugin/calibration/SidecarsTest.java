package io.dijiang4j.plugin.calibration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.gguf.GgufModels;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.plugin.profile.ProfileLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SidecarsTest {
    /**
     * A profile naming a .gguf file is loaded from the file's conversion in the model cache: its sidecar is looked
     * for (and written by calibrate) there, where the model's config.json is.
     */
    @Test
    void aGgufModelsSidecarLivesBesideItsConversion(@TempDir Path tmp) throws Exception {
        Path gguf = tmp.resolve("Tiny.Q4_1.gguf");
        byte[] bytes = new byte[4096];
        new SplittableRandom(7).nextBytes(bytes);
        Files.write(gguf, bytes);
        Path cache = tmp.resolve("cache");
        Profile profile = ProfileLoader.parse(
                "model: " + gguf + "\nmodel_cache: " + cache + "\nmode: hybrid\n", tmp.resolve("p.yaml"));
        assertEquals(Optional.empty(), Sidecars.modelDirectory(profile), "not converted yet: no directory");

        Path converted = GgufModels.convertedDirectory(gguf, GgufModels.cacheRoot(cache), GgufModels.PROFILE_PRECISION);
        assertTrue(converted.getFileName().toString().startsWith("Tiny.Q4_1-"), converted.toString());
        Files.createDirectories(converted);
        assertEquals(Optional.of(converted), Sidecars.modelDirectory(profile));
        assertEquals(
                Optional.of(converted.resolve(io.dijiang4j.plugin.profile.CalibrationChoice.DEFAULT_FILE_NAME)),
                Sidecars.besideModel(profile));
    }
}
