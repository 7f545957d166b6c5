package io.dijiang4j.plugin.generation;

import java.util.List;

/**
 * What one generation produced and what it cost.
 *
 * @param tokens the generated token ids (the prompt not included; an end token that stopped it not included)
 * @param text their text (special tokens and a stop sequence and what followed it left out)
 * @param stopReason why it stopped
 * @param promptTokens tokens of the prompt (BOS included)
 * @param reusedPromptTokens prompt tokens whose state came from an earlier generation instead of being prefilled
 * @param position the sequence's position afterwards (see {@link Generator.LastToken})
 * @param encodeNanos time to tokenize the prompt text (0 when tokens were given)
 * @param prefillNanos time to restore the reused state and prefill the rest of the prompt
 * @param decodeNanos time of the generation after the prefill
 */
public record GenerationResult(
        List<Integer> tokens,
        String text,
        StopReason stopReason,
        int promptTokens,
        int reusedPromptTokens,
        long position,
        long encodeNanos,
        long prefillNanos,
        long decodeNanos) {

    public enum StopReason {
        /** The model produced an end token. */
        END_TOKEN,
        /** The text reached one of the stop sequences. */
        STOP_SEQUENCE,
        /** The options' max tokens were generated. */
        MAX_TOKENS,
        /** The sequence holds as many positions as the model can attend to. */
        CONTEXT_LIMIT
    }

    public GenerationResult {
        tokens = List.copyOf(tokens);
    }

    /** Tokens the model produced: the generated ones and the end token that stopped it, if one did. */
    public int generatedTokens() {
        return tokens.size() + (stopReason == StopReason.END_TOKEN ? 1 : 0);
    }

    /** Prompt tokens that went through the model in this generation. */
    public int prefilledTokens() {
        return promptTokens - reusedPromptTokens;
    }

    /** Decode speed after the first token (which the prefill produced); NaN below two tokens. */
    public double decodeTokensPerSecond() {
        int n = generatedTokens();
        return n <= 1 ? Double.NaN : (n - 1) * 1e9 / Math.max(1, decodeNanos);
    }

    public GenerationResult withEncodeNanos(long nanos) {
        return new GenerationResult(
                tokens, text, stopReason, promptTokens, reusedPromptTokens, position, nanos, prefillNanos, decodeNanos);
    }

    public GenerationResult withPrompt(int promptTokenCount, int reused, long prefill) {
        return new GenerationResult(
                tokens, text, stopReason, promptTokenCount, reused, position, encodeNanos, prefill, decodeNanos);
    }
}
