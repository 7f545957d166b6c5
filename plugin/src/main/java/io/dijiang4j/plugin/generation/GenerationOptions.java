package io.dijiang4j.plugin.generation;

import java.util.List;

/**
 * Sampling and stopping settings of one generation, for every front end (the CLI, the LangChain4j adapters, the
 * native models). The defaults ({@link #defaults()}) are those of a profile without generation keys.
 *
 * @param maxTokens tokens to generate at most (the prompt not counted)
 * @param temperature 0 = greedy (argmax, the first index on ties, as Jlama picks it)
 * @param topP nucleus mass in (0, 1]; 1 = off
 * @param topK keep the k most likely tokens; 0 = off
 * @param seed sampling seed; null = continue the session's random stream (a {@link
 *     io.dijiang4j.plugin.Session} starts it from the profile's seed; the LangChain4j models draw a fresh one per
 *     request)
 * @param stopAtEndToken stop at an end token of the model (it is not part of the text)
 * @param stopSequences the text ends before the first occurrence of any of them (not part of the text)
 */
public record GenerationOptions(
        int maxTokens,
        float temperature,
        float topP,
        int topK,
        Long seed,
        boolean stopAtEndToken,
        List<String> stopSequences) {

    /** The one default temperature (CLI, profiles and LangChain4j models alike); 0 would be greedy. */
    public static final float DEFAULT_TEMPERATURE = 0.8f;

    public static final int DEFAULT_MAX_TOKENS = 256;
    public static final float DEFAULT_TOP_P = 0.95f;
    public static final int DEFAULT_TOP_K = 40;

    public GenerationOptions {
        if (maxTokens < 0) throw new IllegalArgumentException("max tokens must be >= 0, got " + maxTokens);
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        if (topK < 0) throw new IllegalArgumentException("top_k must be >= 0 (0 = off), got " + topK);
        stopSequences = stopSequences == null ? List.of() : List.copyOf(stopSequences);
        for (String stop : stopSequences) {
            if (stop.isEmpty()) throw new IllegalArgumentException("stop sequences must not be empty strings");
        }
    }

    /** Without stop sequences. */
    public GenerationOptions(
            int maxTokens, float temperature, float topP, int topK, Long seed, boolean stopAtEndToken) {
        this(maxTokens, temperature, topP, topK, seed, stopAtEndToken, List.of());
    }

    public static GenerationOptions defaults() {
        return new GenerationOptions(
                DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE, DEFAULT_TOP_P, DEFAULT_TOP_K, null, true, List.of());
    }

    public static GenerationOptions greedy(int maxTokens) {
        return new GenerationOptions(maxTokens, 0f, 1f, 0, null, true, List.of());
    }

    public GenerationOptions withMaxTokens(int n) {
        return new GenerationOptions(n, temperature, topP, topK, seed, stopAtEndToken, stopSequences);
    }

    public GenerationOptions withTemperature(float t) {
        return new GenerationOptions(maxTokens, t, topP, topK, seed, stopAtEndToken, stopSequences);
    }

    public GenerationOptions withTopP(float p) {
        return new GenerationOptions(maxTokens, temperature, p, topK, seed, stopAtEndToken, stopSequences);
    }

    public GenerationOptions withTopK(int k) {
        return new GenerationOptions(maxTokens, temperature, topP, k, seed, stopAtEndToken, stopSequences);
    }

    public GenerationOptions withSeed(Long s) {
        return new GenerationOptions(maxTokens, temperature, topP, topK, s, stopAtEndToken, stopSequences);
    }

    public GenerationOptions withStopAtEndToken(boolean stop) {
        return new GenerationOptions(maxTokens, temperature, topP, topK, seed, stop, stopSequences);
    }

    public GenerationOptions withStopSequences(List<String> stops) {
        return new GenerationOptions(maxTokens, temperature, topP, topK, seed, stopAtEndToken, stops);
    }
}
