package io.dijiang4j.tools.calibration;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.CentroidFeatureMap;
import io.dijiang4j.attention.features.FeatureMaps;
import io.dijiang4j.attention.features.ProjectionFeatureMap;
import io.dijiang4j.attention.fit.FitSettings;
import io.dijiang4j.attention.fit.GainSearch;
import io.dijiang4j.attention.fit.KvHeadSequence;
import io.dijiang4j.attention.fit.MemoryFit;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Installation;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.calibration.Calibration;
import io.dijiang4j.plugin.calibration.CalibrationFile;
import io.dijiang4j.plugin.calibration.ModelFingerprint;
import io.dijiang4j.plugin.calibration.Sidecars;
import io.dijiang4j.plugin.io.AtomicFiles;
import io.dijiang4j.plugin.profile.CalibrationChoice;
import io.dijiang4j.plugin.profile.FeatureMapKind;
import io.dijiang4j.plugin.profile.LayerSelection;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.tools.eval.EvalResult;
import io.dijiang4j.tools.eval.Evaluator;
import io.dijiang4j.tools.eval.TextSampler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/**
 * {@code dijiang calibrate}: fits the hybrid layer of every layer of a model to the model itself, training-free
 * (docs/MATH.md §5), and spends a fixed exact budget where it lowers the error most.
 *
 * <ol>
 *   <li>Calibration text: given, or sampled from the model itself (seeded, {@link TextSampler}; all texts decoded
 *       together on the original attention computed by the kernels).
 *   <li>One recording pass ({@link AttentionRecorder}): post-RoPE q/k/v and the softmax attention output of every
 *       layer, streamed to one scratch file per layer; the layers are then processed one at a time. It keeps the
 *       logits of the first texts: the reference of the sensitivity and of the closing evaluation.
 *   <li>Per layer and KV head (KV heads in parallel): the memory map (k-means centroids of the keys, {@link
 *       MemoryFit#fitCentroids}, or a seeded map), its NNLS feature weights for every candidate window in one pass
 *       ({@link MemoryFit#fitWeights(FeatureMap, List, FitSettings, int[])}) and a gain per query head by 1-D
 *       search on the attention-output error ({@link GainSearch}, reading the recorded output; 0 switches a
 *       head's memory off).
 *   <li>Per layer and setting (window, exact cache) three memories: off, the fitted map, and the online centroid
 *       memory (the calibration-free memory, which fits itself at run time): each KV head's output error through
 *       o_proj on the recording ({@link OutputErrorScore}, the first {@link Options#scoreTexts()} texts; the model
 *       never runs per candidate), every (setting, memory, KV head) run an independent task on one pool sized to
 *       the cores. A memory stays on only in the KV heads where it lowered the error (the score is a sum over KV
 *       heads), so a plan is never scored worse than the same split with the online memory, the calibration-free
 *       hybrid. A setting with a larger cache runs, per KV head, only the memory that won at the window's smallest
 *       cache. The layer's scale: its sensitivity (the layer-alone model KL of one reference candidate over its
 *       output error, one model pass per layer on {@link Options#sensitivityTexts()} texts). {@link
 *       Score#MODEL_KL} keeps the former score, the model-level KL with that layer alone converted (one pass per
 *       candidate), for validation.
 *   <li>{@link BudgetPlanner}: one candidate per layer minimizing the summed loss with the average exact tokens
 *       per head (sinks + window + cache) at most the budget.
 *   <li>The chosen plan and, for comparison, the plain window of the same budget (sinks + window, no memory, no
 *       cache) evaluated with every layer converted on the first {@link #EVAL_TEXTS} calibration texts, against
 *       the logits the recording pass kept (the original model never runs again); both go into the sidecar's
 *       results.
 * </ol>
 *
 * Deterministic for a seed: sampling, k-means and the NNLS pair subsampling are seeded, and every step runs in a
 * fixed order.
 */
public final class Calibrator {
    /**
     * Texts of the closing evaluation of the plan and the plain window, at least (the sensitivity's texts when more):
     * a report in the sidecar, not part of the search; two model passes per text.
     */
    static final int EVAL_TEXTS = 2;

