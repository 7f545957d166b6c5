package io.dijiang4j.tools.cli;

import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.plugin.calibration.Calibration;
import io.dijiang4j.plugin.calibration.CalibrationFile;
import io.dijiang4j.plugin.calibration.Sidecars;
import io.dijiang4j.plugin.profile.CalibrationChoice;
import io.dijiang4j.plugin.profile.FeatureMapKind;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.plugin.profile.SettingKeys;
import io.dijiang4j.tools.calibration.Calibrator;
import io.dijiang4j.tools.eval.EvalResult;
import io.dijiang4j.tools.eval.StoryTexts;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code dijiang calibrate}: fits the hybrid's memory and spends the exact budget across layers ({@link Calibrator}),
 * writes the sidecar atomically and prints a summary table; progress on stderr.
 */
@Command(
        name = "calibrate",
        mixinStandardHelpOptions = true,
        description = "Fit the hybrid layer to the model (memory map, NNLS weights, per-head gains) and split a fixed"
                + " exact-token budget across layers; writes a calibration sidecar.")
public final class CalibrateCommand implements Callable<Integer> {
    /** --config, --model, --seed (calibration seed); the sampling and mode options do not apply and are refused. */
    @Mixin
    ProfileOptions options;

    @Option(
            names = "--text-file",
            paramLabel = "FILE",
            description = "Calibration texts separated by <<<STORY>>> lines (default: texts the model samples itself).")
    Path textFile;

    @Option(
            names = "--out",
            paramLabel = "FILE",
            description = "Sidecar to write (default: the profile's calibration file, else "
                    + CalibrationChoice.DEFAULT_FILE_NAME + " beside the model's config.json).")
    Path out;

    @Option(
            names = "--baseline-out",
            paramLabel = "FILE",
            description = "Also write the plain window of the same budget (sinks + window, no memory, no cache) as a"
                    + " sidecar, to evaluate the baseline with eval.")
    Path baselineOut;

    @Option(names = "--texts", paramLabel = "N", description = "Texts to sample when no --text-file (default 16).")
    int texts = 16;

    @Option(names = "--tokens", paramLabel = "N", description = "Tokens per sampled text (default 500).")
    int tokens = 500;

    @Option(
            names = "--budget",
            paramLabel = "B",
            description = "Average exact tokens per head over the layers: sinks + window + cache (default 40).")
    double budget = 40;

    @Option(
            names = "--windows",
            split = ",",
            paramLabel = "W",
            description = "Candidate windows (default 8,16,24,32,40,48,64,96).")
    List<Integer> windows;

    @Option(
            names = "--caches",
            split = ",",
            paramLabel = "C",
            description = "Candidate exact-cache sizes per KV head (default 0,4,8,16).")
    List<Integer> caches;

    @Option(
            names = "--feature-map",
            paramLabel = "KIND",
            description =
                    "Memory map: centroids (fitted, the default) or a seeded kind (wdcf, pff, ...) whose features get"
                            + " NNLS weights.")
    String featureMap = FeatureMapKind.CENTROIDS.key();

    @Option(names = "--features", paramLabel = "M", description = "Features of the memory map (default 64).")
    int features = 64;

    @Option(names = "--sinks", paramLabel = "N", description = "First tokens kept exact in every layer (default 4).")
    int sinks = 4;

    @Option(
            names = "--cache-policy",
            paramLabel = "POLICY",
            description = "Which evicted tokens the exact caches keep: heavy_hitter (default) or self_recall.")
    String cachePolicy = SettingKeys.key(ExactCachePolicy.HEAVY_HITTER);

    @Option(
            names = "--score",
            paramLabel = "SCORE",
            description = "How candidates are scored: output_error (default: from one recording pass, the attention"
                    + " error through o_proj), model_kl (the model-level KL, one pass per candidate: slow) or both"
                    + " (plans by output_error, measures model_kl too and prints their rank agreement).")
    String score = "output_error";

    @Option(
            names = "--sensitivity-texts",
            paramLabel = "N",
            description = "Texts of the per-layer sensitivity (one model pass per layer: the layer-alone KL of one"
                    + " reference candidate over its output error puts the layers on one scale; 0 = scale 1;"
                    + " default ${DEFAULT-VALUE}).")
    int sensitivityTexts = Calibrator.Options.defaults(0).sensitivityTexts();

    @Option(
            names = "--score-texts",
            paramLabel = "N",
            description = "Texts the candidates are scored on (the first N; the fit reads them all; 0 = all;"
                    + " default ${DEFAULT-VALUE}).")
    int scoreTexts = Calibrator.Options.defaults(0).scoreTexts();

    @Option(
            names = "--print-candidates",
            description = "Print every scored candidate (layer, window, cache, memory, scores) after the plan.")
    boolean printCandidates;

