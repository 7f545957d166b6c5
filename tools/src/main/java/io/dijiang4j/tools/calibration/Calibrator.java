package io.dijiang4j.tools.calibration;

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
import java.util.function.Consumer;

/**
 * {@code dijiang calibrate}: fits the hybrid layer of every layer of a model to the model itself, training-free
 * (docs/MATH.md §5), and spends a fixed exact budget where it lowers the error most.
 *
 * <ol>
 *   <li>Calibration text: given, or sampled from the model itself (seeded, {@link TextSampler}).
 *   <li>Post-RoPE q/k/v of the original model per layer and KV head ({@link AttentionRecorder}).
 *   <li>Per layer, KV head and candidate window: the memory map (k-means centroids of the keys, {@link
 *       MemoryFit#fitCentroids}, or the profile's seeded map), its NNLS feature weights ({@link MemoryFit}) and a
 *       gain per query head by 1-D search on the attention-output error ({@link GainSearch}; 0 switches a head's
 *       memory off).
 *   <li>Per layer and candidate (window, exact cache, memory on/off): that layer alone converted, the model-level
 *       teacher-forced next-token KL against vanilla on the calibration texts ({@link Evaluator}).
 *   <li>{@link BudgetPlanner}: one candidate per layer minimizing the summed KL with the average exact tokens per
 *       head (sinks + window + cache) at most the budget.
 *   <li>The chosen plan and, for comparison, the plain window of the same budget (sinks + window, no memory, no
 *       cache) evaluated with every layer converted; both go into the sidecar's results.
 * </ol>
 *
 * Deterministic for a seed: sampling, k-means and the NNLS pair subsampling are seeded, and every step runs in a
 * fixed order.
 */
