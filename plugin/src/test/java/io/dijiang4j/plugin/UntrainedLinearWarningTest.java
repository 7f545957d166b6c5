package io.dijiang4j.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.profile.Mode;
import java.util.logging.Level;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Mode dijiang in a Jlama (softmax-trained) model logs one warning per model; the other modes none. */
class UntrainedLinearWarningTest {
    static final String TEXT = "linear attention without training";
    LogCapture log;

    @BeforeEach
    void attach() {
        log = LogCapture.of(Installation.class.getName());
    }

    @AfterEach
    void detach() {
        log.close();
    }

    long warnings() {
        return log.count(Level.WARNING, TEXT);
    }

    @Test
    void theWarningNamesWhatItIsTheFactorAndTheHybrid() {
        String w = Installation.untrainedLinearWarning(Stories260K.profile(Mode.DIJIANG))
                .orElseThrow();
        assertTrue(w.contains(TEXT), w);
        assertTrue(w.contains("perplexity " + Installation.UNTRAINED_LINEAR_PERPLEXITY), w);
        assertTrue(w.contains("mode: hybrid"), w);
        assertEquals(1, w.lines().count(), "one line");
        assertTrue(Installation.untrainedLinearWarning(Stories260K.profile(Mode.HYBRID))
                .isEmpty());
        assertTrue(Installation.untrainedLinearWarning(Stories260K.profile(Mode.SOFTMAX))
                .isEmpty());
    }

    @Test
    void modeDijiangLogsOneWarningPerModel() {
        try (DiJiangModel model = DiJiang.load(Stories260K.profile(Mode.DIJIANG))) {
            assertEquals(1, warnings());
        }
        try (DiJiangModel vanilla = DiJiang.load(Stories260K.profile(Mode.SOFTMAX))) {
            assertEquals(1, warnings());
            // installed twice into the same Jlama model (as eval does per batch of texts): one more line, not two
            for (int i = 0; i < 2; i++) {
                try (DiJiangModel dijiang = DiJiang.install(vanilla.jlama(), Stories260K.profile(Mode.DIJIANG))) {
                    assertEquals(2, warnings());
                }
            }
        }
    }

    @Test
    void hybridAndSoftmaxLogNone() {
        try (DiJiangModel hybrid = DiJiang.load(Stories260K.profile(Mode.HYBRID));
                DiJiangModel softmax = DiJiang.load(Stories260K.profile(Mode.SOFTMAX))) {
            assertEquals(0, warnings());
        }
    }
}
