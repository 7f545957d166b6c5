package io.dijiang4j.adapters;

import java.util.List;

/**
 * Sampling and stopping settings of one generation.
 *
 * @param temperature 0 for greedy decoding (the first most likely token, as Jlama picks it)
 * @param topK keep only the k most likely tokens, null for all
 * @param topP keep the smallest set of most likely tokens whose probability reaches p, null for all
 * @param maxOutputTokens the most tokens to generate, null for no limit but the model's context
 * @param stopSequences generation ends before the first occurrence of any of them; they are not part of the text
 * @param seed random seed for sampling, null for a fresh random one per request
 */
public record GenerationOptions(
        double temperature, Integer topK, Double topP, Integer maxOutputTokens, List<String> stopSequences, Long seed) {

    public GenerationOptions {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (topK != null && topK < 1) {
            throw new IllegalArgumentException("topK must be >= 1, got " + topK);
        }
        if (topP != null && !(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        }
        if (maxOutputTokens != null && maxOutputTokens < 1) {
            throw new IllegalArgumentException("maxOutputTokens must be >= 1, got " + maxOutputTokens);
        }
        stopSequences = stopSequences == null ? List.of() : List.copyOf(stopSequences);
        for (String stop : stopSequences) {
            if (stop.isEmpty()) {
                throw new IllegalArgumentException("stop sequences must not be empty strings");
            }
        }
    }

    /** Greedy decoding with no limit but the context. */
    public static GenerationOptions greedy() {
        return new GenerationOptions(0, null, null, null, List.of(), null);
    }
}
