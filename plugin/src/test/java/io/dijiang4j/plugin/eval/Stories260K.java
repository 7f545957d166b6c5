package io.dijiang4j.plugin.eval;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.Profile;
import java.nio.file.Files;
import java.nio.file.Path;

/** The stories260K weights in place (../shared/models, never copied into the repository); tests skip without them. */
public final class Stories260K {
    private Stories260K() {}

    public static Path dir() {
        Path dir = Path.of(System.getProperty("stories260k.dir", "../../shared/models/stories260K"));
        assumeTrue(Files.isRegularFile(dir.resolve("model.safetensors")), "stories260K not found at " + dir);
        return dir.toAbsolutePath().normalize();
    }

    static Profile profile(Mode mode) {
        return Profile.defaults(dir().toString()).withMode(mode).withBackend("cpu");
    }
}
