package io.dijiang4j.tools.eval;

import com.github.tjake.jlama.model.AbstractModel;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.jlama.KernelizedAttention;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Installation;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.Profile;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Teacher-forced comparison of a profile's attention with vanilla Jlama on the same weights. Each text is fed as
 * BOS + its tokens (as {@code generate} encodes a prompt); the logits at position t predict token t+1. Reference
 * logits come from Jlama's softmax attention, candidate logits from the profile's mode installed into the same model
 * (one load; the mode is installed after the reference pass and uninstalled after the candidate pass).
 *
 * <p>A sequence longer than the positions softmax can hold ({@link DiJiangModel#maxPositions()}, a little under the
 * context length) is evaluated in consecutive windows of that many positions, each in fresh sessions; consecutive
 * windows share one token so that every token after BOS is predicted exactly once. Positions, also for the
 * beyond-window metrics, count from the start of the window.
 */
public final class Evaluator {
    /** Reference logits kept in memory at once, in floats (the candidate pass runs once per batch of windows). */
    static final long REFERENCE_LOGITS_BUDGET = 1L << 26;

    private final DiJiangModel reference;
    private final Profile profile;
    private int beyondFrom; // AUTO_BEYOND until the first candidate is installed
    private final Function<AbstractModel, DiJiangModel> candidate;

    /**
     * Beyond-window metrics from where every installed layer's exact tokens end ({@link #exactSpan}); resolved when
     * the candidate is installed, since a calibration sidecar sets sinks, window and cache per layer.
     */
    public static final int AUTO_BEYOND = -1;

    /** Compares {@code profile}'s mode with {@code reference}; beyond-window metrics from {@link #exactSpan}. */
    public Evaluator(DiJiangModel reference, Profile profile) {
        this(reference, profile, AUTO_BEYOND);
    }

    /** As {@link #Evaluator(DiJiangModel, Profile)} with the beyond-window metrics over positions >= beyondFrom. */
    public Evaluator(DiJiangModel reference, Profile profile, int beyondFrom) {
        this(reference, profile, beyondFrom, jlama -> DiJiang.install(jlama, profile));
    }

    /**
     * The general form.
     *
     * @param reference the model with Jlama's softmax attention on every layer (not closed here)
     * @param profile names the mode and profile in the result
     * @param beyondFrom first position counted in the beyond-window metrics (>= 0)
     * @param candidate installs the attention to evaluate into the reference's Jlama model; the returned handle is
     *     closed (which uninstalls it) after each candidate pass
     */
    public Evaluator(
            DiJiangModel reference, Profile profile, int beyondFrom, Function<AbstractModel, DiJiangModel> candidate) {
        if (!reference.installation().kernelizedLayers().isEmpty()) {
            throw new IllegalArgumentException("the reference model must run Jlama's softmax attention on every layer");
        }
        if (beyondFrom < 0 && beyondFrom != AUTO_BEYOND) {
            throw new IllegalArgumentException("beyond-from must be >= 0, got " + beyondFrom);
        }
        this.reference = reference;
        this.profile = profile;
        this.beyondFrom = beyondFrom;
        this.candidate = candidate;
    }

    /**
     * Where the exact budget ends: sinks + window (hybrid and softmax: the hybrid's budget), 0 for pure dijiang
     * (nothing is exact).
     */
    public static int defaultBeyondFrom(Profile profile) {
        return profile.mode() == Mode.DIJIANG ? 0 : profile.sinks() + profile.window();
    }

    /**
     * Where the exact tokens of every installed layer end: the largest sinks + window + exact cache over the hybrid
     * layers (a calibrated profile sets them per layer), 0 when all are pure dijiang, and {@link
     * #defaultBeyondFrom} when no layer is kernelized (mode softmax).
     */
    public static int exactSpan(Installation installation, Profile profile) {
        List<KernelizedAttention> layers = installation.kernelizedLayers();
        if (layers.isEmpty()) return defaultBeyondFrom(profile);
        int span = 0;
        for (KernelizedAttention layer : layers) {
            AttentionSpec spec = layer.kernel().spec();
            if (spec.method() == AttentionSpec.Method.HYBRID) {
                span = Math.max(span, spec.sinks() + spec.window() + spec.exactCache());
            }
        }
        return span;
    }

    /** Loads the profile's model once, evaluates {@code texts} and closes the model. */
    public static EvalResult evaluate(Profile profile, int beyondFrom, List<String> texts, Consumer<String> progress) {
        try (DiJiangModel vanilla = DiJiang.load(profile.withMode(Mode.SOFTMAX), progress)) {
            return new Evaluator(vanilla, profile, beyondFrom).evaluateTexts(texts, progress);
        }
    }

    /** The first beyond-window position ({@link #AUTO_BEYOND} until the first evaluation resolves it). */
    public int beyondFrom() {
        return beyondFrom;
    }

    /** Positions per evaluation window: what softmax attention can hold in this model. */
    public int windowLength() {
        return (int) Math.min(reference.maxPositions(), Integer.MAX_VALUE);
    }

    /** Encodes each text as BOS + its tokens and evaluates them. */
    public EvalResult evaluateTexts(List<String> texts, Consumer<String> progress) {
        List<int[]> sequences = new ArrayList<>(texts.size());
        for (String text : texts) sequences.add(reference.encode(text, true));
        return evaluateTokens(sequences, progress);
    }

    /** Evaluates token sequences as given (no BOS added). */
    public EvalResult evaluateTokens(List<int[]> sequences, Consumer<String> progress) {
        return evaluateAll(List.of(this), sequences, progress).get(0);
    }

    /**
     * Evaluates several candidates on the same token sequences with one reference pass per window (the reference
     * logits of a batch of windows are compared with each candidate in turn). Every evaluator must have the same
     * reference model.
     */
    public static List<EvalResult> evaluateAll(
            List<Evaluator> evaluators, List<int[]> sequences, Consumer<String> progress) {
        if (evaluators.isEmpty()) return List.of();
        DiJiangModel reference = evaluators.get(0).reference;
        for (Evaluator e : evaluators) {
            if (e.reference != reference) throw new IllegalArgumentException("evaluators of different references");
        }
        List<int[]> windows = windows(sequences, evaluators.get(0).windowLength());
        int n = evaluators.size();
        Accumulator[] all = new Accumulator[n];
        Accumulator[] beyond = new Accumulator[n];
        for (int i = 0; i < n; i++) {
            all[i] = new Accumulator();
            beyond[i] = new Accumulator();
        }
        int vocabulary = reference.vocabularySize();
        long start = System.nanoTime();
        long fed = 0;
        int done = 0;
        for (int first = 0; first < windows.size(); ) {
            int end = first;
            long floats = 0;
            do {
                floats += (long) windows.get(end).length * vocabulary;
                end++;
            } while (end < windows.size()
                    && floats + (long) windows.get(end).length * vocabulary <= REFERENCE_LOGITS_BUDGET);
            List<float[][]> referenceLogits = new ArrayList<>(end - first);
            for (int w = first; w < end; w++) {
                try (Session s = reference.newSession()) {
                    referenceLogits.add(s.appendAll(windows.get(w)));
                }
                fed += windows.get(w).length;
            }
            for (int i = 0; i < n; i++) {
                Evaluator e = evaluators.get(i);
                try (DiJiangModel mode = e.candidate.apply(reference.jlama())) {
                    if (e.beyondFrom == AUTO_BEYOND) e.beyondFrom = exactSpan(mode.installation(), e.profile);
                    for (int w = first; w < end; w++) {
                        int[] tokens = windows.get(w);
                        float[][] modeLogits;
                        try (Session s = mode.newSession()) {
                            modeLogits = s.appendAll(tokens);
                        }
                        fed += tokens.length;
                        float[][] ref = referenceLogits.get(w - first);
                        for (int t = 0; t + 1 < tokens.length; t++) {
                            compare(ref[t], modeLogits[t], tokens[t + 1], all[i], t >= e.beyondFrom ? beyond[i] : null);
                        }
                        done++;
                        double seconds = (System.nanoTime() - start) / 1e9;
                        progress.accept(String.format(
                                Locale.ROOT,
                                "evaluated %d/%d windows, %d positions, %.0f tokens/s (both modes)",
                                done,
                                windows.size() * n,
                                all[i].count,
                                fed / Math.max(seconds, 1e-9)));
                    }
                }
            }
            first = end;
        }
        List<EvalResult> results = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            Evaluator e = evaluators.get(i);
            String file = e.profile.source().file() == null
                    ? null
                    : e.profile.source().file().toString();
            if (e.beyondFrom == AUTO_BEYOND) e.beyondFrom = defaultBeyondFrom(e.profile); // nothing was evaluated
            results.add(new EvalResult(
                    e.profile.mode().key(),
                    file,
                    sequences.size(),
                    e.beyondFrom,
                    all[i].metrics(),
                    beyond[i].metrics()));
        }
        return results;
    }

    /**
     * Cuts each sequence into windows of at most {@code length} tokens, consecutive windows sharing one token, so
     * that every token but the first of a sequence is predicted once. Sequences of fewer than 2 tokens predict
     * nothing and are left out.
     */
    static List<int[]> windows(List<int[]> sequences, int length) {
        if (length < 2) throw new IllegalArgumentException("windows need at least 2 positions, got " + length);
        List<int[]> windows = new ArrayList<>();
        for (int[] tokens : sequences) {
            if (tokens.length < 2) continue;
            for (int start = 0; ; start += length - 1) {
                int end = Math.min(tokens.length, start + length);
                windows.add(Arrays.copyOfRange(tokens, start, end));
                if (end == tokens.length) break;
            }
        }
        return windows;
    }

    private static void compare(float[] reference, float[] mode, int next, Accumulator all, Accumulator beyond) {
        double[] logP = logSoftmax(reference);
        double[] logQ = logSoftmax(mode);
        double kl = klDivergence(logP, logQ);
        boolean agree = argmax(reference) == argmax(mode);
        all.add(-logP[next], -logQ[next], kl, agree);
        if (beyond != null) beyond.add(-logP[next], -logQ[next], kl, agree);
    }

    /** log softmax in double, stabilized by the maximum; non-finite logits are refused. */
    public static double[] logSoftmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            if (!Float.isFinite(v)) throw new IllegalStateException("non-finite logit " + v);
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : logits) sum += Math.exp(v - max);
        double logZ = max + Math.log(sum);
        double[] out = new double[logits.length];
        for (int i = 0; i < logits.length; i++) out[i] = logits[i] - logZ;
        return out;
    }

    /** KL(p || q) in nats from log-probabilities; rounding can make it a hair negative, so it is clamped at 0. */
    public static double klDivergence(double[] logP, double[] logQ) {
        double kl = 0;
        for (int i = 0; i < logP.length; i++) kl += Math.exp(logP[i]) * (logP[i] - logQ[i]);
        return Math.max(0, kl);
    }

    /** The first index of the maximum (as Jlama's greedy sampling picks). */
    static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    /** 95th percentile by nearest rank: the smallest value with at least 95% of the values at or below it. */
    static double percentile95(double[] values, int n) {
        if (n == 0) return Double.NaN;
        double[] sorted = Arrays.copyOf(values, n);
        Arrays.sort(sorted);
        int rank = (int) Math.ceil(0.95 * n);
        return sorted[Math.max(rank, 1) - 1];
    }

    /** Running sums over a set of predicted positions. */
    private static final class Accumulator {
        double nllReference;
        double nllMode;
        double[] kl = new double[1024];
        int count;
        long agreements;

        void add(double referenceNll, double modeNll, double klValue, boolean agree) {
            nllReference += referenceNll;
            nllMode += modeNll;
            if (count == kl.length) kl = Arrays.copyOf(kl, 2 * count);
            kl[count++] = klValue;
            if (agree) agreements++;
        }

        EvalResult.Metrics metrics() {
            if (count == 0)
                return new EvalResult.Metrics(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0);
            double klSum = 0;
            for (int i = 0; i < count; i++) klSum += kl[i];
            return new EvalResult.Metrics(
                    Math.exp(nllReference / count),
                    Math.exp(nllMode / count),
                    klSum / count,
                    percentile95(kl, count),
                    (double) agreements / count,
                    count);
        }
    }
}
