package io.dijiang4j.tools.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Stories260K;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.Profile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The evaluator on stories260K, over texts the model samples itself. */
class EvaluatorTest {
    static DiJiangModel vanilla;
    static List<String> texts;
    /** Predicted positions of each text: BOS + its tokens, minus one. */
    static int[] predicted;

    @TempDir
    Path temp;

    @BeforeAll
    static void load() {
        vanilla = DiJiang.load(Stories260K.profile(Mode.SOFTMAX));
        texts = new TextSampler(vanilla)
                .sample(TextSampler.Options.unbiased(3, 150, 21), line -> {}).stream()
                        .map(TextSampler.SampledText::text)
                        .toList();
        predicted =
                texts.stream().mapToInt(t -> vanilla.encode(t, true).length - 1).toArray();
    }

    @AfterAll
    static void close() {
        if (vanilla != null) vanilla.close();
    }

    static EvalResult evaluate(Profile profile, int beyondFrom) {
        return new Evaluator(vanilla, profile, beyondFrom).evaluateTexts(texts, line -> {});
    }

    @Test
    void softmaxModeHasTheReferencePerplexityNoKlAndFullAgreement() {
        Profile softmax = Stories260K.profile(Mode.SOFTMAX);
        EvalResult r = evaluate(softmax, Evaluator.defaultBeyondFrom(softmax));
        System.out.println(r.table());
        assertEquals(Arrays.stream(predicted).sum(), r.all().tokens());
        // the same attention run twice: equal up to the float noise of Jlama's kernels (compiled vs interpreted
        // Vector API code can round differently early in a JVM's life)
        assertEquals(1.0, r.all().perplexity() / r.all().perplexityReference(), 1e-6);
        assertTrue(r.all().klMean() < 1e-9, "kl_mean " + r.all().klMean());
        assertTrue(r.all().top1Agreement() > 0.99, "top-1 " + r.all().top1Agreement());
        assertTrue(
                r.all().perplexity() > 1.5 && r.all().perplexity() < 50,
                "perplexity " + r.all().perplexity());
        JsonNode json = r.toJson();
        assertEquals(r.all().perplexity(), json.get("perplexity").asDouble(), 0.0);
        assertEquals(
                r.all().perplexityReference(), json.get("perplexity_reference").asDouble(), 0.0);
    }

    @Test
    void severalCandidatesOnOneReferencePassEqualSeparateEvaluations() {
        Profile narrow = Stories260K.profile(Mode.HYBRID).withHybrid(4, 16);
        Profile wide = Stories260K.profile(Mode.HYBRID).withHybrid(4, 48);
        List<int[]> sequences = texts.stream().map(t -> vanilla.encode(t, true)).toList();
        List<EvalResult> both = Evaluator.evaluateAll(
                List.of(new Evaluator(vanilla, narrow), new Evaluator(vanilla, wide)), sequences, line -> {});
        EvalResult alone = new Evaluator(vanilla, wide).evaluateTokens(sequences, line -> {});
        assertEquals(2, both.size());
        assertEquals(20, both.get(0).beyondFrom());
        assertEquals(52, both.get(1).beyondFrom());
        assertEquals(alone.all().tokens(), both.get(1).all().tokens());
        assertEquals(alone.all().klMean(), both.get(1).all().klMean(), 1e-6);
        assertEquals(
                alone.beyondWindow().perplexity(), both.get(1).beyondWindow().perplexity(), 1e-6);
        assertTrue(both.get(0).all().klMean() > both.get(1).all().klMean(), "a narrower window is further off");
    }

    @Test
    void hybridWithAWindowLongerThanTheTextsEqualsSoftmax() {
        EvalResult r = evaluate(Stories260K.profile(Mode.HYBRID).withHybrid(4, 4096), 4100);
        System.out.println(r.table());
        assertTrue(r.all().klMean() < 1e-6, "kl_mean " + r.all().klMean());
        assertTrue(r.all().klP95() < 1e-6, "kl_p95 " + r.all().klP95());
        assertTrue(r.all().top1Agreement() > 0.99, "top-1 " + r.all().top1Agreement());
        assertEquals(1.0, r.all().perplexityRatio(), 1e-4);
        assertEquals(0, r.beyondWindow().tokens());
        assertTrue(Double.isNaN(r.beyondWindow().klMean()));
        assertTrue(r.toJson().get("kl_mean_beyond_window").isNull());
    }

