package io.dijiang4j.tools.cli;

import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.tools.eval.StoryTexts;
import io.dijiang4j.tools.eval.TextSampler;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code dijiang sample}: texts sampled from the model with Jlama's vanilla softmax attention, from BOS alone, written
 * to one file separated by {@code <<<STORY>>>} lines (the input of {@code eval} and {@code calibrate}). Unlike
 * {@code generate}, the profile's sampling settings are not used: temperature 1 and no top-k / top-p unless given,
 * so the texts follow the model's own distribution.
 */
@Command(
        name = "sample",
        mixinStandardHelpOptions = true,
        description = "Sample texts from the model (vanilla softmax attention, seeded; temperature 1 and no top-k/top-p"
                + " unless given) into a file separated by <<<STORY>>> lines.")
public final class SampleCommand implements Callable<Integer> {
    @Mixin
    ProfileOptions options;

    @Option(names = "--count", required = true, paramLabel = "N", description = "Number of texts.")
    int count;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "Output file (written atomically).")
    Path out;

    @Override
    public Integer call() {
        if (options.mode != null) {
            throw new IllegalArgumentException("sample always uses Jlama's softmax attention; leave out --mode");
        }
        Profile profile = options.profile();
        TextSampler.Options sampling = new TextSampler.Options(
                count,
                options.maxTokens != null
                        ? options.maxTokens
                        : profile.generation().maxTokens(),
                options.temperature != null ? options.temperature : 1f,
                options.topP != null ? options.topP : 1f,
                options.topK != null ? options.topK : 0,
                options.seed != null ? options.seed : profile.samplingSeed());
        List<TextSampler.SampledText> texts =
                TextSampler.sample(profile, sampling, line -> System.err.println("dijiang: " + line));
        StoryTexts.write(out, texts.stream().map(TextSampler.SampledText::text).toList());
        long tokens = texts.stream().mapToLong(t -> t.tokens().length).sum();
        long ended = texts.stream().filter(TextSampler.SampledText::endToken).count();
        System.err.printf(
                "dijiang: wrote %d texts (%d tokens, %d ended at the end token, seed %d) to %s%n",
                texts.size(), tokens, ended, sampling.seed(), out);
        return 0;
    }
}
