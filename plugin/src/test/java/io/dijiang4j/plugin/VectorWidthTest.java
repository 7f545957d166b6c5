package io.dijiang4j.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.profile.Mode;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * stories260K's head of 8 floats under Jlama's softmax attention: loads at 256-bit vectors, one line of error at 512
 * (the plugin module's tests run at both widths: the {@code vectors-512} execution), and the kernelized modes load at
 * either width.
 */
class VectorWidthTest {
    private static final int LANES = FloatVector.SPECIES_PREFERRED.length();

    @Test
    void softmaxLayersNeedAHeadSizeThatIsAMultipleOfTheVectorLength() {
        int headSize;
        try (DiJiangModel hybrid = DiJiang.load(Stories260K.profile(Mode.HYBRID))) {
            headSize = hybrid.jlama().getConfig().headSize;
            assertEquals(
                    hybrid.jlama().getConfig().numberOfLayers,
                    hybrid.installation().kernelizedLayers().size());
        }
        if (headSize % LANES == 0) {
            try (DiJiangModel vanilla = DiJiang.load(Stories260K.profile(Mode.SOFTMAX))) {
                assertTrue(vanilla.installation().kernelizedLayers().isEmpty());
            }
        } else {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> DiJiang.load(Stories260K.profile(Mode.SOFTMAX)));
            assertTrue(
                    e.getMessage().contains("head size " + headSize + " is not a multiple of " + LANES),
                    e.getMessage());
            assertTrue(e.getMessage().contains("DIJIANG_VECTOR_BITS=256"), e.getMessage());
            assertEquals(1, e.getMessage().lines().count(), "one line");
        }
    }
}