    /**
     * What to do.
     *
     * @param texts number of texts to sample when none are given
     * @param tokensPerText tokens per sampled text (BOS not counted)
     * @param seed seed of sampling, k-means and pair subsampling
     * @param budget average exact tokens per head and layer (sinks + window + cache)
     * @param windows candidate windows
     * @param caches candidate exact-cache sizes (0 = none)
     * @param maxPairs pairs per NNLS fit ({@link FitSettings#maxPairs()})
     * @param featureMap the memory map fitted (centroids) or weighted (a seeded map) per KV head
     * @param features its number of features m
     * @param sinks first tokens kept exact in every layer
     * @param cachePolicy which evicted tokens the candidate exact caches keep
     */
    public record Options(
            int texts,
            int tokensPerText,
            long seed,
            double budget,
            List<Integer> windows,
            List<Integer> caches,
            int maxPairs,
            FeatureMapKind featureMap,
            int features,
            int sinks,
            ExactCachePolicy cachePolicy,
            Score score,
            int sensitivityTexts,
            int scoreTexts) {
        public Options {
            if (texts < 1) throw new IllegalArgumentException("--texts must be >= 1, got " + texts);
            if (tokensPerText < 2) throw new IllegalArgumentException("--tokens must be >= 2, got " + tokensPerText);
            if (!(budget >= 1) || Double.isInfinite(budget)) {
                throw new IllegalArgumentException("--budget must be >= 1 exact token, got " + budget);
            }
            windows = List.copyOf(windows);
            caches = List.copyOf(caches);
            if (windows.isEmpty() || caches.isEmpty()) {
                throw new IllegalArgumentException("give at least one candidate window and one cache size");
            }
            for (int w : windows) if (w < 1) throw new IllegalArgumentException("windows must be >= 1, got " + w);
            for (int c : caches) if (c < 0) throw new IllegalArgumentException("caches must be >= 0, got " + c);
            if (maxPairs < 1) throw new IllegalArgumentException("maxPairs must be >= 1");
            Objects.requireNonNull(featureMap, "featureMap");
            if (featureMap == FeatureMapKind.ONLINE || featureMap == FeatureMapKind.NONE) {
                throw new IllegalArgumentException("--feature-map " + featureMap + " has nothing to calibrate (online"
                        + " fits itself at run time, none is no memory); calibrate fits centroids or a seeded map");
            }
            Objects.requireNonNull(cachePolicy, "cachePolicy");
            if (features < 1) throw new IllegalArgumentException("--features must be >= 1, got " + features);
            if (sinks < 0) throw new IllegalArgumentException("--sinks must be >= 0, got " + sinks);
            Objects.requireNonNull(score, "score");
            if (sensitivityTexts < 0) throw new IllegalArgumentException("sensitivity texts must be >= 0");
            if (scoreTexts < 0) throw new IllegalArgumentException("--score-texts must be >= 0, got " + scoreTexts);
        }

        /**
         * 16 texts of 500 tokens (on stories260K 16 gave a lower held-out KL than 8), budget 40, windows 8..96,
         * caches 0, 4, 8, 16; the centroid map of 64 features, 4 sinks, heavy-hitter caches; candidates scored by
         * their output error from the recording (the first 4 texts: on stories260K's held-out sets KL 0.0142 / 0.0128
         * beyond 72 against 0.0140 / 0.0123 with 8, at a third less CPU), layers scaled by a sensitivity measured on 2
         * texts (on 1 text the plan's held-out KL rose to 0.0157 / 0.0143: the sensitivity needs the positions).
         */
        public static Options defaults(long seed) {
            return new Options(
                    16,
                    500,
                    seed,
                    40,
                    List.of(8, 16, 24, 32, 40, 48, 64, 96),
                    List.of(0, 4, 8, 16),
                    FitSettings.DEFAULT_MAX_PAIRS,
                    FeatureMapKind.CENTROIDS,
                    64,
                    4,
                    ExactCachePolicy.HEAVY_HITTER,
                    Score.OUTPUT_ERROR,
                    2,
                    4);
        }

        public Options withTexts(int count, int tokens) {
            return new Options(
                    count,
                    tokens,
                    seed,
                    budget,
                    windows,
                    caches,
                    maxPairs,
                    featureMap,
                    features,
                    sinks,
                    cachePolicy,
                    score,
                    sensitivityTexts,
                    scoreTexts);
        }

        public Options withBudget(double newBudget) {
            return new Options(
                    texts,
                    tokensPerText,
                    seed,
                    newBudget,
                    windows,
                    caches,
                    maxPairs,
                    featureMap,
                    features,
                    sinks,
                    cachePolicy,
                    score,
                    sensitivityTexts,
                    scoreTexts);
        }

        public Options withCandidates(List<Integer> newWindows, List<Integer> newCaches) {
            return new Options(
                    texts,
                    tokensPerText,
                    seed,
                    budget,
                    newWindows,
                    newCaches,
                    maxPairs,
                    featureMap,
                    features,
                    sinks,
                    cachePolicy,
                    score,
                    sensitivityTexts,
                    scoreTexts);
        }

        /** The memory map to fit and the exact tokens every layer keeps besides the searched window and cache. */
        public Options withMemory(
                FeatureMapKind newFeatureMap, int newFeatures, int newSinks, ExactCachePolicy policy) {
            return new Options(
                    texts,
                    tokensPerText,
                    seed,
                    budget,
                    windows,
                    caches,
                    maxPairs,
                    newFeatureMap,
                    newFeatures,
                    newSinks,
                    policy,
                    score,
                    sensitivityTexts,
                    scoreTexts);
        }

        public Options withScore(Score newScore) {
            return new Options(
                    texts,
                    tokensPerText,
                    seed,
                    budget,
                    windows,
                    caches,
                    maxPairs,
                    featureMap,
                    features,
                    sinks,
                    cachePolicy,
                    newScore,
                    sensitivityTexts,
                    scoreTexts);
        }

        /** Texts of the per-layer sensitivity measurement (0: none, every layer's scale 1). */
        public Options withSensitivityTexts(int count) {
            return new Options(
                    texts,
                    tokensPerText,
                    seed,
                    budget,
                    windows,
                    caches,
                    maxPairs,
                    featureMap,
                    features,
                    sinks,
                    cachePolicy,
                    score,
                    count,
                    scoreTexts);
        }

        /**
         * Texts the candidates are scored on (the first ones; 0 = all). The fit reads every text; the score only ranks
         * candidates, and its cost (one kernel run per candidate and KV head) grows with the positions it reads.
         */
        public Options withScoreTexts(int count) {
            return new Options(
                    texts,
                    tokensPerText,
                    seed,
                    budget,
                    windows,
                    caches,
                    maxPairs,
                    featureMap,
                    features,
                    sinks,
                    cachePolicy,
                    score,
                    sensitivityTexts,
                    count);
        }
    }

    /** How candidates are scored (the loss the budget plan adds over layers). */
    public enum Score {
        /**
         * From the one recording pass: the attention-output error through the output projection ({@link
         * OutputErrorScore}), each layer scaled by its sensitivity; the model never runs per candidate.
         */
        OUTPUT_ERROR,
        /**
         * The reference: the model-level next-token KL against vanilla with the layer alone converted, one
         * teacher-forced pass over the calibration texts per candidate (slow: for validation and comparison).
         */
        MODEL_KL,
        /** Plans by {@link #OUTPUT_ERROR} and also measures {@link #MODEL_KL} of every candidate (validation). */
        BOTH;

        boolean outputError() {
            return this != MODEL_KL;
        }

        boolean modelKl() {
            return this != OUTPUT_ERROR;
        }
    }

    /** A candidate layer's kernelized memory. */
    public enum Memory {
        /** No memory: the evicted tokens are dropped (sinks + window + cache only). */
        OFF("off"),
        /** The map fitted from the recording (centroids or a weighted seeded map), gains per query head. */
        FITTED("fitted"),
        /** The online centroid memory, fitted at run time to each sequence (the calibration-free memory). */
        ONLINE("online");

        private final String key;

        Memory(String key) {
            this.key = key;
        }

        public String key() {
            return key;
        }
    }

    /**
     * One evaluated candidate of one layer. With the output-error score a memory candidate keeps its memory on only
     * in the KV heads where that lowered the head's error (the score is a sum over KV heads, so the choice is exact).
     *
     * @param memory which memory (OFF: none; otherwise on in at least one head)
     * @param kl mean next-token KL against vanilla over every calibration position, that layer alone converted (NaN
     *     when the score did not measure it)
     * @param outputError the {@link OutputErrorScore} (NaN when not measured)
     * @param variant the layer as the sidecar would hold it
     */
    public record Candidate(
            int layer,
            int window,
            int exactCache,
            Memory memory,
            double kl,
            double outputError,
            int cost,
            Calibration.Layer variant) {
        /** The same candidate with its model KL measured. */
        Candidate withKl(double newKl) {
            return new Candidate(layer, window, exactCache, memory, newKl, outputError, cost, variant.withKl(newKl));
        }
    }

    /**
     * What a run produced.
     *
     * @param calibration the chosen plan (what the sidecar holds)
     * @param baseline the plain window of the same budget as a calibration (sinks + window, every gain 0, no cache):
     *     the StreamingLLM baseline, loadable as a sidecar to evaluate it like the plan
     * @param candidates every evaluated candidate, in evaluation order
     * @param calibrated the chosen plan with every layer converted, on the calibration texts
     * @param plainWindow the baseline with every layer converted, same texts
     */
    public record Result(
            Calibration calibration,
            Calibration baseline,
            List<Candidate> candidates,
            EvalResult calibrated,
            EvalResult plainWindow) {}

