package io.dijiang4j.plugin.generation;

import java.util.Arrays;

/**
 * Picks the next token from logits: greedy at temperature 0 (the first maximum, as Jlama does), else softmax at the
 * temperature restricted to the top k and the top-p nucleus. The random stream is SplitMix64 over one long, so that
 * a session can save it in a snapshot ({@link #state()}) and continue exactly; a draw is made only when sampling.
 */
public final class Sampler {
    private final float temperature;
    private final float topP;
    private final int topK;
    private long state;
    private long[] order = new long[0];
    private TokenConstraint constraint;

    /** Sampling with {@code options}' temperature, top-p and top-k, the random stream at {@code state} (a seed). */
    public Sampler(GenerationOptions options, long state) {
        this.temperature = options.temperature();
        this.topP = options.topP();
        this.topK = options.topK();
        this.state = state;
    }

    /** Picks only tokens {@code constraint} allows (constrained decoding); returns this sampler. */
    public Sampler constrainedBy(TokenConstraint constraint) {
        this.constraint = constraint;
        return this;
    }

    /** The random stream's position, to continue it later with {@code new Sampler(options, state())}. */
    public long state() {
        return state;
    }

    public static int argmax(float[] logits) {
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

    /** The next token. */
    public int next(float[] logits) {
        if (constraint == null) return pick(logits);
        float[] masked = logits.clone(); // the session may keep its logits (snapshots)
        constraint.mask(masked);
        int token = pick(masked);
        constraint.accept(token);
        return token;
    }

    private int pick(float[] logits) {
        if (temperature == 0f) return argmax(logits);
        int n = logits.length;
        int[] sorted = byDecreasingLogit(logits);
        int keep = topK > 0 ? Math.min(topK, n) : n;
        double max = logits[sorted[0]];
        double[] p = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            p[i] = Math.exp((logits[sorted[i]] - max) / temperature);
            sum += p[i];
        }
        double cumulative = 0;
        int nucleus = keep;
        for (int i = 0; i < keep; i++) {
            p[i] /= sum;
            cumulative += p[i];
            if (cumulative >= topP) {
                nucleus = i + 1;
                break;
            }
        }
        double mass = 0;
        for (int i = 0; i < nucleus; i++) mass += p[i];
        double u = nextDouble() * mass;
        double acc = 0;
        for (int i = 0; i < nucleus; i++) {
            acc += p[i];
            if (u < acc) return sorted[i];
        }
        return sorted[nucleus - 1];
    }

    /**
     * Token ids by decreasing logit, equal logits by increasing id (as a stable sort would leave them). Sorted as
     * primitive keys (logit order in the high half, the id in the low half): boxing a 32k vocabulary every token
     * costs milliseconds.
     */
    private int[] byDecreasingLogit(float[] logits) {
        int n = logits.length;
        if (order.length != n) order = new long[n];
        for (int i = 0; i < n; i++) {
            int bits = Float.floatToIntBits(logits[i]);
            int ascending = bits ^ ((bits >> 31) & 0x7fffffff); // signed-int order = Float.compare order
            order[i] = ((long) ~ascending << 32) | i; // ~ reverses it: the largest logit first
        }
        Arrays.sort(order);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = (int) order[i];
        return ids;
    }

    private double nextDouble() {
        long z = (state += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z = z ^ (z >>> 31);
        return (z >>> 11) * 0x1.0p-53;
    }
}
