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

    /**
     * On a model whose every layer is kernelized the texts decode together (one batched pass per position); each is
     * the text the one-at-a-time decode of the same model gives, and, with a window longer than the texts (softmax
     * computed by the kernels), the text Jlama's own attention samples.
     */
    @Test
    void textsDecodedTogetherAreTheTextsDecodedOneByOne() {
        TextSampler.Options options = TextSampler.Options.unbiased(5, 90, 13);
        List<TextSampler.SampledText> jlama = new TextSampler(vanilla).sample(options, line -> {});
        try (DiJiangModel exact = DiJiang.install(
                vanilla.jlama(), Stories260K.profile(Mode.HYBRID).withHybrid(0, 91))) {
            assertTrue(exact.batchesSessions());
            TextSampler sampler = new TextSampler(exact);
            List<String> progress = new java.util.ArrayList<>();
            List<TextSampler.SampledText> together = sampler.sample(options, progress::add);
            List<TextSampler.SampledText> oneByOne = sampler.sampleOneByOne(options, line -> {});
            assertEquals(5, progress.size(), "one line per finished text");
            assertTrue(progress.get(4).contains("decoded together"), progress.get(4));
            int ended = 0;
            for (int i = 0; i < 5; i++) {
                assertArrayEquals(oneByOne.get(i).tokens(), together.get(i).tokens(), "text " + i);
                assertEquals(oneByOne.get(i).text(), together.get(i).text());
                assertEquals(oneByOne.get(i).endToken(), together.get(i).endToken());
                assertArrayEquals(jlama.get(i).tokens(), together.get(i).tokens(), "text " + i + " vs Jlama");
                if (together.get(i).endToken()) ended++;
                else assertEquals(90, together.get(i).tokens().length);
            }
            System.out.println("decoded together: 5 texts, " + ended + " ended at the end token");
            assertEquals(0, exact.openSessions(), "every session closed");
        }
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
