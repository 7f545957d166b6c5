package io.dijiang4j.bench;

import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;
import io.dijiang4j.adapters.DiJiangChatModel;
import io.dijiang4j.plugin.generation.GenerationResult;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * How much faster the second turn of a long conversation is with prefix reuse than without (the whole history
 * prefilled again). Not a test: run by hand (see the README, "LangChain4j").
 *
 * <p>Arguments: profile file (default: configs/hybrid.yaml of the working directory), sentences of history
 * (default 120, about 2000 tokens), repetitions (default 5).
 */
public final class PrefixReuseBenchmark {
    public static void main(String[] args) throws Exception {
        Path profile = Path.of(args.length > 0 ? args[0] : "configs/hybrid.yaml");
        int sentences = args.length > 1 ? Integer.parseInt(args[1]) : 120;
        int repetitions = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        String story = LongHistory.story(sentences);
        try (DiJiangChatModel reusing = model(profile, 4);
                DiJiangChatModel fresh = model(profile, 0)) {
            double[] withReuse = new double[repetitions];
            double[] without = new double[repetitions];
            double[] firstTurn = new double[repetitions];
            double[] modelWithReuse = new double[repetitions];
            double[] modelWithout = new double[repetitions];
            double[] encode = new double[repetitions];
            GenerationResult reused = null;
            GenerationResult full = null;
            for (int r = 0; r < repetitions; r++) {
                reusing.runtime().clearConversationCache();
                String question = "The dog " + (char) ('a' + r);
                long t0 = System.nanoTime();
                String answer =
                        reusing.chat(UserMessage.from(story)).aiMessage().text();
                firstTurn[r] = (System.nanoTime() - t0) / 1e6;
                List<ChatMessage> second = LongHistory.secondTurn(story, answer, question);
                long t1 = System.nanoTime();
                reusing.chat(second);
                withReuse[r] = (System.nanoTime() - t1) / 1e6;
                reused = reusing.runtime().lastResult();
                modelWithReuse[r] = (reused.prefillNanos() + reused.decodeNanos()) / 1e6;
                encode[r] = reused.encodeNanos() / 1e6;
                long t2 = System.nanoTime();
                fresh.chat(second);
                without[r] = (System.nanoTime() - t2) / 1e6;
                full = fresh.runtime().lastResult();
                modelWithout[r] = (full.prefillNanos() + full.decodeNanos()) / 1e6;
            }
            System.out.printf(
                    Locale.ROOT,
                    "profile %s, history %d prompt tokens, 16 output tokens, median of %d%n",
                    profile.getFileName(),
                    full.promptTokens(),
                    repetitions);
            System.out.printf(Locale.ROOT, "first turn (cold): %.1f ms%n", median(firstTurn));
            System.out.printf(
                    Locale.ROOT,
                    "second turn, prefix reuse: %.1f ms (prefilled %d tokens, restored %d; state saved: %d bytes)%n",
                    median(withReuse),
                    reused.prefilledTokens(),
                    reused.reusedPromptTokens(),
                    reusing.runtime().cachedStateBytes());
            System.out.printf(
                    Locale.ROOT,
                    "second turn, no reuse:     %.1f ms (prefilled %d tokens)%n",
                    median(without),
                    full.prefilledTokens());
            System.out.printf(Locale.ROOT, "speed-up: %.1fx%n", median(without) / median(withReuse));
            System.out.printf(
                    Locale.ROOT,
                    "of which prompt tokenization (whole prompt text, both cases): %.1f ms%n",
                    median(encode));
            System.out.printf(
                    Locale.ROOT,
                    "model time only (restore + prefill + 16 decode steps): %.1f ms with reuse, %.1f ms without,"
                            + " %.1fx%n",
                    median(modelWithReuse),
                    median(modelWithout),
                    median(modelWithout) / median(modelWithReuse));
        }
    }

    private static DiJiangChatModel model(Path profile, int checkpoints) {
        return DiJiangChatModel.builder()
                .profile(profile)
                .temperature(0.0)
                .maxOutputTokens(16)
                .conversationCheckpoints(checkpoints)
                .build();
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
