package io.dijiang4j.tools.eval;

import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.dijiang4j.plugin.generation.Sampler;
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
 * vanilla softmax attention whatever the profile's mode. On a model whose every layer is kernelized ({@link
 * DiJiangModel#batchesSessions()}) the texts are decoded together, one forward pass per position for all of them
 * ({@link DiJiangModel#advance}); each text keeps its own sampler and random stream, so a text is the one the
 * one-at-a-time decode gives up to the rounding of a batched pass.
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

    /**
     * Samples {@code options.count()} texts in order: together where the model batches sessions, else one after
     * another, one progress line each.
     */
    public List<SampledText> sample(Options options, Consumer<String> progress) {
        long limit = model.maxPositions();
        if (1L + options.maxTokens() > limit) {
            throw new IllegalArgumentException("max tokens " + options.maxTokens() + " + BOS exceed the " + limit
                    + " positions this model can hold with softmax attention");
        }
        return model.batchesSessions() ? sampleTogether(options, progress) : sampleOneByOne(options, progress);
    }

    /** Sampled tokens between two progress lines within a text (a long text took minutes without one). */
    private static final int PROGRESS_TOKENS = 1024;

    /** One text after another, each through {@link Session#generate}. */
    List<SampledText> sampleOneByOne(Options options, Consumer<String> progress) {
        List<SampledText> texts = new ArrayList<>(options.count());
        long start = System.nanoTime();
        long tokens = 0;
        int[] bos = model.tokens().withBos(new int[0]);
        for (int i = 0; i < options.count(); i++) {
            try (Session session = model.newSession()) {
                int text = i;
                long textStart = System.nanoTime();
                int[] pieces = {0};
                GenerationResult g = session.generate(bos, options.generation(textSeed(options.seed(), i)), piece -> {
                    if (++pieces[0] % PROGRESS_TOKENS == 0) {
                        progress.accept(String.format(
                                Locale.ROOT,
                                "sampling text %d/%d: about %d tokens (text pieces), %.0f a second",
                                text + 1,
                                options.count(),
                                pieces[0],
                                pieces[0] / Math.max((System.nanoTime() - textStart) / 1e9, 1e-9)));
                    }
                });
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

    /**
     * Every text at once: one {@link DiJiangModel#advance} per position over the texts still running (a text leaves at
     * its end token or its token limit), each text sampled as {@link Session#generate} samples it: its own {@link
     * Sampler} seeded with its text seed, the end token not kept.
     */
    List<SampledText> sampleTogether(Options options, Consumer<String> progress) {
        int n = options.count();
        long start = System.nanoTime();
        List<Session> sessions = new ArrayList<>(n);
        try {
            Sampler[] samplers = new Sampler[n];
            List<List<Integer>> sampled = new ArrayList<>(n);
            StringBuilder[] text = new StringBuilder[n];
            boolean[] ended = new boolean[n];
            List<int[]> feed = new ArrayList<>(n);
            int[] bos = model.tokens().withBos(new int[0]);
            for (int i = 0; i < n; i++) {
                long seed = textSeed(options.seed(), i);
                samplers[i] = new Sampler(options.generation(seed), seed);
                sampled.add(new ArrayList<>());
                text[i] = new StringBuilder();
                sessions.add(model.newSession());
                feed.add(bos);
            }
            List<Integer> running = new ArrayList<>();
            for (int i = 0; i < n; i++) running.add(i);
            float[][] logits = model.advance(sessions, feed);
            long tokens = 0;
            int finished = 0;
            long reported = 0;
            while (!running.isEmpty()) {
                if (tokens - reported >= PROGRESS_TOKENS) {
                    reported = tokens;
                    double seconds = (System.nanoTime() - start) / 1e9;
                    progress.accept(String.format(
                            Locale.ROOT,
                            "sampling: %d tokens, %.0f tokens/s, %d of %d texts running",
                            tokens,
                            tokens / Math.max(seconds, 1e-9),
                            running.size(),
                            n));
                }
                List<Integer> next = new ArrayList<>(running.size());
                List<Session> nextSessions = new ArrayList<>(running.size());
                List<int[]> nextTokens = new ArrayList<>(running.size());
                for (int r = 0; r < running.size(); r++) {
                    int i = running.get(r);
                    int token = samplers[i].next(logits[r]);
                    if (model.tokens().isEndToken(token)) {
                        ended[i] = true;
                    } else {
                        sampled.get(i).add(token);
                        text[i].append(model.tokens().decode(token));
                        tokens++;
                        if (sampled.get(i).size() < options.maxTokens()) {
                            next.add(i);
                            nextSessions.add(sessions.get(i));
                            nextTokens.add(new int[] {token});
                            continue;
                        }
                    }
                    finished++;
                    double seconds = (System.nanoTime() - start) / 1e9;
                    progress.accept(String.format(
                            Locale.ROOT,
                            "sampled %d/%d texts, %d tokens, %.0f tokens/s (%d texts decoded together)",
                            finished,
                            n,
                            tokens,
                            tokens / Math.max(seconds, 1e-9),
                            n));
                }
                running = next;
                if (!running.isEmpty()) logits = model.advance(nextSessions, nextTokens);
            }
            List<SampledText> texts = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                int[] t = sampled.get(i).stream().mapToInt(Integer::intValue).toArray();
                texts.add(new SampledText(t, text[i].toString(), ended[i]));
            }
            return texts;
        } finally {
            for (Session s : sessions) s.close();
        }
    }
}
