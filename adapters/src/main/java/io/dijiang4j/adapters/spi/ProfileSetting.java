package io.dijiang4j.adapters.spi;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The profile an unchanged application selects: system property {@code dijiang.profile}, else environment variable
 * {@code DIJIANG_PROFILE}. Neither set (or blank): the Jlama models are built exactly as langchain4j-jlama builds them.
 */
public final class ProfileSetting {
    public static final String PROPERTY = "dijiang.profile";
    public static final String ENVIRONMENT = "DIJIANG_PROFILE";

    private ProfileSetting() {}

    public static Optional<Path> configured() {
        String value = System.getProperty(PROPERTY);
        if (value == null || value.isBlank()) {
            value = System.getenv(ENVIRONMENT);
        }
        return value == null || value.isBlank() ? Optional.empty() : Optional.of(Path.of(value.strip()));
    }
}
