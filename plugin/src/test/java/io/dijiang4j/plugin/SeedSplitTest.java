package io.dijiang4j.plugin;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.plugin.profile.ProfileLoader;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code seed} seeds sampling only, {@code feature_seed} the random feature maps only (stories260K, dijiang). */
class SeedSplitTest {
    private static Profile profile(String seedKeys) {
        return ProfileLoader.parse(
                "model: " + Stories260K.dir() + "\nmode: dijiang\nfeature_map: wdcf\nbackend: cpu\n" + seedKeys, null);
    }

    /** The logits after the prompt, and 30 tokens sampled from the session's own stream (the profile's seed). */
    private record Run(float[] logits, List<Integer> sampled) {}

    private static Run run(Profile profile) {
        GenerationOptions sampling =
                GenerationOptions.defaults().withMaxTokens(30).withStopAtEndToken(false);
        try (DiJiangModel model = DiJiang.load(profile);
                Session session = model.newSession()) {
            float[] logits = session.append(model.encode("Once upon a time", true));
            return new Run(
                    logits, session.generate(new int[0], sampling, text -> {}).tokens());
        }
    }

    /** Largest logit difference; two loads of one model differ by about 1e-6 (Jlama's parallel sums). */
    private static double distance(float[] a, float[] b) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
        return worst;
    }

    @Test
    void seedChangesTheSampledTokensNotTheFeatureMaps() {
        Run defaults = run(profile(""));
        Run otherSeed = run(profile("seed: 7\n"));
        assertTrue(distance(defaults.logits(), otherSeed.logits()) < 1e-4, "seed changed the feature maps");
        assertNotEquals(defaults.sampled(), otherSeed.sampled());
        // no key means 42 for the feature maps, as the shipped profiles' seed: 42 did before the split
        Run explicit = run(profile("feature_seed: 42\n"));
        assertTrue(distance(defaults.logits(), explicit.logits()) < 1e-4);
    }

    @Test
    void featureSeedChangesTheFeatureMaps() {
        Run defaults = run(profile(""));
        Run otherMaps = run(profile("feature_seed: 43\n"));
        assertTrue(distance(defaults.logits(), otherMaps.logits()) > 1e-2, "feature_seed left the feature maps");
    }
}