    @Override
    public Integer call() {
        if (options.mode != null
                || options.maxTokens != null
                || options.temperature != null
                || options.topP != null
                || options.topK != null) {
            throw new IllegalArgumentException(
                    "calibrate fits the hybrid: --mode, --max-tokens, --temperature, --top-p and --top-k do not apply");
        }
        Profile profile = options.profile();
        long seed = options.seed != null ? options.seed : profile.samplingSeed();
        Calibrator.Options defaults = Calibrator.Options.defaults(seed);
        Calibrator.Options settings = defaults.withTexts(texts, tokens)
                .withBudget(budget)
                .withCandidates(
                        windows != null ? windows : defaults.windows(), caches != null ? caches : defaults.caches())
                .withMemory(
                        option("--feature-map", featureMap, FeatureMapKind::parse),
                        features,
                        sinks,
                        option("--cache-policy", cachePolicy, SettingKeys::cachePolicy))
                .withScore(parseScore(score))
                .withSensitivityTexts(sensitivityTexts)
                .withScoreTexts(scoreTexts);
        Path target = out != null ? out : defaultOut(profile);
        List<String> given = textFile == null ? null : StoryTexts.read(textFile);
        String source = textFile == null ? null : textFile.getFileName().toString();
        Calibrator.Result result =
                Calibrator.run(profile, given, source, settings, line -> System.err.println("dijiang: " + line));
        CalibrationFile.write(target, result.calibration());
        print(result, System.out);
        if (printCandidates) printCandidates(result, System.out);
        System.err.println("dijiang: wrote " + target);
        if (baselineOut != null) {
            CalibrationFile.write(baselineOut, result.baseline());
            System.err.println("dijiang: wrote the plain-window baseline to " + baselineOut);
        }
        return 0;
    }

    private static <T> T option(String name, String value, java.util.function.Function<String, T> parse) {
        try {
            return parse.apply(value);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(name + " " + e.getMessage());
        }
    }

    private static Calibrator.Score parseScore(String value) {
        try {
            return Calibrator.Score.valueOf(value.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--score must be output_error, model_kl or both, got " + value);
        }
    }

    static void printCandidates(Calibrator.Result result, PrintStream out) {
        out.printf(
                Locale.ROOT,
                "%-5s %6s %5s %6s %5s %12s %12s%n",
                "layer",
                "window",
                "cache",
                "memory",
                "cost",
                "output err",
                "model KL");
        for (Calibrator.Candidate c : result.candidates()) {
            out.printf(
                    Locale.ROOT,
                    "%-5d %6d %5d %6s %5d %12.5g %12.5g%n",
                    c.layer(),
                    c.window(),
                    c.exactCache(),
                    c.memory().key(),
                    c.cost(),
                    c.outputError(),
                    c.kl());
        }
    }

    private static Path defaultOut(Profile profile) {
        if (profile.calibration().kind() == CalibrationChoice.Kind.FILE)
            return profile.calibration().file();
        return Sidecars.besideModel(profile)
                .orElseThrow(() ->
                        new IllegalArgumentException("no model directory to write the sidecar beside; give --out"));
    }

    static void print(Calibrator.Result result, PrintStream out) {
        Calibration c = result.calibration();
        out.printf(
                Locale.ROOT,
                "%-5s %5s %6s %5s %-13s %8s %-8s %8s %11s %11s %9s %10s%n",
                "layer",
                "sinks",
                "window",
                "cache",
                "policy",
                "exact",
                "memory",
                "heads",
                "err window",
                "err memory",
                "layer KL",
                "out error");
        for (int l = 0; l < c.layers().size(); l++) {
            Calibration.Layer layer = c.layers().get(l);
            int on = 0;
            for (float g : layer.gains()) if (g > 0) on++;
            out.printf(
                    Locale.ROOT,
                    "%-5d %5d %6d %5d %-13s %8d %-8s %8s %11.4g %11.4g %9.4g %10.4g%n",
                    l,
                    layer.sinks(),
                    layer.window(),
                    layer.exactCache(),
                    layer.exactCache() > 0 ? layer.cachePolicy().name().toLowerCase(Locale.ROOT) : "-",
                    layer.exactTokens(),
                    on == 0 ? "off" : layer.online() ? "online" : c.map().kind().key(),
                    on + "/" + layer.gains().length,
                    layer.windowError(),
                    layer.memoryError(),
                    layer.kl(),
                    c.results().getOrDefault("layer_" + l + "_output_error", Double.NaN));
        }
        out.printf(
                Locale.ROOT,
                "memory map %s, %d features; average exact tokens per head %.1f (budget %.1f); %d texts, %d tokens"
                        + " (%s, seed %d)%n",
                c.map().kind().key(),
                c.map().features(),
                c.averageExactTokens(),
                c.settings().budget(),
                c.settings().texts(),
                c.settings().tokens(),
                c.settings().source(),
                c.settings().seed());
        Double rho = c.results().get("spearman_output_error_model_kl");
        if (rho != null) {
            out.printf(
                    Locale.ROOT,
                    "rank agreement (Spearman) of output error and model KL over %d candidates: %.4f (within a layer,"
                            + " mean %.4f)%n",
                    result.candidates().size(),
                    rho,
                    c.results().get("spearman_within_layer_mean"));
        }
        row(out, "calibrated, every layer", result.calibrated());
        row(out, "plain window, same budget", result.plainWindow());
    }

    private static void row(PrintStream out, String name, EvalResult r) {
        out.printf(
                Locale.ROOT,
                "%-26s KL %.4f, perplexity x%.4f; beyond position %d: KL %.4f, perplexity x%.4f, top-1 %.3f"
                        + " (%d calibration texts)%n",
                name,
                r.all().klMean(),
                r.all().perplexityRatio(),
                r.beyondFrom(),
                r.beyondWindow().klMean(),
                r.beyondWindow().perplexityRatio(),
                r.beyondWindow().top1Agreement(),
                r.texts());
    }
}
