package io.dijiang4j.plugin;

import io.dijiang4j.plugin.profile.GenerationOptions;
import java.util.Arrays;

/**
 * Picks the next token from logits: greedy at temperature 0 (the first maximum, as Jlama does), else softmax at
 * the temperature restricted to the top k and the top-p nucleus. The random stream is SplitMix64 over one long, so
 * a session can save it in a snapshot and continue exactly.
 */
final class Sampler {
    private Sampler() {}

    static int argmax(float[] logits) {
        int best = 0;
        double bestValue = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < logits.length; i++) {
            if (logits[i] > bestValue) {
                bestValue = logits[i];
                best = i;
            }
        }
        return best;
    }

    /** Next token; {@code rng[0]} is the random state, advanced when a draw is made. */
    static int sample(float[] logits, GenerationOptions o, long[] rng) {
        if (o.temperature() == 0f) return argmax(logits);
        int n = logits.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
        int keep = o.topK() > 0 ? Math.min(o.topK(), n) : n;
        double max = logits[order[0]];
        double[] p = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            p[i] = Math.exp((logits[order[i]] - max) / o.temperature());
            sum += p[i];
        }
        double cumulative = 0;
        int nucleus = keep;
        for (int i = 0; i < keep; i++) {
            p[i] /= sum;
            cumulative += p[i];
            if (cumulative >= o.topP()) {
                nucleus = i + 1;
                break;
            }
        }
        double mass = 0;
        for (int i = 0; i < nucleus; i++) mass += p[i];
        double u = nextDouble(rng) * mass;
        double acc = 0;
        for (int i = 0; i < nucleus; i++) {
            acc += p[i];
            if (u < acc) return order[i];
        }
        return order[nucleus - 1];
    }

    static double nextDouble(long[] state) {
        long z = (state[0] += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z = z ^ (z >>> 31);
        return (z >>> 11) * 0x1.0p-53;
    }
}
