package io.dijiang4j.adapters;

import dev.langchain4j.model.output.FinishReason;

/**
 * What one generation produced and what it cost.
 *
 * @param text the generated text (stop sequence and end-of-sequence token excluded)
 * @param finishReason STOP (end-of-sequence or stop sequence) or LENGTH (maxOutputTokens or the context limit)
 * @param promptTokens tokens of the prompt
 * @param reusedPromptTokens prompt tokens whose state came from an earlier turn instead of being prefilled
 * @param generatedTokens tokens sampled (end-of-sequence included, as the model produced it)
 * @param prefillNanos time to restore the reused state and prefill the rest of the prompt
 * @param decodeNanos time of the generation after the prefill
 * @param encodeNanos time to tokenize the prompt text (0 when tokens were given)
 */
public record GenerationResult(
        String text,
        FinishReason finishReason,
        int promptTokens,
        int reusedPromptTokens,
        int generatedTokens,
        long prefillNanos,
        long decodeNanos,
        long encodeNanos) {

    GenerationResult withEncodeNanos(long nanos) {
        return new GenerationResult(
                text,
                finishReason,
                promptTokens,
                reusedPromptTokens,
                generatedTokens,
                prefillNanos,
                decodeNanos,
                nanos);
    }

    /** Prompt tokens that went through the model in this request. */
    public int prefilledTokens() {
        return promptTokens - reusedPromptTokens;
    }
}
