package io.dijiang4j.tools.cli;

import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.tools.eval.EvalResult;
import io.dijiang4j.tools.eval.Evaluator;
import io.dijiang4j.tools.eval.StoryTexts;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code dijiang eval}: teacher-forced comparison of the profile's mode with vanilla softmax on the same model; a
 * table on stdout, progress on stderr, optionally the JSON.
 */
@Command(
        name = "eval",
        mixinStandardHelpOptions = true,
        description = "Compare the profile's attention with vanilla softmax, teacher-forced over texts: perplexity,"
                + " next-token KL, top-1 agreement, also beyond the exact window and on long-range positions;"
                + " --ablate: what the window, the exact cache and the memory each contribute.")
public final class EvalCommand implements Callable<Integer> {
    /** --config, --model, --mode; its sampling options do not apply to a teacher-forced run and are refused. */
    @Mixin
    ProfileOptions options;

    @Option(
            names = "--text-file",
            required = true,
            paramLabel = "FILE",
            description = "Texts separated by lines <<<STORY>>> (a file without them is one text).")
    Path textFile;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the metrics as JSON (atomically).")
    Path json;

    @Option(
            names = "--beyond-from",
            paramLabel = "N",
            description =
                    "First position of the beyond-window metrics (default: where every layer's exact tokens end: the largest sinks + window + exact cache; 0 for dijiang).")
    Integer beyondFrom;

    @Option(
            names = "--ablate",
            description = "Mode hybrid: also evaluate the same plan with parts switched off, in one run: window only"
                    + " (sinks + window), + exact cache, + memory (the full profile); one row each.")
    boolean ablate;

    @Option(
            names = "--long-range-span",
            paramLabel = "E",
            description =
                    "Span of the long-range slice: positions whose next token appeared before only more than E"
                            + " positions back and not among the sinks (default: the plan's widest sinks + window + exact cache).")
    Integer longRangeSpan;

    @Override
    public Integer call() {
        if (options.maxTokens != null
                || options.temperature != null
                || options.topP != null
                || options.topK != null
                || options.seed != null) {
            throw new IllegalArgumentException(
                    "eval is teacher-forced: --max-tokens, --temperature, --top-p, --top-k and --seed do not apply");
        }
        Profile profile = options.profile();
        List<String> texts = StoryTexts.read(textFile);
        if (beyondFrom != null && beyondFrom < 0) {
            throw new IllegalArgumentException("--beyond-from must be >= 0, got " + beyondFrom);
        }
        if (longRangeSpan != null && longRangeSpan < 0) {
            throw new IllegalArgumentException("--long-range-span must be >= 0, got " + longRangeSpan);
        }
        int from = beyondFrom != null ? beyondFrom : Evaluator.AUTO_BEYOND;
        System.err.println("dijiang: " + texts.size() + " texts from " + textFile);
        EvalResult result = Evaluator.evaluate(
                profile, from, longRangeSpan, ablate, texts, line -> System.err.println("dijiang: " + line));
        System.out.print(result.table());
        System.out.flush();
        if (json != null) {
            result.writeJson(json);
            System.err.println("dijiang: wrote " + json);
        }
        return 0;
    }
}