    private Calibrator() {}

    /** Spearman rank correlation of output error and model KL over the candidates of {@code layer} (-1: all). */
    static double spearman(List<Candidate> candidates, int layer) {
        List<Candidate> c =
                candidates.stream().filter(x -> layer < 0 || x.layer() == layer).toList();
        double[] a = new double[c.size()], b = new double[c.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = c.get(i).outputError();
            b[i] = c.get(i).kl();
        }
        return spearman(a, b);
    }

    /** Spearman's rho: Pearson correlation of the ranks (ties get their mean rank); NaN under 2 values. */
    static double spearman(double[] a, double[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("lengths differ");
        if (a.length < 2) return Double.NaN;
        double[] ra = ranks(a), rb = ranks(b);
        double ma = 0, mb = 0;
        for (int i = 0; i < a.length; i++) {
            ma += ra[i];
            mb += rb[i];
        }
        ma /= a.length;
        mb /= a.length;
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.length; i++) {
            sab += (ra[i] - ma) * (rb[i] - mb);
            saa += (ra[i] - ma) * (ra[i] - ma);
            sbb += (rb[i] - mb) * (rb[i] - mb);
        }
        return saa == 0 || sbb == 0 ? Double.NaN : sab / Math.sqrt(saa * sbb);
    }

    private static double[] ranks(double[] x) {
        Integer[] order = new Integer[x.length];
        for (int i = 0; i < x.length; i++) order[i] = i;
        java.util.Arrays.sort(order, (i, j) -> Double.compare(x[i], x[j]));
        double[] r = new double[x.length];
        for (int i = 0; i < x.length; ) {
            int j = i;
            while (j + 1 < x.length && x[order[j + 1]] == x[order[i]]) j++;
            double mean = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) r[order[k]] = mean;
            i = j + 1;
        }
        return r;
    }

    /**
     * A measured value rounded to 6 significant digits: Jlama's Vector API lane reductions round differently before
     * and after the JIT compiles them, so forward passes agree only to about 1e-7 between runs; rounding keeps the
     * reported values and the plan's comparisons the same from run to run in practice.
     */
    static double measured(double value) {
        if (value == 0 || !Double.isFinite(value)) return value;
        return new java.math.BigDecimal(value)
                .round(new java.math.MathContext(6, java.math.RoundingMode.HALF_EVEN))
                .doubleValue();
    }

    /**
     * Runs the calibration for {@code profile} (mode hybrid; its model, block size and feature-map seed are used; the
     * memory map, sinks and cache policy are the options', since the sidecar written holds them).
     *
     * @param texts calibration texts (each fed as BOS + its tokens, cut into pieces of the positions softmax can
     *     hold), or null to sample {@code options.texts()} texts from the model
     * @param source names the given texts in the sidecar (a file name); "sampled" when sampled
     */
    public static Result run(
            Profile profile, List<String> texts, String source, Options options, Consumer<String> progress) {
        if (profile.mode() != Mode.HYBRID) {
            throw profile.source().error("mode", "calibrate fits the hybrid layer: use mode hybrid");
        }
        if (profile.decay() < 1) throw profile.source().error("decay", "calibrate fits a memory without decay: use 1");
        for (String key : Sidecars.HELD_KEYS) {
            if (profile.source().sets(key)) {
                throw profile.source()
                        .error(
                                key,
                                "calibrate chooses it and writes it into the sidecar: remove it from the profile"
                                        + " (calibrate takes the memory map, features, sinks and cache policy as options)");
            }
        }
        if (options.sinks()
                        + options.windows().stream()
                                .mapToInt(Integer::intValue)
                                .min()
                                .orElseThrow()
                > options.budget() * 1.0) {
            throw new IllegalArgumentException("the budget " + options.budget() + " is below sinks (" + options.sinks()
                    + ") + the smallest candidate window");
        }
        Profile vanillaProfile = profile.withMode(Mode.SOFTMAX).withCalibration(CalibrationChoice.NONE);
        Path scratch;
        try {
            scratch = Files.createTempDirectory("dijiang-calibrate-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a scratch directory", e);
        }
        try (DiJiangModel vanilla = DiJiang.load(vanillaProfile, progress)) {
            // after the load, which converts a GGUF model into the model cache the first time
            Path modelDir = Sidecars.modelDirectory(profile)
                    .orElseThrow(
                            () -> profile.source().error("model", "model directory not found: " + profile.model()));
            List<int[]> sequences;
            if (texts == null) {
                sequences = sample(vanilla, profile, options, progress);
                source = "sampled";
            } else {
                sequences = encode(vanilla, texts);
            }
            return new Run(profile, modelDir, vanilla, sequences, source, options, scratch, progress).execute();
        } finally {
            AtomicFiles.deleteTree(scratch);
        }
    }

    /** BOS + tokens of each text, cut into pieces of at most the positions Jlama's softmax can hold. */
    private static List<int[]> encode(DiJiangModel vanilla, List<String> texts) {
        int limit = (int) Math.min(vanilla.maxPositions(), Integer.MAX_VALUE);
        List<int[]> sequences = new ArrayList<>();
        for (String text : texts) {
            int[] tokens = vanilla.encode(text, true);
            for (int start = 0; start < tokens.length; start += limit) {
                int[] piece = java.util.Arrays.copyOfRange(tokens, start, Math.min(tokens.length, start + limit));
                if (piece.length >= 2) sequences.add(piece);
            }
        }
        if (sequences.isEmpty()) throw new IllegalArgumentException("the calibration texts hold no tokens");
        return sequences;
    }

    /**
     * Samples the calibration texts from the original model: its attention computed exactly by the plugin's kernels
     * ({@link AttentionRecorder#exactProfile}), so that all texts decode together, one forward pass per position
     * ({@link TextSampler}); Jlama's own attention decodes one sequence at a time.
     */
    private static List<int[]> sample(
            DiJiangModel vanilla, Profile profile, Options options, Consumer<String> progress) {
        long limit = vanilla.maxPositions();
        if (1L + options.tokensPerText() > limit) {
            throw new IllegalArgumentException("--tokens " + options.tokensPerText() + " + BOS exceed the " + limit
                    + " positions this model can hold with softmax attention");
        }
        progress.accept("sampling " + options.texts() + " calibration texts of " + options.tokensPerText()
                + " tokens (seed " + options.seed() + ")");
        long start = System.nanoTime();
        List<TextSampler.SampledText> texts;
        try (DiJiangModel exact = DiJiang.install(
                vanilla.jlama(), AttentionRecorder.exactProfile(profile, options.tokensPerText() + 1))) {
            texts = new TextSampler(exact)
                    .sample(
                            TextSampler.Options.unbiased(options.texts(), options.tokensPerText(), options.seed()),
                            progress);
        }
        List<int[]> sequences = new ArrayList<>();
        for (TextSampler.SampledText t : texts) sequences.add(vanilla.tokens().withBos(t.tokens()));
        progress.accept(String.format(
                Locale.ROOT, "sampled %d texts in %.1f s", sequences.size(), (System.nanoTime() - start) / 1e9));
        return sequences;
    }

    /** The state of one calibration run. */
    private static final class Run {
        private final Profile profile;
        private final DiJiangModel vanilla;
        private final List<int[]> sequences;
        private final String source;
        private final Options options;
        private final Path scratch;
        private final Consumer<String> progress;
        private final Calibration.ModelInfo model;
        private final Calibration.MapInfo map;
        private final int layers;
        /**
         * The candidate windows: the options' and the calibration-free split's (budget - sinks), so the plan can
         * always take the calibration-free hybrid of the same budget in a layer; ascending.
         */
        private final int[] windows;

        private int sidecars;
        /** Every layer exact (no sinks, a window longer than every text): softmax, computed by the kernels. */
        private Calibration fullWindow;
        /** Model, map and settings of the sidecar; its layers are placeholders until the plan replaces them. */
        private Calibration base;
        /**
         * The original model's logits at every position of the first texts, from the recording pass (every layer
         * exact): what the layer-alone KL and the closing evaluation compare to, so the original model never runs
         * again.
         */
        private List<float[][]> referenceLogits;

        Run(
                Profile profile,
                Path modelDir,
                DiJiangModel vanilla,
                List<int[]> sequences,
                String source,
                Options options,
                Path scratch,
                Consumer<String> progress) {
            this.profile = profile;
            this.vanilla = vanilla;
            this.sequences = List.copyOf(sequences);
            this.source = source;
            this.options = options;
            this.scratch = scratch;
            this.progress = progress;
            var c = vanilla.config();
            this.layers = c.numberOfLayers;
            int calibrationFree = (int) Math.floor(options.budget()) - options.sinks();
            this.windows = java.util.stream.IntStream.concat(
                            options.windows().stream().mapToInt(Integer::intValue),
                            java.util.stream.IntStream.of(calibrationFree))
                    .filter(w -> w >= 1)
                    .distinct()
                    .sorted()
                    .toArray();
            this.model = new Calibration.ModelInfo(
                    modelDir.getFileName().toString(),
                    ModelFingerprint.of(modelDir),
                    c.numberOfLayers,
                    c.numberOfHeads,
                    c.numberOfKeyValueHeads,
                    c.headSize,
                    Installation.softmaxScale(c));
            this.map = new Calibration.MapInfo(
                    options.featureMap(),
                    options.features(),
                    options.featureMap().seeded() ? profile.featureSeed() : options.seed());
        }

        Result execute() {
            long tokens = sequences.stream().mapToLong(s -> s.length).sum();
            Calibration.Settings settings =
                    new Calibration.Settings(source, sequences.size(), tokens, options.seed(), options.budget());
            Path recordingDir = scratch.resolve("recording");
            try {
                Files.createDirectories(recordingDir);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create " + recordingDir, e);
            }
            long recordStart = System.nanoTime();
            int logitTexts = options.score().modelKl()
                    ? sequences.size()
                    : Math.max(evalTexts(), Math.min(options.sensitivityTexts(), sequences.size()));
            AttentionRecorder.Recording recording =
                    AttentionRecorder.record(vanilla, profile, sequences, logitTexts, recordingDir, progress);
            referenceLogits = recording.logits();
            progress.accept(String.format(
                    Locale.ROOT, "recorded %d layers in %.1f s", layers, (System.nanoTime() - recordStart) / 1e9));
            int total = (int) Math.floor(options.budget() * layers + 1e-9);
            base = new Calibration(model, map, settings, placeholderLayers(), Map.of());
            // fits[layer][window index]: the layer with its memory fitted for that window, no cache
            Calibration.Layer[][] fits = new Calibration.Layer[layers][windows.length];
            List<Candidate> candidates = new ArrayList<>();
            // one pool sized to the cores; a layer's work is many independent tasks (KV heads x candidates)
            int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
            ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
                Thread t = new Thread(r, "dijiang-calibrate");
                t.setDaemon(true);
                return t;
            });
            long scoringStart = System.nanoTime();
            try {
                for (int l = 0; l < layers; l++) {
                    long start = System.nanoTime();
                    AttentionRecorder.LayerRows rows = recording.layer(l);
                    List<List<KvHeadSequence>> kvHeads = parallel(pool, model.kvHeads(), rows::kvHead);
                    FeatureMap[] bases = parallel(pool, model.kvHeads(), h -> baseMap(kvHeads.get(h)))
                            .toArray(new FeatureMap[0]);
                    fits[l] = fit(kvHeads, bases, pool);
                    double fitted = (System.nanoTime() - start) / 1e9;
                    List<Candidate> ofLayer = options.score().outputError()
                            ? scoreLayer(l, rows, fits[l], total, pool)
                            : unscored(l, fits[l], total);
                    candidates.addAll(ofLayer);
                    double elapsed = (System.nanoTime() - scoringStart) / 1e9;
                    progress.accept(String.format(
                            Locale.ROOT,
                            "layer %d/%d: fitted the %s memory for %d windows in %.1f s, scored %d candidates (%s)"
                                    + " on %d texts of the recording (at most %d) in %.1f s; about %.0f s left for the"
                                    + " layers",
                            l + 1,
                            layers,
                            map.kind().key(),
                            windows.length,
                            fitted,
                            options.score().outputError() ? ofLayer.size() : 0,
                            "memory off, fitted, online",
                            rows.first(options.scoreTexts()).texts(),
                            options.scoreTexts() > 0 ? options.scoreTexts() : rows.texts(),
                            (System.nanoTime() - start) / 1e9 - fitted,
                            elapsed / (l + 1) * (layers - l - 1)));
                }
            } finally {
                pool.shutdownNow();
            }
            double[] sensitivity = new double[layers];
            java.util.Arrays.fill(sensitivity, 1);
            if (options.score().outputError() && options.sensitivityTexts() > 0) {
                sensitivity = sensitivities(fits, candidates);
            }
            if (options.score().modelKl()) candidates = measureModelKl(fits, candidates);

            List<List<BudgetPlanner.Option>> planOptions = new ArrayList<>();
            List<List<Calibration.Layer>> planLayers = new ArrayList<>();
            Map<String, Double> layerScores = new LinkedHashMap<>();
            for (int l = 0; l < layers; l++) {
                List<BudgetPlanner.Option> optionsOfLayer = new ArrayList<>();
                List<Calibration.Layer> layersOfLayer = new ArrayList<>();
                int layer = l;
                List<Candidate> ofLayer =
                        candidates.stream().filter(c -> c.layer() == layer).toList();
                // the candidates come in (window, cache) settings of one to three (memory off, fitted, online); the
                // best one of each setting is that setting's option
                for (int i = 0; i < ofLayer.size(); ) {
                    Candidate best = null;
                    int window = ofLayer.get(i).window(), cache = ofLayer.get(i).exactCache();
                    for (;
                            i < ofLayer.size()
                                    && ofLayer.get(i).window() == window
                                    && ofLayer.get(i).exactCache() == cache;
                            i++) {
                        Candidate c = ofLayer.get(i);
                        if (best == null || loss(c, sensitivity[l]) < loss(best, sensitivity[l])) best = c;
                    }
                    optionsOfLayer.add(new BudgetPlanner.Option(best.cost(), loss(best, sensitivity[l])));
                    layersOfLayer.add(best.variant());
                }
                planOptions.add(optionsOfLayer);
                planLayers.add(layersOfLayer);
            }
            int[] plan = BudgetPlanner.plan(planOptions, total);
            List<Calibration.Layer> chosen = new ArrayList<>();
            for (int l = 0; l < layers; l++) {
                chosen.add(planLayers.get(l).get(plan[l]));
                if (options.score().outputError()) {
                    layerScores.put(
                            "layer_" + l + "_output_error",
                            planOptions.get(l).get(plan[l]).loss() / sensitivity[l]);
                    layerScores.put("layer_" + l + "_sensitivity", measured(sensitivity[l]));
                }
            }
            Calibration calibration = base.withLayers(chosen);

            int beyond = (int) Math.floor(options.budget());
            int plainWindow = Math.max(1, (int) Math.floor(options.budget()) - options.sinks());
            List<Calibration.Layer> plainLayers = new ArrayList<>();
            for (int l = 0; l < layers; l++) {
                plainLayers.add(fits[l][0]
                        .withBudget(plainWindow, 0, options.cachePolicy())
                        .withoutMemory());
            }
            Calibration baseline = base.withLayers(plainLayers);
            progress.accept("evaluating the chosen plan and the plain window of the same budget (sinks "
                    + options.sinks() + ", window " + plainWindow + ", no memory), every layer converted, on "
                    + evalTexts() + " calibration texts");
            long evaluationStart = System.nanoTime();
            EvalResult[] evaluated = evaluate(baseline, calibration, beyond);
            progress.accept(String.format(
                    Locale.ROOT,
                    "evaluated the plan and the plain window on %d texts (at most %d) in %.1f s",
                    evalTexts(),
                    Math.max(EVAL_TEXTS, options.sensitivityTexts()),
                    (System.nanoTime() - evaluationStart) / 1e9));
            EvalResult plain = evaluated[0], calibrated = evaluated[1];
            Map<String, Double> results = new LinkedHashMap<>();
            putMetrics(results, "calibrated", calibrated);
            putMetrics(results, "plain_window", plain);
            results.put("plain_window_size", (double) plainWindow);
            results.put("average_exact_tokens", calibration.averageExactTokens());
            results.put("beyond_from", (double) beyond);
            results.putAll(layerScores);
            if (options.score() == Score.BOTH) {
                results.put("spearman_output_error_model_kl", measured(spearman(candidates, -1)));
                double[] scaled = new double[candidates.size()], kls = new double[candidates.size()];
                for (int i = 0; i < scaled.length; i++) {
                    scaled[i] = loss(
                            candidates.get(i), sensitivity[candidates.get(i).layer()]);
                    kls[i] = candidates.get(i).kl();
                }
                results.put("spearman_scaled_output_error_model_kl", measured(spearman(scaled, kls)));
                double within = 0;
                for (int l = 0; l < layers; l++) within += spearman(candidates, l);
                results.put("spearman_within_layer_mean", measured(within / layers));
            }
            return new Result(
                    calibration.withResults(results),
                    baseline.withResults(results),
                    List.copyOf(candidates),
                    calibrated,
                    plain);
        }

        /** The plan's loss of a candidate: its scaled output error, or its model KL ({@link Score#MODEL_KL}). */
        private double loss(Candidate c, double sensitivity) {
            return options.score().outputError() ? sensitivity * c.outputError() : c.kl();
        }

        /**
         * Per layer, how much model-level KL one unit of output error costs: the layer-alone KL of one reference
         * candidate (the best-scored one with no cache and the window nearest the plain window of the budget) over
         * its output error, on the first {@link Options#sensitivityTexts()} texts. One model pass per layer, not per
         * candidate: the output error ranks a layer's candidates, this puts the layers on one scale.
         */
        private double[] sensitivities(Calibration.Layer[][] fits, List<Candidate> scored) {
            long start = System.nanoTime();
            int texts = Math.min(options.sensitivityTexts(), sequences.size());
            prepareModelKl(fits, texts);
            double[] out = new double[layers];
            int plain = (int) Math.floor(options.budget()) - options.sinks();
            for (int l = 0; l < layers; l++) {
                Candidate reference = null;
                for (Candidate c : scored) {
                    if (c.layer() != l || c.exactCache() != 0) continue;
                    if (reference == null
                            || Math.abs(c.window() - plain) < Math.abs(reference.window() - plain)
                            || (c.window() == reference.window() && c.outputError() < reference.outputError())) {
                        reference = c;
                    }
                }
                double kl = layerAloneKl(l, reference.variant(), texts);
                double error = reference.outputError();
                out[l] = kl > 0 && error > 0 ? kl / error : 1;
                progress.accept(String.format(
                        Locale.ROOT,
                        "sensitivity of layer %d/%d: %.4g (layer-alone KL %.4g of window %d, memory %s)",
                        l + 1,
                        layers,
                        out[l],
                        kl,
                        reference.window(),
                        reference.memory().key()));
            }
            progress.accept(String.format(
                    Locale.ROOT,
                    "measured the sensitivity of %d layers (one reference candidate each, %d texts, at most %d) in"
                            + " %.1f s: %s",
                    layers,
                    texts,
                    options.sensitivityTexts(),
                    (System.nanoTime() - start) / 1e9,
                    java.util.Arrays.toString(java.util.Arrays.stream(out)
                            .map(Calibrator::measured)
                            .toArray())));
            return out;
        }

        /**
         * The every-layer-exact calibration the layer-alone KL converts one layer of (its reference logits, of the
         * first {@code texts} texts, come from the recording).
         */
        private void prepareModelKl(Calibration.Layer[][] fits, int texts) {
            if (texts > referenceLogits.size()) {
                throw new IllegalStateException(
                        "the recording kept the logits of " + referenceLogits.size() + " texts, " + texts + " needed");
            }
            if (fullWindow != null) return;
            int longest = sequences.stream().mapToInt(sq -> sq.length).max().orElse(1);
            List<Calibration.Layer> exact = new ArrayList<>();
            for (Calibration.Layer[] perWindow : fits) {
                exact.add(new Calibration.Layer(
                        0,
                        longest,
                        0,
                        options.cachePolicy(),
                        new float[model.heads()],
                        perWindow[0].centroids(),
                        perWindow[0].weights(),
                        Double.NaN,
                        Double.NaN,
                        Double.NaN));
            }
            fullWindow = base.withLayers(exact);
        }

        /**
         * Every (window, cache) setting of a layer within the total budget, in order (per window, per cache size):
         * the fitted layer with that exact budget, its memory as fitted.
         */
        private List<Calibration.Layer> settings(Calibration.Layer[] fitsOfLayer, int total) {
            List<Calibration.Layer> out = new ArrayList<>();
            for (Calibration.Layer fitted : fitsOfLayer) {
                for (int cache : options.caches()) {
                    if (options.sinks() + fitted.window() + cache > total) continue;
                    out.add(fitted.withBudget(fitted.window(), cache, options.cachePolicy()));
                }
            }
            return out;
        }

        /** The online-memory variant of a setting: every query head's gain 1 (the calibration-free memory). */
        private Calibration.Layer online(Calibration.Layer setting) {
            float[] ones = new float[model.heads()];
            java.util.Arrays.fill(ones, 1f);
            return setting.withGains(ones).withOnlineMemory(map.features());
        }

        /**
         * The candidates of a layer scored from the recording: per setting and KV head, the head's output error
         * with its memory off, with the fitted memory (where the fit switched some query head's memory on) and with
         * the online memory; all those runs are independent tasks on the pool. A memory candidate keeps its memory
         * on in the KV heads where it scored lower than off (exact: the score is a sum over KV heads, and a KV head's
         * exact cache depends only on its own heads).
         */
        private List<Candidate> scoreLayer(
                int l,
                AttentionRecorder.LayerRows rows,
                Calibration.Layer[] fitsOfLayer,
                int total,
                ExecutorService pool) {
            OutputErrorScore scorer = new OutputErrorScore(rows.shape(), OutputErrorScore.outputProjection(vanilla, l));
            AttentionRecorder.LayerRows scored = rows.first(options.scoreTexts());
            List<Calibration.Layer> settings = settings(fitsOfLayer, total);
            int kv = model.kvHeads(), group = model.heads() / kv;
            Memory[] kinds = Memory.values();
            // scores[setting][memory][kv head]; NaN where not run
            double[][][] scores = new double[settings.size()][kinds.length][kv];
            for (double[][] bySetting : scores)
                for (double[] byKind : bySetting) java.util.Arrays.fill(byKind, Double.NaN);
            // a window's lead setting: its smallest cache; the settings with a larger cache follow it
            int[] lead = new int[settings.size()];
            for (int s = 0; s < settings.size(); s++) {
                lead[s] = s;
                for (int t = 0; t < settings.size(); t++) {
                    if (settings.get(t).window() == settings.get(s).window()
                            && settings.get(t).exactCache()
                                    < settings.get(lead[s]).exactCache()) lead[s] = t;
                }
            }
            for (boolean leads : new boolean[] {true, false}) {
                List<Runnable> tasks = new ArrayList<>();
                for (int s = 0; s < settings.size(); s++) {
                    if ((lead[s] == s) != leads) continue;
                    Calibration.Layer fitted = settings.get(s), online = online(fitted);
                    for (int h = 0; h < kv; h++) {
                        int si = s, kvHead = h;
                        tasks.add(() -> scores[si][Memory.OFF.ordinal()][kvHead] = scorer.headScore(
                                scored, kvHead, OutputErrorScore.withoutMemory(kvHeadSpec(fitted, kvHead), group)));
                        // a larger cache runs only the memory that scored best in this head at the lead setting
                        Memory best = leads ? null : bestMemory(scores[lead[s]], h);
                        if (memoryOn(fitted, h, group) && (leads || best == Memory.FITTED)) {
                            tasks.add(() -> scores[si][Memory.FITTED.ordinal()][kvHead] =
                                    scorer.headScore(scored, kvHead, kvHeadSpec(fitted, kvHead)));
                        }
                        if (leads || best == Memory.ONLINE) {
                            tasks.add(() -> scores[si][Memory.ONLINE.ordinal()][kvHead] =
                                    scorer.headScore(scored, kvHead, kvHeadSpec(online, kvHead)));
                        }
                    }
                }
                runAll(pool, tasks);
            }
            long positions = scored.positions();
            List<Candidate> out = new ArrayList<>();
            for (int s = 0; s < settings.size(); s++) {
                Calibration.Layer fitted = settings.get(s);
                double[] off = scores[s][Memory.OFF.ordinal()];
                for (Memory kind : kinds) {
                    Calibration.Layer variant = switch (kind) {
                        case OFF -> fitted.withoutMemory();
                        case FITTED -> fitted;
                        case ONLINE -> online(fitted);
                    };
                    float[] gains = variant.gains().clone();
                    double sum = 0;
                    for (int h = 0; h < kv; h++) {
                        double on = scores[s][kind.ordinal()][h];
                        if (kind != Memory.OFF && !(on < off[h])) {
                            for (int g = 0; g < group; g++) gains[h * group + g] = 0;
                            on = off[h];
                        }
                        sum += on;
                    }
                    variant = variant.withGains(gains);
                    if (kind != Memory.OFF && !variant.memory()) continue; // the same as memory off
                    out.add(new Candidate(
                            l,
                            variant.window(),
                            variant.exactCache(),
                            kind,
                            Double.NaN,
                            measured(sum / positions),
                            variant.exactTokens(),
                            variant));
                }
            }
            return out;
        }

        /**
         * The candidates of a layer with no output error (the model-KL score alone): per setting the memory off,
         * fitted (where the fit switched some head on) and online, each over the whole layer.
         */
        private List<Candidate> unscored(int l, Calibration.Layer[] fitsOfLayer, int total) {
            List<Candidate> out = new ArrayList<>();
            for (Calibration.Layer fitted : settings(fitsOfLayer, total)) {
                List<Calibration.Layer> variants = new ArrayList<>();
                variants.add(fitted.withoutMemory());
                if (fitted.memory()) variants.add(fitted);
                variants.add(online(fitted));
                for (Calibration.Layer v : variants) {
                    Memory kind = !v.memory() ? Memory.OFF : v.online() ? Memory.ONLINE : Memory.FITTED;
                    out.add(new Candidate(
                            l, v.window(), v.exactCache(), kind, Double.NaN, Double.NaN, v.exactTokens(), v));
                }
            }
            return out;
        }

        /** The memory that scored lowest in KV head {@code h} ({@code scores[memory][kv head]}, NaN: not run). */
        private static Memory bestMemory(double[][] scores, int h) {
            Memory best = Memory.OFF;
            for (Memory kind : Memory.values()) {
                if (scores[kind.ordinal()][h] < scores[best.ordinal()][h]) best = kind;
            }
            return best;
        }

        /** Whether some query head of KV head {@code kvHead}'s group reads the layer's memory. */
        private static boolean memoryOn(Calibration.Layer layer, int kvHead, int group) {
            for (int g = 0; g < group; g++) if (layer.gains()[kvHead * group + g] > 0) return true;
            return false;
        }

        /** Layers with no memory and a window of the longest text: only their shape matters (see {@link #base}). */
        private List<Calibration.Layer> placeholderLayers() {
            int longest = sequences.stream().mapToInt(sq -> sq.length).max().orElse(1);
            int kv = model.kvHeads(), m = map.features(), d = model.headSize();
            float[][] centroids = map.centroids() ? new float[kv][m * d] : null;
            float[][] weights = new float[kv][m];
            Calibration.Layer exact = new Calibration.Layer(
                    0,
                    longest,
                    0,
                    options.cachePolicy(),
                    new float[model.heads()],
                    centroids,
                    weights,
                    Double.NaN,
                    Double.NaN,
                    Double.NaN);
            return java.util.Collections.nCopies(layers, exact);
        }

        /** The spec of one KV head of a candidate layer ({@link OutputErrorScore#kvHeadSpec}). */
        private AttentionSpec kvHeadSpec(Calibration.Layer variant, int kvHead) {
            AttentionSpec full = base.withLayers(java.util.Collections.nCopies(layers, variant))
                    .spec(0, true, profile.blockSize());
            return OutputErrorScore.kvHeadSpec(
                    full, new AttentionShape(model.heads(), model.kvHeads(), model.headSize()), kvHead);
        }

        /**
         * The reference score: every candidate's model-level KL with that layer alone converted, one pass over the
         * calibration texts per candidate (the search before the recording; {@link Score#MODEL_KL}, {@link
         * Score#BOTH}).
         */
        private List<Candidate> measureModelKl(Calibration.Layer[][] fits, List<Candidate> candidates) {
            prepareModelKl(fits, sequences.size());
            List<Candidate> out = new ArrayList<>();
            for (int l = 0; l < layers; l++) {
                long start = System.nanoTime();
                int count = 0;
                for (Candidate c : candidates) {
                    if (c.layer() != l) continue;
                    out.add(c.withKl(measured(layerAloneKl(l, c.variant()))));
                    count++;
                }
                progress.accept(String.format(
                        Locale.ROOT,
                        "layer %d/%d: measured the model KL of %d candidates (layer alone converted) in %.1f s",
                        l + 1,
                        layers,
                        count,
                        (System.nanoTime() - start) / 1e9));
            }
            return out;
        }

        private static void putMetrics(Map<String, Double> results, String prefix, EvalResult r) {
            results.put(prefix + "_kl_mean", measured(r.all().klMean()));
            results.put(prefix + "_perplexity_ratio", measured(r.all().perplexityRatio()));
            results.put(prefix + "_kl_mean_beyond", measured(r.beyondWindow().klMean()));
            results.put(
                    prefix + "_perplexity_ratio_beyond",
                    measured(r.beyondWindow().perplexityRatio()));
            results.put(prefix + "_top1_beyond", measured(r.beyondWindow().top1Agreement()));
        }

        /** One KV head's base map: k-means centroids of its keys (weights 1), or the profile's seeded map. */
        private FeatureMap baseMap(List<KvHeadSequence> kvHead) {
            if (map.centroids()) {
                double[][] keys = MemoryFit.keysOf(kvHead, options.sinks());
                return MemoryFit.fitCentroids(keys, map.features(), model.scale(), options.seed());
            }
            return FeatureMaps.create(map.kind().key(), model.headSize(), map.features(), map.seed());
        }

        /**
         * Texts of the closing evaluation of the plan and the plain window (a report, not part of the search): the
         * sensitivity's texts, at least {@link #EVAL_TEXTS}, at most all.
         */
        private int evalTexts() {
            return Math.min(sequences.size(), Math.max(EVAL_TEXTS, options.sensitivityTexts()));
        }

        /** Runs the tasks on the pool and waits for all of them. */
        private static void runAll(ExecutorService pool, List<Runnable> tasks) {
            parallel(pool, tasks.size(), i -> {
                tasks.get(i).run();
                return Boolean.TRUE;
            });
        }

        /** {@code task} of 0..count-1 on the pool, results in order. */
        private static <T> List<T> parallel(ExecutorService pool, int count, IntFunction<T> task) {
            List<Future<T>> futures = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                int index = i;
                futures.add(pool.submit(() -> task.apply(index)));
            }
            List<T> out = new ArrayList<>();
            try {
                for (Future<T> f : futures) out.add(f.get());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) throw r;
                if (e.getCause() instanceof Error r) throw r;
                throw new IllegalStateException(e.getCause());
            }
            return out;
        }

        /**
         * The layer with its memory fitted for {@code window}: NNLS weights per KV head, then the gains of its query
         * heads on the float-rounded map as stored. Where no calibration row has an evicted key, or NNLS gives every
         * feature weight 0, that KV head's memory stays off (gains 0, weights 1).
         */
        /**
         * The layer with its memory fitted for every candidate window, KV heads in parallel: per KV head one NNLS
         * pass for all windows ({@link MemoryFit#fitWeights(FeatureMap, List, FitSettings, int[])}), then per window
         * the gains of its query heads on the float-rounded map as stored. Where no calibration row has an evicted
         * key, or NNLS gives every feature weight 0, that KV head's memory stays off (gains 0, weights 1).
         */
        private Calibration.Layer[] fit(List<List<KvHeadSequence>> kvHeads, FeatureMap[] bases, ExecutorService pool) {
            int kv = kvHeads.size(), group = model.heads() / kv;
            List<HeadFit[]> heads = parallel(pool, kv, h -> fitHead(kvHeads.get(h), bases[h], windows));
            Calibration.Layer[] out = new Calibration.Layer[windows.length];
            for (int wi = 0; wi < windows.length; wi++) {
                float[] gains = new float[model.heads()];
                float[][] centroids = map.centroids() ? new float[kv][] : null;
                float[][] weights = new float[kv][];
                double windowError = 0, memoryError = 0;
                int measuredHeads = 0;
                for (int h = 0; h < kv; h++) {
                    HeadFit f = heads.get(h)[wi];
                    if (centroids != null) centroids[h] = f.centroids();
                    weights[h] = f.weights();
                    if (f.gains() == null) continue;
                    for (int g = 0; g < group; g++) {
                        gains[h * group + g] = (float) f.gains()[g].gain();
                        windowError += f.gains()[g].windowError();
                        memoryError += f.gains()[g].error();
                        measuredHeads++;
                    }
                }
                double n = Math.max(1, measuredHeads);
                out[wi] = new Calibration.Layer(
                        options.sinks(),
                        windows[wi],
                        0,
                        options.cachePolicy(),
                        gains,
                        centroids,
                        weights,
                        measuredHeads == 0 ? Double.NaN : windowError / n,
                        measuredHeads == 0 ? Double.NaN : memoryError / n,
                        Double.NaN);
            }
            return out;
        }

        /** One KV head's fit for one window: its stored map (centroids or null, weights), its gains (null: off). */
        private record HeadFit(float[] centroids, float[] weights, GainSearch.HeadGain[] gains) {}

        /** One KV head's fits for every window (ascending, as the options give them). */
        private HeadFit[] fitHead(List<KvHeadSequence> seqs, FeatureMap base, int[] windows) {
            int m = map.features();
            int[] sorted = java.util.Arrays.stream(windows).distinct().sorted().toArray();
            FitSettings first =
                    new FitSettings(model.scale(), options.sinks(), sorted[0], options.maxPairs(), options.seed());
            MemoryFit.Result[] weightFits = sequencesLongerThan(first.firstEvictedRow())
                    ? MemoryFit.fitWeights(base, seqs, first, sorted)
                    : null;
            HeadFit[] out = new HeadFit[windows.length];
            for (int wi = 0; wi < windows.length; wi++) {
                int window = windows[wi];
                FitSettings settings =
                        new FitSettings(model.scale(), options.sinks(), window, options.maxPairs(), options.seed());
                double[] factors = null;
                if (weightFits != null && sequencesLongerThan(settings.firstEvictedRow())) {
                    double[] w = weightFits[java.util.Arrays.binarySearch(sorted, window)].weights();
                    for (double x : w) if (x > 0) factors = w;
                }
                FeatureMap weighted = factors == null ? base : FeatureMaps.withKernelWeights(base, factors);
                float[] centroids = null, weights;
                if (weighted instanceof CentroidFeatureMap c) {
                    centroids = c.scaledCentroids();
                    weights = c.logWeights();
                } else {
                    weights = new float[m];
                    for (int i = 0; i < m; i++) weights[i] = factors == null ? 1f : (float) factors[i];
                }
                if (factors == null) {
                    out[wi] = new HeadFit(centroids, weights, null);
                    continue;
                }
                FeatureMap stored = asStored(base, centroids, weights);
                out[wi] = new HeadFit(centroids, weights, GainSearch.search(stored, seqs, settings));
            }
            return out;
        }

        /** The map exactly as {@link Calibration#featureMap} rebuilds it from the stored floats. */
        private FeatureMap asStored(FeatureMap base, float[] centroids, float[] weights) {
            if (centroids != null) return new CentroidFeatureMap(model.headSize(), centroids, weights);
            double[] factors = new double[weights.length];
            for (int i = 0; i < weights.length; i++) factors[i] = weights[i];
            return ((ProjectionFeatureMap) base).withKernelWeights(factors);
        }

        private boolean sequencesLongerThan(int positions) {
            for (int[] s : sequences) if (s.length > positions) return true;
            return false;
        }

        /**
         * Mean next-token KL(vanilla || candidate) over every calibration position with only {@code layer} converted
         * as {@code variant}. The other layers run the hybrid with no sinks and a window longer than every text, which
         * is softmax attention computed by the plugin's kernels (several times faster than Jlama's on small models);
         * the reference logits are the recording pass's (the same exact layers, none converted).
         */
        private double layerAloneKl(int layer, Calibration.Layer variant) {
            return layerAloneKl(layer, variant, sequences.size());
        }

        /** The same over the first {@code texts} calibration texts. */
        private double layerAloneKl(int layer, Calibration.Layer variant, int texts) {
            List<Calibration.Layer> ls = new ArrayList<>(fullWindow.layers());
            ls.set(layer, variant);
            Path file = scratchSidecar(fullWindow.withLayers(ls));
            Profile candidate = profile.withLayers(LayerSelection.all()).withCalibration(CalibrationChoice.file(file));
            double sum = 0;
            long count = 0;
            try (DiJiangModel model = DiJiang.install(vanilla.jlama(), candidate)) {
                for (int t = 0; t < texts; t++) {
                    float[][] logits;
                    try (Session s = model.newSession()) {
                        logits = s.appendAll(sequences.get(t));
                    }
                    float[][] reference = referenceLogits.get(t);
                    for (int i = 0; i + 1 < logits.length; i++) {
                        sum += Evaluator.klDivergence(
                                Evaluator.logSoftmax(reference[i]), Evaluator.logSoftmax(logits[i]));
                        count++;
                    }
                }
            } finally {
                deleteQuietly(file);
            }
            return count == 0 ? 0 : sum / count;
        }

        private Path scratchSidecar(Calibration calibration) {
            Path file = scratch.resolve("candidate-" + (sidecars++) + ".safetensors");
            CalibrationFile.write(file, calibration);
            return file;
        }

        private static void deleteQuietly(Path file) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                // a scratch file; the directory is removed at the end
            }
        }

        /**
         * Evaluates the plain window and the plan (each through a scratch sidecar, as a profile would load it)
         * against the original model on the first calibration texts, whose logits the recording pass kept; returns
         * {plain, plan}.
         */
        private EvalResult[] evaluate(Calibration plainWindow, Calibration plan, int beyondFrom) {
            Path plainFile = scratchSidecar(plainWindow), planFile = scratchSidecar(plan);
            Profile plainProfile =
                    profile.withLayers(LayerSelection.all()).withCalibration(CalibrationChoice.file(plainFile));
            Profile planProfile =
                    profile.withLayers(LayerSelection.all()).withCalibration(CalibrationChoice.file(planFile));
            try {
                EvalResult r = new Evaluator(
                                vanilla,
                                planProfile,
                                beyondFrom,
                                List.of(
                                        new Evaluator.Variant(
                                                "plain_window",
                                                "sinks + the plain window of the budget",
                                                jlama -> DiJiang.install(jlama, plainProfile)),
                                        new Evaluator.Variant(
                                                "calibrated",
                                                "the chosen plan",
                                                jlama -> DiJiang.install(jlama, planProfile))))
                        .evaluateTokens(
                                sequences.subList(0, evalTexts()), referenceLogits.subList(0, evalTexts()), line -> {});
                EvalResult.VariantResult p = r.ablation().get(0);
                EvalResult plain = new EvalResult(
                        r.mode(),
                        r.profile(),
                        r.texts(),
                        r.beyondFrom(),
                        r.slice(),
                        p.all(),
                        p.beyondWindow(),
                        p.longRange(),
                        List.of());
                EvalResult calibrated = new EvalResult(
                        r.mode(),
                        r.profile(),
                        r.texts(),
                        r.beyondFrom(),
                        r.slice(),
                        r.all(),
                        r.beyondWindow(),
                        r.longRange(),
                        List.of());
                return new EvalResult[] {plain, calibrated};
            } finally {
                deleteQuietly(plainFile);
                deleteQuietly(planFile);
            }
        }
    }
}
