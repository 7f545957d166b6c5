package io.dijiang4j.tools.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dijiang4j.plugin.io.AtomicFiles;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * What {@link Evaluator} measured: the profile's mode against vanilla softmax on the same model, teacher-forced,
 * over every predicted position, over the positions beyond the exact budget only, and over the {@link
 * LongRangeSlice}; with an ablation, the same for each variant of the plan.
 *
 * @param mode the mode evaluated (softmax, dijiang, hybrid)
 * @param profile the profile file, or null when the profile was built in code
 * @param texts number of texts evaluated
 * @param beyondFrom first position (within a session) counted in {@code beyondWindow}
 * @param slice the long-range slice's sinks and span
 * @param all every predicted position
 * @param beyondWindow predicted positions {@code t >= beyondFrom} (the logits at position t predict token t+1)
 * @param longRange predicted positions of {@code slice}
 * @param ablation one entry per variant (window, window+cache, full), or empty when not ablated
 */
public record EvalResult(
        String mode,
        String profile,
        int texts,
        int beyondFrom,
        LongRangeSlice slice,
        Metrics all,
        Metrics beyondWindow,
        Metrics longRange,
        List<VariantResult> ablation) {
    /**
     * The JSON keys of {@link Metrics}, in order; the beyond-window ones carry {@value #BEYOND_SUFFIX}, the
     * long-range ones {@value #LONG_RANGE_SUFFIX}.
     */
    public static final List<String> METRIC_KEYS =
            List.of("perplexity_reference", "perplexity", "kl_mean", "kl_p95", "top1_agreement", "tokens");

    public static final String BEYOND_SUFFIX = "_beyond_window";
    public static final String LONG_RANGE_SUFFIX = "_long_range";

    public EvalResult {
        ablation = List.copyOf(ablation);
    }

    /**
     * One variant of an ablation, measured on the same positions as the others.
     *
     * @param name window, window+cache or full
     * @param description one line for people
     * @param sameAs the earlier variant whose layers it equals (its metrics are that one's), or null
     */
    public record VariantResult(
            String name, String description, String sameAs, Metrics all, Metrics beyondWindow, Metrics longRange) {
        ObjectNode toJson(ObjectMapper mapper) {
            ObjectNode json = mapper.createObjectNode();
            json.put("variant", name);
            json.put("description", description);
            if (sameAs != null) json.put("same_as", sameAs);
            all.put(json, "");
            beyondWindow.put(json, BEYOND_SUFFIX);
            longRange.put(json, LONG_RANGE_SUFFIX);
            return json;
        }
    }

    /**
     * Metrics over a set of predicted positions. With no positions ({@code tokens == 0}) every value is NaN (null in
     * JSON).
     *
     * @param perplexityReference exp of the mean next-token negative log-likelihood under vanilla softmax
     * @param perplexity the same under the mode
     * @param klMean mean KL(vanilla || mode) of the next-token distributions, nats
     * @param klP95 95th percentile (nearest rank) of that KL
     * @param top1Agreement fraction of positions where both argmaxes are the same token
     * @param tokens number of positions
     */
    public record Metrics(
            double perplexityReference,
            double perplexity,
            double klMean,
            double klP95,
            double top1Agreement,
            long tokens) {
        /** perplexity / perplexityReference. */
        public double perplexityRatio() {
            return perplexity / perplexityReference;
        }

        void put(ObjectNode json, String suffix) {
            putNumber(json, "perplexity_reference" + suffix, perplexityReference);
            putNumber(json, "perplexity" + suffix, perplexity);
            putNumber(json, "kl_mean" + suffix, klMean);
            putNumber(json, "kl_p95" + suffix, klP95);
            putNumber(json, "top1_agreement" + suffix, top1Agreement);
            json.put("tokens" + suffix, tokens);
        }

        private static void putNumber(ObjectNode json, String key, double value) {
            if (Double.isFinite(value)) json.put(key, value);
            else json.putNull(key); // no positions: JSON has no NaN
        }
    }

    /**
     * The result as a JSON object: keys in {@link #METRIC_KEYS}, the same with {@value #BEYOND_SUFFIX} and {@value
     * #LONG_RANGE_SUFFIX}, {@code mode}, {@code profile}, {@code texts}, {@code beyond_from}, {@code
     * long_range_sinks}, {@code long_range_span}, and, when ablated, {@code ablation}: one object per variant
     * ({@code variant}, {@code description}, {@code same_as} where it applies, and the metric keys).
     */
    public ObjectNode toJson() {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode json = mapper.createObjectNode();
        json.put("mode", mode);
        json.put("profile", profile);
        json.put("texts", texts);
        json.put("beyond_from", beyondFrom);
        json.put("long_range_sinks", slice.sinks());
        json.put("long_range_span", slice.span());
        all.put(json, "");
        beyondWindow.put(json, BEYOND_SUFFIX);
        longRange.put(json, LONG_RANGE_SUFFIX);
        if (!ablation.isEmpty()) {
            ArrayNode rows = json.putArray("ablation");
            for (VariantResult v : ablation) rows.add(v.toJson(mapper));
        }
        return json;
    }

    /** Writes {@link #toJson()} to {@code file} atomically (a temporary file, then a rename). */
    public void writeJson(Path file) {
        String text;
        try {
            text = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(toJson());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        AtomicFiles.writeString(file, text + "\n");
    }

    /**
     * A small table: metric, vanilla, mode; first over every position, then beyond the window, then the long-range
     * slice; with an ablation, then one line per variant.
     */
    public String table() {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "%-22s %12s %12s%n", "metric", "vanilla", mode));
        rows(s, all);
        s.append(String.format(Locale.ROOT, "positions >= %d (beyond the window):%n", beyondFrom));
        rows(s, beyondWindow);
        s.append(String.format(
                Locale.ROOT,
                "long range (next token seen before only more than %d positions back, not in the first %d):%n",
                slice.span(),
                slice.sinks()));
        rows(s, longRange);
        if (!ablation.isEmpty()) {
            s.append(String.format(
                    Locale.ROOT,
                    "ablation (same plan; beyond = positions >= %d, long = the long-range slice, %d positions):%n",
                    beyondFrom,
                    longRange.tokens()));
            s.append(String.format(
                    Locale.ROOT,
                    "%-13s %9s %9s %11s %11s %9s %9s %9s  %s%n",
                    "variant",
                    "ppl ratio",
                    "kl_mean",
                    "ppl beyond",
                    "kl beyond",
                    "top1 bey.",
                    "kl long",
                    "top1 long",
                    "what"));
            for (VariantResult v : ablation) {
                s.append(String.format(
                        Locale.ROOT,
                        "%-13s %9.4f %9.5f %11.4f %11.5f %9.4f %9.5f %9.4f  %s%s%n",
                        v.name(),
                        v.all().perplexityRatio(),
                        v.all().klMean(),
                        v.beyondWindow().perplexityRatio(),
                        v.beyondWindow().klMean(),
                        v.beyondWindow().top1Agreement(),
                        v.longRange().klMean(),
                        v.longRange().top1Agreement(),
                        v.description(),
                        v.sameAs() == null ? "" : " (the same layers as " + v.sameAs() + ")"));
            }
        }
        return s.toString();
    }

    private static void rows(StringBuilder s, Metrics m) {
        row(s, "perplexity", m.perplexityReference(), m.perplexity(), "%12.4f");
        row(s, "perplexity ratio", 1.0, m.perplexityRatio(), "%12.4f");
        row(s, "kl_mean (nats)", 0.0, m.klMean(), "%12.5f");
        row(s, "kl_p95 (nats)", 0.0, m.klP95(), "%12.5f");
        row(s, "top1_agreement", 1.0, m.top1Agreement(), "%12.4f");
        s.append(String.format(Locale.ROOT, "%-22s %12d %12d%n", "tokens", m.tokens(), m.tokens()));
    }

    private static void row(StringBuilder s, String name, double vanilla, double mode, String format) {
        s.append(String.format(Locale.ROOT, "%-22s " + format + " " + format + "%n", name, vanilla, mode));
    }
}