public final class Calibrator {
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
            ExactCachePolicy cachePolicy) {
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
        }

        /**
         * 16 texts of 500 tokens (on stories260K 16 gave a lower held-out KL than 8: the plan is picked on measured
         * KL and overfits fewer texts), budget 40, windows 8..96, caches 0, 4, 8, 16; the centroid map of 64 features,
         * 4 sinks, heavy-hitter caches.
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
                    ExactCachePolicy.HEAVY_HITTER);
        }

        public Options withTexts(int count, int tokens) {
            return new Options(
                    count, tokens, seed, budget, windows, caches, maxPairs, featureMap, features, sinks, cachePolicy);
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
                    cachePolicy);
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
                    cachePolicy);
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
                    policy);
        }
    }

    /**
     * One evaluated candidate of one layer (that layer alone converted).
     *
     * @param kl mean next-token KL against vanilla over every calibration position
     */
    public record Candidate(int layer, int window, int exactCache, boolean memory, double kl, int cost) {}

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
        Path modelDir = Sidecars.modelDirectory(profile)
                .orElseThrow(() -> profile.source().error("model", "model directory not found: " + profile.model()));
        Profile vanillaProfile = profile.withMode(Mode.SOFTMAX).withCalibration(CalibrationChoice.NONE);
        Path scratch;
        try {
            scratch = Files.createTempDirectory("dijiang-calibrate-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a scratch directory", e);
        }
        try (DiJiangModel vanilla = DiJiang.load(vanillaProfile, progress)) {
            List<int[]> sequences;
            if (texts == null) {
                sequences = sample(vanilla, options, progress);
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

    private static List<int[]> sample(DiJiangModel vanilla, Options options, Consumer<String> progress) {
        progress.accept("sampling " + options.texts() + " calibration texts of " + options.tokensPerText()
                + " tokens (seed " + options.seed() + ")");
        List<TextSampler.SampledText> texts = new TextSampler(vanilla)
                .sample(
                        TextSampler.Options.unbiased(options.texts(), options.tokensPerText(), options.seed()),
                        progress);
        List<int[]> sequences = new ArrayList<>();
        for (TextSampler.SampledText t : texts) sequences.add(vanilla.tokens().withBos(t.tokens()));
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
        private int sidecars;
        /** Every layer exact (no sinks, a window longer than every text): softmax, computed by the kernels. */
        private Calibration fullWindow;
        /** Vanilla log-probabilities of every calibration text and position. */
        private List<double[][]> referenceLogProbabilities;

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
            var rows = AttentionRecorder.record(vanilla, profile, sequences, progress);
            List<Integer> windows = options.windows();
            // fits[layer][window index]: the layer with its memory fitted for that window, no cache
            Calibration.Layer[][] fits = new Calibration.Layer[layers][windows.size()];
            for (int l = 0; l < layers; l++) {
                long start = System.nanoTime();
                FeatureMap[] bases = baseMaps(rows.get(l));
                for (int wi = 0; wi < windows.size(); wi++) fits[l][wi] = fit(rows.get(l), bases, windows.get(wi));
                progress.accept(String.format(
                        Locale.ROOT,
                        "layer %d: fitted the %s memory for %d windows in %.1f s",
                        l,
                        map.kind(),
                        windows.size(),
                        (System.nanoTime() - start) / 1e9));
            }
            List<Calibration.Layer> firstFits = new ArrayList<>();
            List<Calibration.Layer> exact = new ArrayList<>();
            int longest = sequences.stream().mapToInt(sq -> sq.length).max().orElse(1);
            for (Calibration.Layer[] perWindow : fits) {
                firstFits.add(perWindow[0]);
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
            Calibration base = new Calibration(model, map, settings, firstFits, Map.of());
            fullWindow = base.withLayers(exact);
            referenceLogProbabilities = new ArrayList<>();
            for (int[] sequence : sequences) {
                try (Session s = vanilla.newSession()) {
                    float[][] logits = s.appendAll(sequence);
                    double[][] logP = new double[logits.length][];
                    for (int i = 0; i < logits.length; i++) logP[i] = Evaluator.logSoftmax(logits[i]);
                    referenceLogProbabilities.add(logP);
                }
            }

            int total = (int) Math.floor(options.budget() * layers + 1e-9);
            List<Candidate> candidates = new ArrayList<>();
            List<List<BudgetPlanner.Option>> planOptions = new ArrayList<>();
            List<List<Calibration.Layer>> planLayers = new ArrayList<>();
            for (int l = 0; l < layers; l++) {
                long start = System.nanoTime();
                List<BudgetPlanner.Option> optionsOfLayer = new ArrayList<>();
                List<Calibration.Layer> layersOfLayer = new ArrayList<>();
                for (int wi = 0; wi < windows.size(); wi++) {
                    for (int cache : options.caches()) {
                        int cost = options.sinks() + windows.get(wi) + cache;
                        if (cost > total) continue;
                        Calibration.Layer withMemory =
                                fits[l][wi].withBudget(windows.get(wi), cache, options.cachePolicy());
                        Calibration.Layer best = null;
                        double bestKl = Double.POSITIVE_INFINITY;
                        List<Calibration.Layer> variants = withMemory.memory()
                                ? List.of(withMemory.withoutMemory(), withMemory)
                                : List.of(withMemory);
                        for (Calibration.Layer variant : variants) {
                            double kl = measured(layerAloneKl(l, variant));
                            candidates.add(new Candidate(l, variant.window(), cache, variant.memory(), kl, cost));
                            if (kl < bestKl) {
                                bestKl = kl;
                                best = variant;
                            }
                        }
                        optionsOfLayer.add(new BudgetPlanner.Option(cost, bestKl));
                        layersOfLayer.add(best.withKl(bestKl));
                        if (optionsOfLayer.size() % 8 == 0) {
                            progress.accept(String.format(
                                    Locale.ROOT,
                                    "layer %d: %d (window, cache) settings evaluated, %.0f s",
                                    l,
                                    optionsOfLayer.size(),
                                    (System.nanoTime() - start) / 1e9));
                        }
                    }
                }
                planOptions.add(optionsOfLayer);
                planLayers.add(layersOfLayer);
                int layer = l;
                progress.accept(String.format(
                        Locale.ROOT,
                        "layer %d: evaluated %d candidates (layer alone converted) in %.1f s",
                        l,
                        candidates.stream().filter(c -> c.layer() == layer).count(),
                        (System.nanoTime() - start) / 1e9));
            }
            int[] plan = BudgetPlanner.plan(planOptions, total);
            List<Calibration.Layer> chosen = new ArrayList<>();
            for (int l = 0; l < layers; l++) chosen.add(planLayers.get(l).get(plan[l]));
            Calibration calibration = base.withLayers(chosen);

            int beyond = (int) Math.floor(options.budget());
            progress.accept("evaluating the chosen plan with every layer converted");
            EvalResult calibrated = evaluate(calibration, beyond);
            int plainWindow = Math.max(1, (int) Math.floor(options.budget()) - options.sinks());
            List<Calibration.Layer> plainLayers = new ArrayList<>();
            for (int l = 0; l < layers; l++) {
                plainLayers.add(fits[l][0]
                        .withBudget(plainWindow, 0, options.cachePolicy())
                        .withoutMemory());
            }
            progress.accept("evaluating the plain window of the same budget (sinks " + options.sinks() + ", window "
                    + plainWindow + ", no memory) with every layer converted");
            Calibration baseline = base.withLayers(plainLayers);
            EvalResult plain = evaluate(baseline, beyond);
            Map<String, Double> results = new LinkedHashMap<>();
            putMetrics(results, "calibrated", calibrated);
            putMetrics(results, "plain_window", plain);
            results.put("plain_window_size", (double) plainWindow);
            results.put("average_exact_tokens", calibration.averageExactTokens());
            results.put("beyond_from", (double) beyond);
            return new Result(
                    calibration.withResults(results),
                    baseline.withResults(results),
                    List.copyOf(candidates),
                    calibrated,
                    plain);
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

        /** Per KV head: k-means centroids of its keys (weights 1), or the profile's seeded map. */
        private FeatureMap[] baseMaps(List<List<KvHeadSequence>> kvHeads) {
            FeatureMap[] bases = new FeatureMap[kvHeads.size()];
            for (int h = 0; h < bases.length; h++) {
                if (map.centroids()) {
                    double[][] keys = MemoryFit.keysOf(kvHeads.get(h), options.sinks());
                    bases[h] = MemoryFit.fitCentroids(keys, map.features(), model.scale(), options.seed());
                } else {
                    bases[h] = FeatureMaps.create(map.kind().key(), model.headSize(), map.features(), map.seed());
                }
            }
            return bases;
        }

        /**
         * The layer with its memory fitted for {@code window}: NNLS weights per KV head, then the gains of its query
         * heads on the float-rounded map as stored. Where no calibration row has an evicted key, or NNLS gives every
         * feature weight 0, that KV head's memory stays off (gains 0, weights 1).
         */
        private Calibration.Layer fit(List<List<KvHeadSequence>> kvHeads, FeatureMap[] bases, int window) {
            int kv = kvHeads.size(), group = model.heads() / kv, m = map.features();
            FitSettings settings =
                    new FitSettings(model.scale(), options.sinks(), window, options.maxPairs(), options.seed());
            float[] gains = new float[model.heads()];
            float[][] centroids = map.centroids() ? new float[kv][] : null;
            float[][] weights = new float[kv][];
            double windowError = 0, memoryError = 0;
            int measuredHeads = 0;
            boolean anyRow = sequencesLongerThan(settings.firstEvictedRow());
            for (int h = 0; h < kv; h++) {
                List<KvHeadSequence> seqs = kvHeads.get(h);
                double[] factors = null;
                if (anyRow) {
                    double[] w = MemoryFit.fitWeights(bases[h], seqs, settings).weights();
                    for (double x : w) if (x > 0) factors = w;
                }
                FeatureMap weighted = factors == null ? bases[h] : FeatureMaps.withKernelWeights(bases[h], factors);
                if (weighted instanceof CentroidFeatureMap c) {
                    centroids[h] = c.scaledCentroids();
                    weights[h] = c.logWeights();
                } else {
                    weights[h] = new float[m];
                    for (int i = 0; i < m; i++) weights[h][i] = factors == null ? 1f : (float) factors[i];
                }
                if (factors == null) continue;
                FeatureMap stored = asStored(bases[h], centroids == null ? null : centroids[h], weights[h]);
                GainSearch.HeadGain[] fitted = GainSearch.search(stored, seqs, settings);
                for (int g = 0; g < group; g++) {
                    gains[h * group + g] = (float) fitted[g].gain();
                    windowError += fitted[g].windowError();
                    memoryError += fitted[g].error();
                    measuredHeads++;
                }
            }
            double n = Math.max(1, measuredHeads);
            return new Calibration.Layer(
                    options.sinks(),
                    window,
                    0,
                    options.cachePolicy(),
                    gains,
                    centroids,
                    weights,
                    measuredHeads == 0 ? Double.NaN : windowError / n,
                    measuredHeads == 0 ? Double.NaN : memoryError / n,
                    Double.NaN);
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
         * the vanilla logits are computed once by Jlama.
         */
        private double layerAloneKl(int layer, Calibration.Layer variant) {
            List<Calibration.Layer> ls = new ArrayList<>(fullWindow.layers());
            ls.set(layer, variant);
            Path file = scratchSidecar(fullWindow.withLayers(ls));
            Profile candidate = profile.withLayers(LayerSelection.all()).withCalibration(CalibrationChoice.file(file));
            double sum = 0;
            long count = 0;
            try (DiJiangModel model = DiJiang.install(vanilla.jlama(), candidate)) {
                for (int t = 0; t < sequences.size(); t++) {
                    float[][] logits;
                    try (Session s = model.newSession()) {
                        logits = s.appendAll(sequences.get(t));
                    }
                    double[][] reference = referenceLogProbabilities.get(t);
                    for (int i = 0; i + 1 < logits.length; i++) {
                        sum += Evaluator.klDivergence(reference[i], Evaluator.logSoftmax(logits[i]));
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

        /** Evaluates a calibration (through a scratch sidecar, as a profile would load it) against vanilla. */
        private EvalResult evaluate(Calibration calibration, int beyondFrom) {
            Path file = scratchSidecar(calibration);
            Profile candidate = profile.withLayers(LayerSelection.all()).withCalibration(CalibrationChoice.file(file));
            try {
                return new Evaluator(vanilla, candidate, beyondFrom, jlama -> DiJiang.install(jlama, candidate))
                        .evaluateTokens(sequences, line -> {});
            } finally {
                deleteQuietly(file);
            }
        }
    }
}
