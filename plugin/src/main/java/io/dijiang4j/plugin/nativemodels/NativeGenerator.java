package io.dijiang4j.plugin.nativemodels;

import java.util.Arrays;
import java.util.Random;
import java.util.function.IntConsumer;

/** Prompt prefill (chunked form) then token-by-token decoding (recurrent form) with greedy or sampled tokens. */
public final class NativeGenerator {

    /** What one generation produced, with its timings. */
    public record Result(int[] promptTokens, int[] generated, long prefillNanos, long decodeNanos, long stateSize) {
        public double decodeTokensPerSecond() {
            return generated.length <= 1 ? Double.NaN : (generated.length - 1) * 1e9 / Math.max(1, decodeNanos);
        }
    }

    private NativeGenerator() {}

    /**
     * Generates maxNewTokens tokens after the prompt. temperature 0 is greedy; otherwise softmax sampling with the
     * seed. Each new token id goes to onToken as soon as it exists.
     */
    public static Result generate(
            NativeModel model, int[] prompt, int maxNewTokens, double temperature, long seed, IntConsumer onToken) {
        if (prompt.length == 0) throw new IllegalArgumentException("empty prompt: give at least one token");
        if (maxNewTokens < 0) throw new IllegalArgumentException("max new tokens must be >= 0");
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0");
        }
        NativeSession session = model.newSession();
        Random random = new Random(seed);
        long t0 = System.nanoTime();
        float[] logits = session.prefill(prompt, false)[0];
        long t1 = System.nanoTime();
        int[] out = new int[maxNewTokens];
        for (int i = 0; i < maxNewTokens; i++) {
            int next = pick(logits, temperature, random);
            out[i] = next;
            onToken.accept(next);
            if (i + 1 < maxNewTokens) logits = session.step(next);
        }
        long t2 = System.nanoTime();
        return new Result(Arrays.copyOf(prompt, prompt.length), out, t1 - t0, t2 - t1, session.stateSize());
    }

    static int pick(float[] logits, double temperature, Random random) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        if (temperature == 0) return best;
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp((logits[i] - logits[best]) / temperature);
            sum += p[i];
        }
        double u = random.nextDouble() * sum;
        for (int i = 0; i < p.length; i++) {
            u -= p[i];
            if (u <= 0) return i;
        }
        return best;
    }
}