    @Test
    void hybridWithASmallWindowDivergesOnlyBeyondIt() {
        Profile hybrid = Stories260K.profile(Mode.HYBRID).withHybrid(2, 8);
        int beyondFrom = Evaluator.defaultBeyondFrom(hybrid);
        assertEquals(10, beyondFrom);
        EvalResult r = evaluate(hybrid, beyondFrom);
        System.out.println(r.table());
        long expectedBeyond = Arrays.stream(predicted)
                .mapToLong(n -> Math.max(0, n - beyondFrom))
                .sum();
        assertEquals(Arrays.stream(predicted).sum(), r.all().tokens());
        assertEquals(expectedBeyond, r.beyondWindow().tokens());
        assertTrue(
                r.beyondWindow().klMean() > 1e-3,
                "kl beyond " + r.beyondWindow().klMean());
        // inside sinks + window the hybrid is exact: all of the KL lies beyond it
        double klSumAll = r.all().klMean() * r.all().tokens();
        double klSumBeyond = r.beyondWindow().klMean() * r.beyondWindow().tokens();
        assertEquals(klSumAll, klSumBeyond, 1e-6 * r.all().tokens());
        assertTrue(r.beyondWindow().perplexity() > r.beyondWindow().perplexityReference());

        // beyond-from is a parameter: from 0 the beyond-window metrics are the overall ones
        EvalResult fromZero = evaluate(hybrid, 0);
        assertEquals(r.all().tokens(), fromZero.all().tokens());
        assertEquals(r.all().klMean(), fromZero.all().klMean(), 1e-6 * r.all().klMean());
        assertEquals(fromZero.all(), fromZero.beyondWindow());
        assertEquals(0, fromZero.beyondFrom());
    }

    @Test
    void longSequencesAreEvaluatedInWindowsOfTheSoftmaxLimit() {
        Evaluator evaluator = new Evaluator(vanilla, Stories260K.profile(Mode.SOFTMAX), 0);
        int length = evaluator.windowLength();
        assertEquals(vanilla.maxPositions(), length);
        assertTrue(length < vanilla.contextLength(), "Jlama's RoPE table ends before the context");
        SplittableRandom random = new SplittableRandom(5);
        int[] tokens = new int[2 * length + 90];
        for (int i = 0; i < tokens.length; i++) tokens[i] = 3 + random.nextInt(vanilla.vocabularySize() - 3);
        EvalResult whole = evaluator.evaluateTokens(List.of(tokens), line -> {});
        assertEquals(tokens.length - 1, whole.all().tokens());
        // the same as evaluating the three windows separately, consecutive ones sharing a token
        List<int[]> pieces = List.of(
                Arrays.copyOfRange(tokens, 0, length),
                Arrays.copyOfRange(tokens, length - 1, 2 * length - 1),
                Arrays.copyOfRange(tokens, 2 * length - 2, tokens.length));
        EvalResult separately = evaluator.evaluateTokens(pieces, line -> {});
        assertEquals(separately.all().tokens(), whole.all().tokens());
        assertEquals(separately.all().perplexityReference(), whole.all().perplexityReference(), 1e-12);
    }

    @Test
    void windowsCoverEveryPredictedTokenOnce() {
        int[] tokens = new int[23];
        for (int i = 0; i < tokens.length; i++) tokens[i] = 100 + i;
        List<int[]> windows = Evaluator.windows(List.of(tokens, new int[] {1}, new int[] {1, 2}), 8);
        List<Integer> targets = new ArrayList<>();
        for (int[] w : windows) {
            assertTrue(w.length >= 2 && w.length <= 8, Arrays.toString(w));
            for (int t = 1; t < w.length; t++) targets.add(w[t]);
        }
        List<Integer> expected = new ArrayList<>();
        for (int i = 1; i < tokens.length; i++) expected.add(tokens[i]);
        expected.add(2);
        assertEquals(expected, targets);
        assertEquals(5, windows.size()); // 8 + 8 + 8 + 2 (sharing one token each), then [1, 2]
        assertThrows(IllegalArgumentException.class, () -> Evaluator.windows(List.of(tokens), 1));
    }

