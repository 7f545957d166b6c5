package io.dijiang4j.tools.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Stories260K;
import io.dijiang4j.plugin.profile.Mode;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TextSamplerTest {
    static DiJiangModel vanilla;

    @BeforeAll
    static void load() {
        vanilla = DiJiang.load(Stories260K.profile(Mode.SOFTMAX));
    }

    @AfterAll
    static void close() {
        if (vanilla != null) vanilla.close();
    }

    @Test
    void sameSeedSameTextsAndTextIDoesNotDependOnTheCount() {
        TextSampler sampler = new TextSampler(vanilla);
        List<TextSampler.SampledText> three = sampler.sample(TextSampler.Options.unbiased(3, 60, 7), line -> {});
        List<TextSampler.SampledText> two = sampler.sample(TextSampler.Options.unbiased(2, 60, 7), line -> {});
        List<TextSampler.SampledText> otherSeed = sampler.sample(TextSampler.Options.unbiased(2, 60, 8), line -> {});
        assertEquals(3, three.size());
        for (int i = 0; i < 2; i++) {
            assertArrayEquals(three.get(i).tokens(), two.get(i).tokens(), "text " + i);
            assertEquals(three.get(i).text(), two.get(i).text());
        }
        assertFalse(java.util.Arrays.equals(three.get(0).tokens(), three.get(1).tokens()), "texts 0 and 1 differ");
        assertFalse(
                java.util.Arrays.equals(three.get(0).tokens(), otherSeed.get(0).tokens()), "seeds 7 and 8 differ");
    }

    @Test
    void textsEndAtTheTokenLimitOrTheEndTokenAndDecodeTheirTokens() {
        List<TextSampler.SampledText> texts =
                new TextSampler(vanilla).sample(TextSampler.Options.unbiased(4, 40, 3), line -> {});
        for (TextSampler.SampledText t : texts) {
            int[] tokens = t.tokens();
            assertTrue(tokens.length <= 40);
            if (!t.endToken()) assertEquals(40, tokens.length);
            StringBuilder decoded = new StringBuilder();
            for (int token : tokens) {
                assertFalse(vanilla.tokens().isEndToken(token));
                decoded.append(vanilla.tokens().decode(token));
            }
            assertEquals(decoded.toString(), t.text());
        }
    }

    @Test
    void theProfileFormSamplesWithSoftmaxWhateverTheMode() {
        TextSampler.Options options = TextSampler.Options.unbiased(2, 50, 11);
        List<TextSampler.SampledText> viaHybridProfile =
                TextSampler.sample(Stories260K.profile(Mode.HYBRID).withHybrid(1, 2), options, line -> {});
        List<TextSampler.SampledText> direct = new TextSampler(vanilla).sample(options, line -> {});
        for (int i = 0; i < 2; i++)
            assertArrayEquals(direct.get(i).tokens(), viaHybridProfile.get(i).tokens());
    }

    @Test
    void textSeedsDependOnSeedAndIndexOnly() {
        assertEquals(TextSampler.textSeed(5, 3), TextSampler.textSeed(5, 3));
        assertTrue(TextSampler.textSeed(5, 3) != TextSampler.textSeed(5, 2));
        assertTrue(TextSampler.textSeed(5, 0) != TextSampler.textSeed(6, 0));
    }

    @Test
    void moreTokensThanSoftmaxCanHoldAreRefused() {
        TextSampler sampler = new TextSampler(vanilla);
        int tooMany = (int) vanilla.maxPositions();
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> sampler.sample(TextSampler.Options.unbiased(1, tooMany, 1), line -> {}));
        assertTrue(e.getMessage().contains("max tokens"), e.getMessage());
    }
}
