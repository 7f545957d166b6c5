package io.dijiang4j.plugin.generation;

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
    /** Tokens by decreasing logit, as far as top-k and the nucleus took them. */
    private int[] ids = new int[0];
    /** Unnormalized probabilities, by token id. */
    private double[] weights = new double[0];

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
        int keep = topK > 0 ? Math.min(topK, n) : n;
        double max = logits[argmax(logits)];
        if (ids.length < n) {
            ids = new int[n];
            weights = new double[n];
        }
        if (keep == n && topP >= 1f) return drawInIdOrder(logits, max);
        // top-k and the nucleus need the tokens by decreasing logit, but only as many as they keep: a heap gives
        // them one at a time (sorting the whole vocabulary took 1.5 ms a token at 32k, 2.7 ms at 49k)
        long[] heap = decreasingLogitHeap(logits);
        double sum = 0;
        int taken = 0;
        if (keep < n) {
            for (; taken < keep; taken++) {
                int id = ids[taken] = (int) pop(heap, n - taken);
                sum += weights[id] = weight(logits[id], max);
            }
        } else {
            for (int i = 0; i < n; i++) sum += weights[i] = weight(logits[i], max);
        }
        // the nucleus: the first tokens whose probabilities (within those kept) reach top-p
        int nucleus = 0;
        double cumulative = 0;
        while (nucleus < keep) {
            if (nucleus == taken) ids[taken++] = (int) pop(heap, n - nucleus);
            cumulative += weights[ids[nucleus++]] / sum;
            if (cumulative >= topP) break;
        }
        double mass = 0;
        for (int i = 0; i < nucleus; i++) mass += weights[ids[i]];
        double u = nextDouble() * mass;
        double acc = 0;
        for (int i = 0; i < nucleus; i++) {
            acc += weights[ids[i]];
            if (u < acc) return ids[i];
        }
        return ids[nucleus - 1];
    }

    /** exp((logit - max) / temperature): the token's unnormalized probability, at most 1. */
    private double weight(float logit, double max) {
        return Math.exp((logit - max) / temperature);
    }

    /**
     * Temperature sampling over the whole vocabulary (no top-k, top-p 1): the inverse of the distribution walked in
     * id order, which draws each token with the same probability as walking it by decreasing logit, without sorting.
     */
    private int drawInIdOrder(float[] logits, double max) {
        int n = logits.length;
        double sum = 0;
        for (int i = 0; i < n; i++) sum += weights[i] = weight(logits[i], max);
        double u = nextDouble() * sum;
        double acc = 0;
        int last = 0;
        for (int i = 0; i < n; i++) {
            if (weights[i] == 0) continue;
            acc += weights[i];
            last = i;
            if (u < acc) return i;
        }
        return last;
    }

    /**
     * The vocabulary as a min-heap of keys that order tokens by decreasing logit, equal logits by increasing id (as a
     * stable sort would leave them): logit order in the high half of a long, the id in the low half.
     */
    private long[] decreasingLogitHeap(float[] logits) {
        int n = logits.length;
        if (order.length != n) order = new long[n];
        for (int i = 0; i < n; i++) {
            int bits = Float.floatToIntBits(logits[i]);
            int ascending = bits ^ ((bits >> 31) & 0x7fffffff); // signed-int order = Float.compare order
            order[i] = ((long) ~ascending << 32) | i; // ~ reverses it: the largest logit first
        }
        for (int i = n / 2 - 1; i >= 0; i--) siftDown(order, i, n);
        return order;
    }

    /** Removes and returns the smallest key of the heap's first {@code size} entries. */
    private static long pop(long[] heap, int size) {
        long top = heap[0];
        heap[0] = heap[size - 1];
        siftDown(heap, 0, size - 1);
        return top;
    }

    private static void siftDown(long[] heap, int i, int size) {
        long key = heap[i];
        while (true) {
            int child = 2 * i + 1;
            if (child >= size) break;
            if (child + 1 < size && heap[child + 1] < heap[child]) child++;
            if (heap[child] >= key) break;
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = key;
    }

    private double nextDouble() {
        long z = (state += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z = z ^ (z >>> 31);
        return (z >>> 11) * 0x1.0p-53;
    }
}
