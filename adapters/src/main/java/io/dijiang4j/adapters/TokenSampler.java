package io.dijiang4j.adapters;

import java.util.Arrays;
import java.util.Random;

/** Picks the next token from logits: greedy at temperature 0, else softmax sampling with top-k and top-p. */
final class TokenSampler {
    private final double temperature;
    private final Integer topK;
    private final Double topP;
    private final Random random;
    private double[] probabilities = new double[0];
    private Integer[] order = new Integer[0];

    TokenSampler(GenerationOptions options, Random random) {
        this.temperature = options.temperature();
        this.topK = options.topK();
        this.topP = options.topP();
        this.random = random;
    }

    int sample(float[] logits) {
        int best = argmax(logits);
        if (temperature == 0 || (topK != null && topK == 1)) {
            return best;
        }
        int vocabulary = logits.length;
        if (probabilities.length != vocabulary) {
            probabilities = new double[vocabulary];
        }
        // shifted by the maximum so that exp never overflows
        double max = logits[best];
        double sum = 0;
        for (int i = 0; i < vocabulary; i++) {
            double p = Math.exp((logits[i] - max) / temperature);
            probabilities[i] = p;
            sum += p;
        }
        boolean truncate = topK != null && topK < vocabulary || topP != null && topP < 1;
        if (!truncate) {
            return draw(sum, vocabulary, null);
        }
        if (order.length != vocabulary) {
            order = new Integer[vocabulary];
        }
        for (int i = 0; i < vocabulary; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(probabilities[b], probabilities[a]));
        int keep = topK == null ? vocabulary : Math.min(topK, vocabulary);
        if (topP != null && topP < 1) {
            double cumulative = 0;
            for (int i = 0; i < keep; i++) {
                cumulative += probabilities[order[i]] / sum;
                if (cumulative >= topP) {
                    keep = i + 1;
                    break;
                }
            }
        }
        double keptSum = 0;
        for (int i = 0; i < keep; i++) {
            keptSum += probabilities[order[i]];
        }
        return draw(keptSum, keep, order);
    }

    private int draw(double total, int count, Integer[] indices) {
        double target = random.nextDouble() * total;
        double cumulative = 0;
        for (int i = 0; i < count; i++) {
            int token = indices == null ? i : indices[i];
            cumulative += probabilities[token];
            if (cumulative > target) {
                return token;
            }
        }
        return indices == null ? count - 1 : indices[count - 1];
    }

    /** The first index of the largest logit (ties go to the lower index, as in Jlama). */
    static int argmax(float[] logits) {
        int best = 0;
        float bestValue = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < logits.length; i++) {
            if (logits[i] > bestValue) {
                bestValue = logits[i];
                best = i;
            }
        }
        return best;
    }
}
