package io.dijiang4j.tools.eval;

import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.Profile;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Samples texts from a model, each from BOS alone (no prompt) up to a number of tokens or the end token: evaluation
 * and calibration text that needs no data set. Text i has its own random stream derived from the seed and i only, so
 * it is the same whatever the number of texts asked for. {@link #sample(Profile, Options, Consumer)} uses Jlama's
 * vanilla softmax attention whatever the profile's mode.
 */
public final class TextSampler {
    /**
     * What to sample.
     *
     * @param count number of texts
     * @param maxTokens tokens per text at most (BOS not counted)
     * @param temperature softmax temperature, 0 = greedy
     * @param topP nucleus mass in (0, 1]; 1 = no truncation
     * @param topK keep the k most likely tokens; 0 = no truncation
     * @param seed seed of every text's stream
     */
    public record Options(int count, int maxTokens, float temperature, float topP, int topK, long seed) {
        public Options {
            if (count < 1) throw new IllegalArgumentException("count must be >= 1, got " + count);
            if (maxTokens < 1) throw new IllegalArgumentException("max tokens must be >= 1, got " + maxTokens);
            new GenerationOptions(maxTokens, temperature, topP, topK, seed, true); // validates the sampling values
        }

        /** Temperature 1, no top-k or top-p truncation: the model's own distribution. */
        public static Options unbiased(int count, int maxTokens, long seed) {
            return new Options(count, maxTokens, 1f, 1f, 0, seed);
        }

        GenerationOptions generation(long textSeed) {
            return new GenerationOptions(maxTokens, temperature, topP, topK, textSeed, true);
        }
    }

    /**
     * One sampled text.
     *
     * @param tokens the sampled tokens (BOS and the end token not included)
     * @param text their decoded text
     * @param endToken whether it stopped at the end token (else at the token limit)
     */
    public record SampledText(int[] tokens, String text, boolean endToken) {
        public SampledText {
            tokens = tokens.clone();
        }

        @Override
        public int[] tokens() {
            return tokens.clone();
        }
    }

    private final DiJiangModel model;

    /** Samples with {@code model}'s attention as installed. */
    public TextSampler(DiJiangModel model) {
        this.model = model;
    }

    /** Loads the profile's model with Jlama's softmax attention, samples, and closes it. */
    public static List<SampledText> sample(Profile profile, Options options, Consumer<String> progress) {
        try (DiJiangModel vanilla = DiJiang.load(profile.withMode(Mode.SOFTMAX), progress)) {
            return new TextSampler(vanilla).sample(options, progress);
        }
    }

    /** The seed of text {@code index}: the index-th split of a SplittableRandom seeded with {@code seed}. */
    public static long textSeed(long seed, int index) {
        if (index < 0) throw new IllegalArgumentException("index must be >= 0: " + index);
        SplittableRandom root = new SplittableRandom(seed);
        SplittableRandom stream = root.split();
        for (int i = 0; i < index; i++) stream = root.split();
        return stream.nextLong();
    }

    /** Samples {@code options.count()} texts in order, one progress line each. */
    public List<SampledText> sample(Options options, Consumer<String> progress) {
        long limit = model.maxPositions();
        if (1L + options.maxTokens() > limit) {
            throw new IllegalArgumentException("max tokens " + options.maxTokens() + " + BOS exceed the " + limit
                    + " positions this model can hold with softmax attention");
        }
        List<SampledText> texts = new ArrayList<>(options.count());
        long start = System.nanoTime();
        long tokens = 0;
        int[] bos = model.tokens().withBos(new int[0]);
        for (int i = 0; i < options.count(); i++) {
            try (Session session = model.newSession()) {
                GenerationResult g =
                        session.generate(bos, options.generation(textSeed(options.seed(), i)), piece -> {});
                int[] sampled = g.tokens().stream().mapToInt(Integer::intValue).toArray();
                texts.add(new SampledText(sampled, g.text(), g.stopReason() == GenerationResult.StopReason.END_TOKEN));
                tokens += sampled.length;
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            progress.accept(String.format(
                    Locale.ROOT,
                    "sampled %d/%d texts, %d tokens, %.0f tokens/s",
                    i + 1,
                    options.count(),
                    tokens,
                    tokens / Math.max(seconds, 1e-9)));
        }
        return texts;
    }
}
