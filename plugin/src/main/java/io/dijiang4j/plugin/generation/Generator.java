package io.dijiang4j.plugin.generation;

import io.dijiang4j.plugin.generation.GenerationResult.StopReason;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The decode loop of every front end: prefill the prompt, then sample a token, stop (end token, stop sequence, max
 * tokens, context limit) or feed it and sample the next. The text goes to a consumer piece by piece as it is
 * produced (text that could be the start of a stop sequence is held back until it is known not to be).
 */
public final class Generator {
    private Generator() {}

    /** What happens to the last generated token. */
    public enum LastToken {
        /** Fed, so that the sequence holds the whole text and can be continued (a chat session). */
        FED,
        /** Not fed: nothing would read its logits (a request that ends with its answer). */
        NOT_FED
    }

    /** Prefills {@code promptTokens} and generates after them. */
    public static GenerationResult generate(
            StepModel model,
            Vocabulary vocabulary,
            int[] promptTokens,
            GenerationOptions options,
            Sampler sampler,
            LastToken last,
            Consumer<String> onText) {
        long start = System.nanoTime();
        float[] logits = model.prefill(promptTokens);
        long prefillNanos = System.nanoTime() - start;
        return decode(model, vocabulary, logits, options, sampler, last, onText)
                .withPrompt(promptTokens.length, 0, prefillNanos);
    }

    /**
     * Generates from {@code logits}, the model's next-token logits after what it holds (the caller prefilled).
     * The result's prompt counts and prefill time are 0 (see {@link GenerationResult#withPrompt}). An end token is
     * never fed, nor a token at the context limit.
     */
    public static GenerationResult decode(
            StepModel model,
            Vocabulary vocabulary,
            float[] logits,
            GenerationOptions options,
            Sampler sampler,
            LastToken last,
            Consumer<String> onText) {
        long start = System.nanoTime();
        StopSequenceFilter text = new StopSequenceFilter(options.stopSequences(), onText);
        List<Integer> tokens = new ArrayList<>();
        StopReason reason = options.maxTokens() == 0 ? StopReason.MAX_TOKENS : null;
        while (reason == null) {
            int next = sampler.next(logits);
            if (options.stopAtEndToken() && vocabulary.isEndToken(next)) {
                reason = StopReason.END_TOKEN;
                break;
            }
            tokens.add(next);
            if (text.append(vocabulary.decode(next))) reason = StopReason.STOP_SEQUENCE;
            else if (tokens.size() >= options.maxTokens()) reason = StopReason.MAX_TOKENS;
            boolean room = model.position() < model.positionLimit();
            if (reason == null && !room) reason = StopReason.CONTEXT_LIMIT;
            if (reason == null || (last == LastToken.FED && room)) logits = model.step(next);
        }
        text.finish();
        return new GenerationResult(
                tokens, text.text(), reason, 0, 0, model.position(), 0, 0, System.nanoTime() - start);
    }
}
