package io.dijiang4j.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.profile.FeatureMapKind;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The warning for the memories that, uncalibrated, destroy a softmax-trained model in the hybrid (wdcf). */
class UncalibratedMemoryWarningTest {
    private static Profile profile(Mode mode, FeatureMapKind map) {
        return Profile.defaults(ModelReference.local(Path.of("m")))
                .withMode(mode)
                .withFeatures(map, 64);
    }

    @Test
    void wdcfInTheHybridWarnsAndNamesTheOnlineMemory() {
        for (FeatureMapKind map : new FeatureMapKind[] {FeatureMapKind.WDCF, FeatureMapKind.WDCF_MC}) {
            Optional<String> w = Installation.uncalibratedMemoryWarning(profile(Mode.HYBRID, map));
            assertTrue(w.isPresent(), map.key());
            assertTrue(w.get().contains("feature_map " + map.key()) && w.get().contains("feature_map online"), w.get());
            assertTrue(w.get().contains("x50"), "says how bad, with the number: " + w.get());
        }
    }

    @Test
    void theOtherMemoriesAndModesDoNotWarn() {
        for (FeatureMapKind map : new FeatureMapKind[] {
            FeatureMapKind.ONLINE, FeatureMapKind.NONE, FeatureMapKind.PERFORMER, FeatureMapKind.PFF
        }) {
            assertEquals(Optional.empty(), Installation.uncalibratedMemoryWarning(profile(Mode.HYBRID, map)));
        }
        // pure linear attention is another matter (its own warning belongs to mode dijiang)
        assertEquals(
                Optional.empty(), Installation.uncalibratedMemoryWarning(profile(Mode.DIJIANG, FeatureMapKind.WDCF)));
        assertEquals(Optional.empty(), Installation.uncalibratedMemoryWarning(Profile.defaults(null)));
    }
}
