package io.dijiang4j.adapters;

import io.dijiang4j.adapters.engine.InferenceEngine;
import java.nio.file.Path;

/** Loads the engine a YAML profile describes, through the plugin. */
final class ProfileEngines {
    private ProfileEngines() {}

    static InferenceEngine load(Path profile) {
        throw new UnsupportedOperationException("profile loading is bound to the plugin API: " + profile);
    }
}
