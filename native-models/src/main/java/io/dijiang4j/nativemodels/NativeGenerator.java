package io.dijiang4j.nativemodels;

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
        return generate(model, prompt, maxNewTokens, temperature, 0, 1.0, seed, onToken);
    }

    /** As above, sampling among the topK most likely tokens (0 = all) within nucleus mass topP (1 = all). */
    public static Result generate(
            NativeModel model,
            int[] prompt,
            int maxNewTokens,
            double temperature,
            int topK,
            double topP,
            long seed,
            IntConsumer onToken) {
        if (topK < 0) throw new IllegalArgumentException("top-k must be >= 0");
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in (0, 1]");
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
            int next = pick(logits, temperature, topK, topP, random);
            out[i] = next;
            onToken.accept(next);
            if (i + 1 < maxNewTokens) logits = session.step(next);
        }
        long t2 = System.nanoTime();
        return new Result(Arrays.copyOf(prompt, prompt.length), out, t1 - t0, t2 - t1, session.stateSize());
    }

    static int pick(float[] logits, double temperature, int topK, double topP, Random random) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        if (temperature == 0) return best;
        Integer[] order = new Integer[logits.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
        int keep = topK > 0 ? Math.min(topK, order.length) : order.length;
        double[] p = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            p[i] = Math.exp((logits[order[i]] - logits[best]) / temperature);
            sum += p[i];
        }
        // nucleus: the smallest prefix of the sorted tokens whose mass reaches topP
        double mass = 0;
        int cut = keep;
        for (int i = 0; i < keep; i++) {
            mass += p[i] / sum;
            if (mass >= topP) {
                cut = i + 1;
                break;
            }
        }
        double total = 0;
        for (int i = 0; i < cut; i++) total += p[i];
        double u = random.nextDouble() * total;
        for (int i = 0; i < cut; i++) {
            u -= p[i];
            if (u <= 0) return order[i];
        }
        return order[cut - 1];
    }
}
