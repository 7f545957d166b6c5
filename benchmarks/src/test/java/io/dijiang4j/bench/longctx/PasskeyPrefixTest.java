package io.dijiang4j.bench.longctx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.profile.Backend;
import io.dijiang4j.plugin.profile.CalibrationChoice;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** The passkey grid feeds the tokens before the passkey once per profile and cell; the answers must not change. */
class PasskeyPrefixTest {
    @Test
    void answersFromTheSharedPrefixEqualThoseOfAWholePrompt() {
        Profile base = Profile.defaults(
                        ModelReference.local(Path.of("../models/stories260K").toAbsolutePath()))
                .withBackend(Backend.CPU)
                .withCalibration(CalibrationChoice.NONE);
        List<Profile> profiles = List.of(
                base.withMode(Mode.SOFTMAX),
                base.withMode(Mode.HYBRID).withBudget(24).withExactCache(6, ExactCachePolicy.SELF_RECALL));
        for (Profile profile : profiles) {
            try (DiJiangModel model = DiJiang.load(profile)) {
                LongContextCommand command = new LongContextCommand();
                int[] last = null;
                for (int key : new int[] {48213, 90517, 27364}) {
                    PasskeyPrompt p = PasskeyPrompt.build(
                            200, 0.6, key, s -> model.encode(s, false).length, UnaryOperator.identity());
                    int[] tokens = model.encode(p.prompt(), true);
                    int shared = LongContextCommand.commonPrefix(
                            tokens,
                            model.encode(
                                    PasskeyPrompt.build(
                                                    200,
                                                    0.6,
                                                    LongContextCommand.otherDigits(key),
                                                    s -> model.encode(s, false).length,
                                                    UnaryOperator.identity())
                                            .prompt(),
                                    true));
                    if (last != null) assertEquals(shared, LongContextCommand.commonPrefix(tokens, last));
                    last = tokens;
                    List<Integer> whole;
                    try (Session s = model.newSession()) {
                        whole = s.generate(tokens, GenerationOptions.greedy(8), x -> {})
                                .tokens();
                    }
                    List<Integer> fromPrefix;
                    try (Session s = command.afterPrefix(model, profile.mode().key(), Arrays.copyOf(tokens, shared))) {
                        fromPrefix = s.generate(
                                        Arrays.copyOfRange(tokens, shared, tokens.length),
                                        GenerationOptions.greedy(8),
                                        x -> {})
                                .tokens();
                    }
                    assertEquals(whole, fromPrefix, profile.mode() + " key " + key);
                }
            }
        }
    }

    @Test
    void otherDigitsDifferEverywhere() {
        for (int key : new int[] {10000, 99999, 48213, 90909}) {
            int other = LongContextCommand.otherDigits(key);
            String a = Integer.toString(key), b = Integer.toString(other);
            assertEquals(5, b.length());
            for (int i = 0; i < 5; i++) assertNotEquals(a.charAt(i), b.charAt(i), key + " vs " + other);
        }
        assertEquals(3, LongContextCommand.commonPrefix(new int[] {1, 2, 3, 4}, new int[] {1, 2, 3, 5, 6}));
        assertEquals(0, LongContextCommand.commonPrefix(new int[] {7}, new int[] {8}));
    }
}