    @Test
    void klAndLogSoftmaxMatchTheDefinitionOnExtremeLogits() {
        SplittableRandom random = new SplittableRandom(9);
        for (int n : new int[] {2, 7, 512}) {
            float[] a = new float[n];
            float[] b = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = (float) (random.nextDouble(-60, 60));
                b[i] = (float) (a[i] + random.nextGaussian());
            }
            a[0] = 900f; // exp would overflow without the shift
            double[] logP = Evaluator.logSoftmax(a);
            double[] logQ = Evaluator.logSoftmax(b);
            double sumP = 0;
            for (double l : logP) sumP += Math.exp(l);
            assertEquals(1.0, sumP, 1e-12);
            // the definition with BigDecimal-free care: p_i / q_i from shifted exponentials in double
            double maxA = Double.NEGATIVE_INFINITY, maxB = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                maxA = Math.max(maxA, a[i]);
                maxB = Math.max(maxB, b[i]);
            }
            double za = 0, zb = 0;
            for (int i = 0; i < n; i++) {
                za += Math.exp(a[i] - maxA);
                zb += Math.exp(b[i] - maxB);
            }
            double kl = 0;
            for (int i = 0; i < n; i++) {
                double p = Math.exp(a[i] - maxA) / za;
                double q = Math.exp(b[i] - maxB) / zb;
                if (p > 0) kl += p * Math.log(p / q);
            }
            assertEquals(kl, Evaluator.klDivergence(logP, logQ), 1e-9 * Math.max(1, kl));
            assertEquals(0.0, Evaluator.klDivergence(logP, logP), 0.0);
        }
    }

    @Test
    void p95IsTheNearestRank() {
        double[] values = new double[100];
        for (int i = 0; i < 100; i++) values[99 - i] = i + 1; // 100 .. 1, unsorted
        assertEquals(95.0, Evaluator.percentile95(values, 100));
        assertEquals(
                19.0,
                Evaluator.percentile95(
                        new double[] {20, 3, 19, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}, 20));
        assertEquals(7.0, Evaluator.percentile95(new double[] {7}, 1));
        assertTrue(Double.isNaN(Evaluator.percentile95(new double[0], 0)));
    }

    @Test
    void jsonHasExactlyTheDocumentedKeysAndIsWrittenAtomically() throws Exception {
        EvalResult r = evaluate(Stories260K.profile(Mode.HYBRID).withHybrid(2, 8), 10);
        Path file = temp.resolve("out/eval.json");
        r.writeJson(file);
        JsonNode json = new ObjectMapper().readTree(file.toFile());
        Set<String> keys = new HashSet<>();
        json.fieldNames().forEachRemaining(keys::add);
        Set<String> expected = new HashSet<>(List.of("mode", "profile", "texts", "beyond_from"));
        for (String k : EvalResult.METRIC_KEYS) {
            expected.add(k);
            expected.add(k + "_beyond_window");
        }
        assertEquals(expected, keys);
        assertEquals("hybrid", json.get("mode").asText());
        assertEquals(3, json.get("texts").asInt());
        assertEquals(10, json.get("beyond_from").asInt());
        assertEquals(r.all().klMean(), json.get("kl_mean").asDouble(), 0.0);
        assertEquals(r.beyondWindow().tokens(), json.get("tokens_beyond_window").asLong());
        try (var left = java.nio.file.Files.list(file.getParent())) {
            assertEquals(1, left.count(), "no temporary file left beside the output");
        }
    }

    @Test
    void aReferenceWithKernelizedLayersIsRefused() {
        try (DiJiangModel hybrid = DiJiang.load(Stories260K.profile(Mode.HYBRID))) {
            assertThrows(IllegalArgumentException.class, () -> new Evaluator(hybrid, Stories260K.profile(Mode.HYBRID)));
        }
    }
}
