package io.dijiang4j.tools.eval;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Stories260K;
import io.dijiang4j.plugin.profile.FeatureMapKind;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.Profile;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The default of mode hybrid without a sidecar (the online centroid memory, budget 40 split as 4 sinks + window 36)
 * against the plain window of the same budget (sinks 4 + window 36, no memory), evaluated like {@code dijiang eval}
 * on stories260K texts the model samples itself, beyond position 72. Fails if the default does not clearly beat the
 * window (README "Fidelity": KL 0.016 against 0.102 on 8 texts of 500 tokens).
 */
class CalibrationFreeHybridTest {
    @Test
    void theCalibrationFreeDefaultBeatsThePlainWindowOfTheSameBudget() {
        try (DiJiangModel vanilla = DiJiang.load(Stories260K.profile(Mode.SOFTMAX))) {
            List<String> texts = new TextSampler(vanilla)
                    .sample(TextSampler.Options.unbiased(4, 300, 4242), line -> {}).stream()
                            .map(TextSampler.SampledText::text)
                            .toList();
            Profile online = Stories260K.profile(Mode.HYBRID).withBudget(40);
            Profile window = Stories260K.profile(Mode.HYBRID)
                    .withFeatures(FeatureMapKind.NONE, 64)
                    .withBudget(40);
            EvalResult withMemory = new Evaluator(vanilla, online, 72).evaluateTexts(texts, line -> {});
            EvalResult plain = new Evaluator(vanilla, window, 72).evaluateTexts(texts, line -> {});
            System.out.println("online memory, budget 40:\n" + withMemory.table());
            System.out.println("plain window, budget 40:\n" + plain.table());
            double klMemory = withMemory.beyondWindow().klMean(),
                    klPlain = plain.beyondWindow().klMean();
            assertTrue(withMemory.beyondWindow().tokens() > 500, "enough positions beyond 72");
            assertTrue(klPlain > 0.02, "the plain window must lose something here, else the test sees nothing");
            assertTrue(
                    klMemory < 0.6 * klPlain,
                    "online memory KL " + klMemory + " must clearly beat the plain window's " + klPlain);
            assertTrue(
                    withMemory.beyondWindow().perplexityRatio()
                            < plain.beyondWindow().perplexityRatio(),
                    "perplexity ratio");
        }
    }
}
