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
import java.util.Collections;
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
 *
 * <p>Besides every position and the positions beyond the exact budget, it measures the {@link LongRangeSlice}:
 * positions whose next token appeared earlier only outside the plan's exact span. With several {@link Variant}s (the
 * {@link #ablation} of a hybrid plan: window only, + exact cache, + memory) every variant runs on the same reference
 * logits and the same positions; the last one is the configuration the result's top-level metrics describe.
 */
public final class Evaluator {
    /** Reference logits kept in memory at once, in floats (the candidate pass runs once per batch of windows). */
    static final long REFERENCE_LOGITS_BUDGET = 1L << 26;

    private final DiJiangModel reference;
    private final Profile profile;
    private int beyondFrom; // AUTO_BEYOND until the first candidate is installed
    private final List<Variant> variants;
    private Integer longRangeSpan; // null: the plan's exact span
    private LongRangeSlice slice; // null until the primary variant is installed

    /**
     * One attention to evaluate: {@code install} puts it into the reference's Jlama model (the returned handle is
     * closed, uninstalling it, after each candidate pass).
     *
     * @param name the variant's key in the JSON and the table
     * @param description one line for people
     */
    public record Variant(String name, String description, Function<AbstractModel, DiJiangModel> install) {}

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
        this(reference, profile, beyondFrom, List.of(new Variant("full", "the profile as configured", candidate)));
    }

    /**
     * Evaluates several attentions on the same positions (one reference pass); the last of {@code variants} is the
     * primary one: the result's top-level metrics, the exact span (beyond-window and long-range positions) and, with
     * more than one variant, {@link EvalResult#ablation()} lists them all, in order.
     */
    public Evaluator(DiJiangModel reference, Profile profile, int beyondFrom, List<Variant> variants) {
        if (!reference.installation().kernelizedLayers().isEmpty()) {
            throw new IllegalArgumentException("the reference model must run Jlama's softmax attention on every layer");
        }
        if (beyondFrom < 0 && beyondFrom != AUTO_BEYOND) {
            throw new IllegalArgumentException("beyond-from must be >= 0, got " + beyondFrom);
        }
        if (variants.isEmpty()) throw new IllegalArgumentException("nothing to evaluate: no variant");
        this.reference = reference;
        this.profile = profile;
        this.beyondFrom = beyondFrom;
        this.variants = List.copyOf(variants);
    }

    /**
     * The ablation of a hybrid plan (eval --ablate), each variant the profile's per-layer plan (sidecar or keys) with
     * parts switched off: {@code window} = sinks + window only (exact cache 0, memory gain 0), {@code window+cache} =
     * + the exact cache (memory gain 0), {@code full} = + the memory, the profile as configured. The full plan runs
     * first; a variant whose layers equal one run before it (no cache in the plan, or no memory) is not run again:
     * it gets that one's metrics and names it in {@code same_as}.
     */
    public static List<Variant> ablation(Profile profile) {
        if (profile.mode() != Mode.HYBRID) {
            throw new IllegalArgumentException("the ablation switches off parts of a hybrid plan (window, exact cache,"
                    + " memory); mode " + profile.mode().key() + " has none of them");
        }
        return List.of(
                new Variant(
                        "window",
                        "sinks + window (exact cache and memory off)",
                        jlama -> DiJiang.install(
                                jlama, profile, spec -> windowOnly(spec, jlama.getConfig().numberOfHeads))),
                new Variant(
                        "window+cache",
                        "+ exact cache (memory off)",
                        jlama -> DiJiang.install(
                                jlama, profile, spec -> withoutMemory(spec, jlama.getConfig().numberOfHeads))),
                new Variant("full", "+ memory (the profile as configured)", jlama -> DiJiang.install(jlama, profile)));
    }

    /** A hybrid layer's spec with every head's memory off (gain 0): what the memory evicts is dropped. */
    static AttentionSpec withoutMemory(AttentionSpec spec, int heads) {
        if (spec.method() != AttentionSpec.Method.HYBRID) return spec;
        return spec.withMemoryGain(new double[heads]);
    }

    /** A hybrid layer's spec with its exact cache and its memory off: sinks and window alone. */
    static AttentionSpec windowOnly(AttentionSpec spec, int heads) {
        if (spec.method() != AttentionSpec.Method.HYBRID) return spec;
        return withoutMemory(spec.withExactCache(0, spec.cachePolicy()), heads);
    }

    /**
     * Sets the long-range slice's span E instead of the plan's exact span (to compare plans on the same positions);
     * its sinks stay the plan's.
     */
    public Evaluator longRangeSpan(int span) {
        if (span < 0) throw new IllegalArgumentException("long-range span must be >= 0, got " + span);
        this.longRangeSpan = span;
        return this;
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
        return evaluate(profile, beyondFrom, null, false, texts, progress);
    }

    /**
     * As {@link #evaluate(Profile, int, List, Consumer)}; {@code longRangeSpan} overrides the long-range slice's span
     * (null: the plan's), {@code ablate} evaluates the {@link #ablation} variants too.
     */
    public static EvalResult evaluate(
            Profile profile,
            int beyondFrom,
            Integer longRangeSpan,
            boolean ablate,
            List<String> texts,
            Consumer<String> progress) {
        List<Variant> variants = ablate ? ablation(profile) : null; // refused before the model loads
        try (DiJiangModel vanilla = DiJiang.load(profile.withMode(Mode.SOFTMAX), progress)) {
            Evaluator evaluator = variants != null
                    ? new Evaluator(vanilla, profile, beyondFrom, variants)
                    : new Evaluator(vanilla, profile, beyondFrom);
            if (longRangeSpan != null) evaluator.longRangeSpan(longRangeSpan);
            return evaluator.evaluateTexts(texts, progress);
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
        return evaluateTokens(sequences, null, progress);
    }

    /**
     * As {@link #evaluateTokens(List, Consumer)} against reference logits already computed (the calibration's
     * recording pass): {@code referenceLogits.get(i)[t]} are the reference's logits at position t of sequence i; no
     * reference pass runs. Each sequence must fit one evaluation window; null computes the reference logits.
     */
    public EvalResult evaluateTokens(
            List<int[]> sequences, List<float[][]> referenceLogits, Consumer<String> progress) {
        List<int[]> windows = windows(sequences, windowLength());
        if (referenceLogits != null) {
            if (windows.size() != sequences.size() || referenceLogits.size() != sequences.size()) {
                throw new IllegalArgumentException("reference logits need one sequence per evaluation window and one"
                        + " logits array per sequence");
            }
            for (int i = 0; i < sequences.size(); i++) {
                if (referenceLogits.get(i).length != sequences.get(i).length) {
                    throw new IllegalArgumentException("sequence " + i + " has " + sequences.get(i).length
                            + " positions but " + referenceLogits.get(i).length + " rows of reference logits");
                }
            }
        }
        int n = variants.size(), primary = n - 1;
        Accumulator[] all = new Accumulator[n], beyond = new Accumulator[n], longRange = new Accumulator[n];
        for (int v = 0; v < n; v++) {
            all[v] = new Accumulator();
            beyond[v] = new Accumulator();
            longRange[v] = new Accumulator();
        }
        // the primary variant first: its installation resolves the exact span the others are measured on
        List<Integer> order = new ArrayList<>();
        order.add(primary);
        for (int v = 0; v < primary; v++) order.add(v);
        List<List<AttentionSpec>> layerSpecs = new ArrayList<>(Collections.nCopies(n, null));
        int[] sameAs = new int[n];
        Arrays.fill(sameAs, -1);
        int vocabulary = reference.vocabularySize();
        long start = System.nanoTime();
        long fed = 0;
        for (int first = 0; first < windows.size(); ) {
            int end = first;
            long floats = 0;
            do {
                floats += (long) windows.get(end).length * vocabulary;
                end++;
            } while (end < windows.size()
                    && floats + (long) windows.get(end).length * vocabulary <= REFERENCE_LOGITS_BUDGET);
            List<float[][]> referenceBatch = new ArrayList<>(end - first);
            for (int w = first; w < end; w++) {
                if (referenceLogits != null) {
                    referenceBatch.add(referenceLogits.get(w));
                    continue;
                }
                try (Session s = reference.newSession()) {
                    referenceBatch.add(s.appendAll(windows.get(w)));
                }
                fed += windows.get(w).length;
            }
            List<boolean[]> selected = null;
            for (int v : order) {
                if (sameAs[v] >= 0) continue;
                try (DiJiangModel mode = variants.get(v).install().apply(reference.jlama())) {
                    if (v == primary && slice == null) {
                        if (beyondFrom == AUTO_BEYOND) beyondFrom = exactSpan(mode.installation(), profile);
                        LongRangeSlice plan = longRangeSlice(mode.installation(), profile);
                        slice = longRangeSpan == null ? plan : new LongRangeSlice(plan.sinks(), longRangeSpan);
                    }
                    if (layerSpecs.get(v) == null) {
                        layerSpecs.set(v, specs(mode.installation()));
                        for (int u : order) {
                            if (u == v) break;
                            if (sameAs[u] < 0 && layerSpecs.get(v).equals(layerSpecs.get(u))) sameAs[v] = u;
                        }
                        if (sameAs[v] >= 0) continue;
                    }
                    if (selected == null) {
                        selected = new ArrayList<>(end - first);
                        for (int w = first; w < end; w++) selected.add(slice.select(windows.get(w)));
                    }
                    for (int w = first; w < end; w++) {
                        int[] tokens = windows.get(w);
                        float[][] modeLogits;
                        try (Session s = mode.newSession()) {
                            modeLogits = s.appendAll(tokens);
                        }
                        fed += tokens.length;
                        float[][] ref = referenceBatch.get(w - first);
                        boolean[] inSlice = selected.get(w - first);
                        for (int t = 0; t + 1 < tokens.length; t++) {
                            compare(
                                    ref[t],
                                    modeLogits[t],
                                    tokens[t + 1],
                                    all[v],
                                    t >= beyondFrom ? beyond[v] : null,
                                    inSlice[t] ? longRange[v] : null);
                        }
                        double seconds = (System.nanoTime() - start) / 1e9;
                        progress.accept(String.format(
                                Locale.ROOT,
                                "evaluated %d/%d windows%s, %d positions, %.0f tokens/s (both modes)",
                                w + 1,
                                windows.size(),
                                n > 1 ? " (" + variants.get(v).name() + ")" : "",
                                all[v].count,
                                fed / Math.max(seconds, 1e-9)));
                    }
                }
            }
            first = end;
        }
        String file =
                profile.source().file() == null ? null : profile.source().file().toString();
        if (beyondFrom == AUTO_BEYOND) beyondFrom = defaultBeyondFrom(profile); // nothing was evaluated
        if (slice == null) {
            int span = longRangeSpan != null ? longRangeSpan : defaultBeyondFrom(profile);
            slice = new LongRangeSlice(profile.mode() == Mode.DIJIANG ? 0 : Math.min(profile.sinks(), span), span);
        }
        List<EvalResult.VariantResult> ablation = new ArrayList<>();
        if (n > 1) {
            for (int v = 0; v < n; v++) {
                int source = sameAs[v] >= 0 ? sameAs[v] : v;
                ablation.add(new EvalResult.VariantResult(
                        variants.get(v).name(),
                        variants.get(v).description(),
                        sameAs[v] >= 0 ? variants.get(sameAs[v]).name() : null,
                        all[source].metrics(),
                        beyond[source].metrics(),
                        longRange[source].metrics()));
            }
        }
        return new EvalResult(
                profile.mode().key(),
                file,
                sequences.size(),
                beyondFrom,
                slice,
                all[primary].metrics(),
                beyond[primary].metrics(),
                longRange[primary].metrics(),
                ablation);
    }

    /** The spec of every layer, null where Jlama's softmax attention runs. */
    private static List<AttentionSpec> specs(Installation installation) {
        List<AttentionSpec> specs = new ArrayList<>();
        for (int l = 0; l < installation.numberOfLayers(); l++) {
            specs.add(installation.spec(l).orElse(null));
        }
        return specs;
    }

    /**
     * The long-range slice of an installed plan: span = {@link #exactSpan}, sinks = the largest sinks over the hybrid
     * layers (0 when every layer is pure dijiang; the profile's sinks in mode softmax).
     */
    public static LongRangeSlice longRangeSlice(Installation installation, Profile profile) {
        int span = exactSpan(installation, profile);
        List<KernelizedAttention> layers = installation.kernelizedLayers();
        if (layers.isEmpty()) return new LongRangeSlice(Math.min(profile.sinks(), span), span);
        int sinks = 0;
        for (KernelizedAttention layer : layers) {
            AttentionSpec spec = layer.kernel().spec();
            if (spec.method() == AttentionSpec.Method.HYBRID) sinks = Math.max(sinks, spec.sinks());
        }
        return new LongRangeSlice(sinks, span);
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

    /**
     * Adds one predicted position to the accumulators (null ones are skipped): the reference's and the mode's logits
     * there, and the token that follows.
     */
    public static void compare(
            float[] reference, float[] mode, int next, Accumulator all, Accumulator beyond, Accumulator longRange) {
        compare(reference, mode, next, Arrays.asList(all, beyond, longRange));
    }

    /**
     * {@link #compare(float[], float[], int, Accumulator, Accumulator, Accumulator)} into any number of accumulators
     * (null ones skipped): the two log-softmaxes and the KL over the vocabulary are computed once, however many sets
     * the position belongs to (a long-context pass adds each position to every length that contains it).
     */
    public static void compare(float[] reference, float[] mode, int next, List<Accumulator> into) {
        double[] logP = logSoftmax(reference);
        double[] logQ = logSoftmax(mode);
        double kl = klDivergence(logP, logQ);
        boolean agree = argmax(reference) == argmax(mode);
        for (Accumulator a : into) if (a != null) a.add(-logP[next], -logQ[next], kl, agree);
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
    public static final class Accumulator {
        double nllReference;
        double nllMode;
        double[] kl = new double[1024];
        int count;
        long agreements;

        private void add(double referenceNll, double modeNll, double klValue, boolean agree) {
            nllReference += referenceNll;
            nllMode += modeNll;
            if (count == kl.length) kl = Arrays.copyOf(kl, 2 * count);
            kl[count++] = klValue;
            if (agree) agreements++;
        }

        public EvalResult.Metrics metrics() {
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
