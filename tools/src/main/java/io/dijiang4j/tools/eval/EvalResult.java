package io.dijiang4j.tools.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dijiang4j.plugin.io.AtomicFiles;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What {@link Evaluator} measured: the profile's mode against vanilla softmax on the same model, teacher-forced,
 * over every predicted position and over the positions beyond the exact budget only.
 *
 * @param mode the mode evaluated (softmax, dijiang, hybrid)
 * @param profile the profile file, or null when the profile was built in code
 * @param texts number of texts evaluated
 * @param beyondFrom first position (within a session) counted in {@code beyondWindow}
 * @param all every predicted position
 * @param beyondWindow predicted positions {@code t >= beyondFrom} (the logits at position t predict token t+1)
 */
public record EvalResult(String mode, String profile, int texts, int beyondFrom, Metrics all, Metrics beyondWindow) {
    /** The JSON keys of {@link Metrics}, in order; the beyond-window ones carry {@value #BEYOND_SUFFIX}. */
    public static final java.util.List<String> METRIC_KEYS =
            java.util.List.of("perplexity_reference", "perplexity", "kl_mean", "kl_p95", "top1_agreement", "tokens");

    public static final String BEYOND_SUFFIX = "_beyond_window";

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

    /** The result as a JSON object (keys in {@link #METRIC_KEYS}, the same with {@value #BEYOND_SUFFIX}, and more). */
    public ObjectNode toJson() {
        ObjectNode json = new ObjectMapper().createObjectNode();
        json.put("mode", mode);
        json.put("profile", profile);
        json.put("texts", texts);
        json.put("beyond_from", beyondFrom);
        all.put(json, "");
        beyondWindow.put(json, BEYOND_SUFFIX);
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

    /** A small table: metric, vanilla, mode; first over every position, then beyond the window. */
    public String table() {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "%-22s %12s %12s%n", "metric", "vanilla", mode));
        rows(s, all);
        s.append(String.format(Locale.ROOT, "positions >= %d (beyond the window):%n", beyondFrom));
        rows(s, beyondWindow);
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
