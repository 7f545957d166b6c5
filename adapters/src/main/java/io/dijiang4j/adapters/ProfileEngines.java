package io.dijiang4j.adapters;

import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.adapters.engine.PluginEngine;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.profile.ProfileLoader;
import java.nio.file.Path;

/** Loads the engine a YAML profile describes, through the plugin. */
final class ProfileEngines {
    private ProfileEngines() {}

    /** @throws io.dijiang4j.plugin.profile.ProfileException for a bad profile, naming the file, line and key */
    static InferenceEngine load(Path profile) {
        return new PluginEngine(DiJiang.load(ProfileLoader.load(profile)));
    }
}
