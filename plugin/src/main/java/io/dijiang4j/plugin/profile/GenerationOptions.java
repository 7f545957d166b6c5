package io.dijiang4j.plugin.profile;

/**
 * Sampling parameters of one generation.
 *
 * @param maxTokens tokens to generate at most (the prompt not counted)
 * @param temperature 0 = greedy (argmax, first index on ties)
 * @param topP nucleus mass in (0, 1]; 1 = off
 * @param topK keep the k most likely tokens; 0 = off
 * @param seed sampling seed; null = continue the session's random stream (set once from the profile seed)
 * @param stopAtEos stop at an end-of-sequence token
 */
public record GenerationOptions(int maxTokens, float temperature, float topP, int topK, Long seed, boolean stopAtEos) {
    public GenerationOptions {
        if (maxTokens < 0) throw new IllegalArgumentException("max tokens must be >= 0: " + maxTokens);
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0: " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1]: " + topP);
        if (topK < 0) throw new IllegalArgumentException("top_k must be >= 0: " + topK);
    }

    public static GenerationOptions defaults() {
        return new GenerationOptions(256, 0.8f, 0.95f, 40, null, true);
    }

    public static GenerationOptions greedy(int maxTokens) {
        return new GenerationOptions(maxTokens, 0f, 1f, 0, null, true);
    }

    public GenerationOptions withMaxTokens(int n) {
        return new GenerationOptions(n, temperature, topP, topK, seed, stopAtEos);
    }

    public GenerationOptions withTemperature(float t) {
        return new GenerationOptions(maxTokens, t, topP, topK, seed, stopAtEos);
    }

    public GenerationOptions withSeed(Long s) {
        return new GenerationOptions(maxTokens, temperature, topP, topK, s, stopAtEos);
    }

    public GenerationOptions withStopAtEos(boolean stop) {
        return new GenerationOptions(maxTokens, temperature, topP, topK, seed, stop);
    }
}
