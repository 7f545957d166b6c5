package io.dijiang4j.tools.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Stories260K;
import io.dijiang4j.plugin.profile.Backend;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.plugin.profile.ProfileLoader;
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

    /** One comparison added to several accumulators gives each what a comparison per accumulator gives it. */
    @Test
    void comparisonSharedByAccumulatorsEqualsOnePerAccumulator() {
        SplittableRandom random = new SplittableRandom(14);
        Evaluator.Accumulator sharedA = new Evaluator.Accumulator(), sharedB = new Evaluator.Accumulator();
        Evaluator.Accumulator aloneA = new Evaluator.Accumulator(), aloneB = new Evaluator.Accumulator();
        for (int position = 0; position < 37; position++) {
            int vocabulary = 50 + position;
            float[] reference = new float[vocabulary], mode = new float[vocabulary];
            for (int i = 0; i < vocabulary; i++) {
                reference[i] = (float) (random.nextDouble(-6, 6));
                mode[i] = reference[i] + (float) random.nextDouble(-1, 1);
            }
            int next = random.nextInt(vocabulary);
            boolean inB = position % 3 != 0;
            Evaluator.compare(reference, mode, next, Arrays.asList(sharedA, inB ? sharedB : null));
            Evaluator.compare(reference, mode, next, aloneA, null, null);
            if (inB) Evaluator.compare(reference, mode, next, aloneB, null, null);
        }
        assertEquals(37, sharedA.metrics().tokens());
        assertEquals(24, sharedB.metrics().tokens());
        assertEquals(aloneA.metrics(), sharedA.metrics());
        assertEquals(aloneB.metrics(), sharedB.metrics());
        assertTrue(sharedA.metrics().klMean() > 0);
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

        // the long-range slice: the plan's sinks and span, exactly the positions the selector picks
        assertEquals(new LongRangeSlice(2, 10), r.slice());
        assertEquals(
                longRangePositions(new LongRangeSlice(2, 10)), r.longRange().tokens());
        assertTrue(r.longRange().tokens() > 0);
        assertTrue(r.longRange().klMean() > 0);
    }

    /** Positions of the sampled texts (BOS + tokens) in {@code slice}. */
    static long longRangePositions(LongRangeSlice slice) {
        return longRangePositions(texts, slice);
    }

    static long longRangePositions(List<String> texts, LongRangeSlice slice) {
        long n = 0;
        for (String text : texts) {
            for (boolean in : slice.select(vanilla.encode(text, true))) if (in) n++;
        }
        return n;
    }

    /** Three texts of 400 tokens (seed 22) for the ablations: enough long-range positions beyond 72. */
    static synchronized List<String> longTexts() {
        if (longTexts == null) {
            longTexts = new TextSampler(vanilla)
                    .sample(TextSampler.Options.unbiased(3, 400, 22), line -> {}).stream()
                            .map(TextSampler.SampledText::text)
                            .toList();
        }
        return longTexts;
    }

    static List<String> longTexts;

    static Profile configsHybrid() {
        Path yaml = Stories260K.dir().getParent().getParent().resolve("configs/hybrid.yaml");
        return ProfileLoader.load(yaml).withBackend(Backend.CPU);
    }

    @Test
    void ablationOfTheCalibratedPlanHasOneRowPerVariantOnTheSamePositions() {
        Profile hybrid = configsHybrid();
        EvalResult r = new Evaluator(vanilla, hybrid, Evaluator.AUTO_BEYOND, Evaluator.ablation(hybrid))
                .evaluateTexts(longTexts(), line -> {});
        System.out.println(r.table());
        // the shipped plan: 4 sinks everywhere, the widest layer 4 + 64 + 4
        assertEquals(72, r.beyondFrom());
        assertEquals(new LongRangeSlice(4, 72), r.slice());
        assertEquals(
                List.of("window", "window+cache", "full"),
                r.ablation().stream().map(EvalResult.VariantResult::name).toList());
        EvalResult.VariantResult window = r.ablation().get(0),
                cache = r.ablation().get(1),
                full = r.ablation().get(2);
        for (EvalResult.VariantResult v : r.ablation()) {
            assertEquals(null, v.sameAs(), v.name() + ": the plan has caches and memories, every variant differs");
            assertEquals(r.all().tokens(), v.all().tokens());
            assertEquals(r.beyondWindow().tokens(), v.beyondWindow().tokens());
            assertEquals(r.longRange().tokens(), v.longRange().tokens());
        }
        assertEquals(longRangePositions(longTexts(), r.slice()), r.longRange().tokens());
        assertTrue(
                r.longRange().tokens() > 100,
                "long-range positions " + r.longRange().tokens());
        // the primary variant is the top-level result
        assertEquals(r.all(), full.all());
        assertEquals(r.beyondWindow(), full.beyondWindow());
        assertEquals(r.longRange(), full.longRange());
        // each part changes the result; the memory (online in every layer of the plan) lowers the KL most (README
        // "Evaluation")
        assertTrue(window.all().klMean() > 0);
        assertTrue(cache.all().klMean() != window.all().klMean(), "the exact cache changes the plan");
        assertTrue(
                full.beyondWindow().klMean() < window.beyondWindow().klMean(),
                "memory " + full.beyondWindow().klMean() + " vs window "
                        + window.beyondWindow().klMean());
        assertTrue(
                full.longRange().klMean() < window.longRange().klMean(),
                "long range: memory " + full.longRange().klMean() + " vs window "
                        + window.longRange().klMean());
    }

    @Test
    void aHybridWhoseMemoryFadesAwayShowsThatItReliesOnItsWindow() throws Exception {
        // decay 1e-6 per position since eviction (lambda^(n-w-j)): only the token evicted at this very step weighs
        // more than 1e-6 in the memory, which thus recalls nothing from far back
        Path yaml = java.nio.file.Files.writeString(
                temp.resolve("fading.yaml"),
                "model: " + Stories260K.dir() + "\nmode: hybrid\nsinks: 4\nwindow: 36\nfeature_map: performer\n"
                        + "decay: 0.000001\nbackend: cpu\ncalibration: none\n");
        Profile fading = ProfileLoader.load(yaml);
        EvalResult r = new Evaluator(vanilla, fading, Evaluator.AUTO_BEYOND, Evaluator.ablation(fading))
                .evaluateTexts(longTexts(), line -> {});
        System.out.println(r.table());
        EvalResult.VariantResult window = r.ablation().get(0),
                cache = r.ablation().get(1),
                full = r.ablation().get(2);
        assertEquals("window", cache.sameAs(), "no exact cache in this plan: the same layers as the window");
        assertEquals(window.all(), cache.all());
        assertEquals(new LongRangeSlice(4, 40), r.slice());
        assertTrue(
                r.longRange().tokens() > 100,
                "long-range positions " + r.longRange().tokens());
        // the memory is there (another spec, run again) but recalls nothing: no better than the window alone
        assertTrue(full.all().klMean() != window.all().klMean());
        assertTrue(
                full.longRange().klMean() >= 0.99 * window.longRange().klMean(),
                "long range: fading memory " + full.longRange().klMean() + " vs window "
                        + window.longRange().klMean());
        assertTrue(full.longRange().top1Agreement() <= window.longRange().top1Agreement() + 0.01);
    }

    @Test
    void aHybridWithoutMemoryIsItsOwnWindowRow() {
        // feature_map none: the plain window; its full plan is the window variant, and the ablation says so
        Profile none = Stories260K.profile(Mode.HYBRID)
                .withHybrid(4, 36)
                .withFeatures(io.dijiang4j.plugin.profile.FeatureMapKind.NONE, 64);
        EvalResult r = new Evaluator(vanilla, none, Evaluator.AUTO_BEYOND, Evaluator.ablation(none))
                .evaluateTexts(texts, line -> {});
        // the full plan runs first; the window-only variants are its very layers, so they are not run again
        assertEquals("full", r.ablation().get(0).sameAs());
        assertEquals("full", r.ablation().get(1).sameAs());
        assertEquals(r.ablation().get(0).longRange(), r.longRange());
        assertEquals(r.ablation().get(0).all(), r.all());
        assertTrue(r.longRange().tokens() > 0);
    }

    @Test
    void theAblationIsForHybridPlansOnly() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> Evaluator.ablation(Stories260K.profile(Mode.DIJIANG)));
        assertTrue(e.getMessage().contains("mode dijiang"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Evaluator.ablation(Stories260K.profile(Mode.SOFTMAX)));
    }

    @Test
    void theLongRangeSpanCanBeSet() {
        Profile hybrid = Stories260K.profile(Mode.HYBRID).withHybrid(2, 8);
        EvalResult r = new Evaluator(vanilla, hybrid, 10).longRangeSpan(30).evaluateTexts(texts, line -> {});
        assertEquals(new LongRangeSlice(2, 30), r.slice());
        assertEquals(
                longRangePositions(new LongRangeSlice(2, 30)), r.longRange().tokens());
        assertThrows(IllegalArgumentException.class, () -> new Evaluator(vanilla, hybrid, 10).longRangeSpan(-1));
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

    /**
     * Reference logits computed beforehand (the calibration's recording pass) give exactly the metrics of the
     * evaluator's own reference pass when they are that pass's logits, and a reference that is not the original model
     * shows as KL; sequences longer than one window, or logits of another length, are refused.
     */
    @Test
    void givenReferenceLogitsReplaceTheReferencePass() {
        Profile hybrid = Stories260K.profile(Mode.HYBRID).withHybrid(2, 8);
        Evaluator evaluator = new Evaluator(vanilla, hybrid, 10);
        List<int[]> sequences = texts.stream().map(t -> vanilla.encode(t, true)).toList();
        List<float[][]> own = new ArrayList<>();
        for (int[] s : sequences) {
            try (var session = vanilla.newSession()) {
                own.add(session.appendAll(s));
            }
        }
        EvalResult computed = evaluator.evaluateTokens(sequences, line -> {});
        EvalResult given = evaluator.evaluateTokens(sequences, own, line -> {});
        assertEquals(computed.all().tokens(), given.all().tokens());
        assertEquals(computed.all().klMean(), given.all().klMean(), 1e-12);
        assertEquals(computed.beyondWindow().klMean(), given.beyondWindow().klMean(), 1e-12);
        assertEquals(computed.all().perplexityReference(), given.all().perplexityReference(), 1e-9);
        // another reference: the hybrid's own logits make the hybrid's KL 0
        List<float[][]> hybridLogits = new ArrayList<>();
        try (DiJiangModel h = DiJiang.install(vanilla.jlama(), hybrid)) {
            for (int[] s : sequences) {
                try (var session = h.newSession()) {
                    hybridLogits.add(session.appendAll(s));
                }
            }
        }
        EvalResult self = evaluator.evaluateTokens(sequences, hybridLogits, line -> {});
        assertTrue(
                self.all().klMean() < 1e-9,
                "kl against its own logits " + self.all().klMean());
        assertTrue(
                computed.all().klMean() > 1e-3,
                "kl against vanilla " + computed.all().klMean());
        List<float[][]> cut = List.<float[][]>of(Arrays.copyOf(own.get(0), own.get(0).length - 1));
        assertThrows(
                IllegalArgumentException.class,
                () -> evaluator.evaluateTokens(sequences.subList(0, 1), cut, line -> {}));
        int[] tooLong = new int[evaluator.windowLength() + 5];
        Arrays.fill(tooLong, 5);
        assertThrows(
                IllegalArgumentException.class,
                () -> evaluator.evaluateTokens(
                        List.of(tooLong),
                        List.<float[][]>of(new float[tooLong.length][vanilla.vocabularySize()]),
                        line -> {}));
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
        Set<String> expected = new HashSet<>(
                List.of("mode", "profile", "texts", "beyond_from", "long_range_sinks", "long_range_span"));
        for (String k : EvalResult.METRIC_KEYS) {
            expected.add(k);
            expected.add(k + "_beyond_window");
            expected.add(k + "_long_range");
        }
        assertEquals(expected, keys);
        assertEquals(2, json.get("long_range_sinks").asInt());
        assertEquals(10, json.get("long_range_span").asInt());
        assertEquals(r.longRange().tokens(), json.get("tokens_long_range").asLong());
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
    void ablationJsonHasOneObjectPerVariant() {
        Profile hybrid =
                Stories260K.profile(Mode.HYBRID).withHybrid(2, 8).withExactCache(4, ExactCachePolicy.HEAVY_HITTER);
        EvalResult r = new Evaluator(vanilla, hybrid, 10, Evaluator.ablation(hybrid)).evaluateTexts(texts, line -> {});
        JsonNode rows = r.toJson().get("ablation");
        assertEquals(3, rows.size());
        Set<String> expected = new HashSet<>(List.of("variant", "description"));
        for (String k : EvalResult.METRIC_KEYS) {
            expected.add(k);
            expected.add(k + "_beyond_window");
            expected.add(k + "_long_range");
        }
        for (int i = 0; i < 3; i++) {
            Set<String> keys = new HashSet<>();
            rows.get(i).fieldNames().forEachRemaining(keys::add);
            assertEquals(expected, keys);
            assertEquals(
                    r.ablation().get(i).longRange().klMean(),
                    rows.get(i).get("kl_mean_long_range").asDouble());
        }
        assertEquals("window", rows.get(0).get("variant").asText());
        assertEquals("full", rows.get(2).get("variant").asText());
        // without --ablate there is no ablation key (the other JSON test)
        assertTrue(r.table().contains("window+cache"), r.table());
    }

    @Test
    void aReferenceWithKernelizedLayersIsRefused() {
        try (DiJiangModel hybrid = DiJiang.load(Stories260K.profile(Mode.HYBRID))) {
            assertThrows(IllegalArgumentException.class, () -> new Evaluator(hybrid, Stories260K.profile(Mode.HYBRID)));
        }
    }
}
