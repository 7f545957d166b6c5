package io.dijiang4j.plugin;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.profile.Backend;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import java.nio.file.Files;
import java.nio.file.Path;

/** The embedded default model (models/stories260K, tracked in the repository); tests fail without it. */
public final class Stories260K {
    private Stories260K() {}

    public static Path dir() {
        Path dir = Path.of(System.getProperty("stories260k.dir", "../models/stories260K"));
        assertTrue(Files.isRegularFile(dir.resolve("model.safetensors")), "stories260K missing at " + dir);
        return dir.toAbsolutePath().normalize();
    }

    public static Profile profile(Mode mode) {
        return Profile.defaults(ModelReference.local(dir())).withMode(mode).withBackend(Backend.CPU);
    }
}
