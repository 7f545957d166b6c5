package io.dijiang4j.bench.longctx;

import io.dijiang4j.bench.BenchReport;
import io.dijiang4j.tools.eval.EvalResult;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The long-context evaluation's results: passkey trials and teacher-forced rows as CSV (read back to resume a run),
 * Markdown tables, and the passkey accuracy heat maps (one panel per profile: depth x length). The files themselves
 * are written atomically by the caller ({@code io.AtomicFiles}, {@link BenchReport#writePng}).
 */
public final class LongContextReport {
    private LongContextReport() {}

    /**
     * One passkey trial.
     *
     * @param profile the profile's name
     * @param length the requested prompt length in tokens
     * @param depth where the passkey was hidden, percent of the filler
     * @param trial trial index (the passkey depends on length, depth and trial only, so every profile sees the same)
     * @param passkey the hidden number
     * @param promptTokens the prompt's actual length (BOS included)
     * @param answer the first five-digit number of the reply, -1 when there was none
     * @param correct whether the answer is the passkey
     * @param seconds time of the trial (prefill and the greedy answer)
     */
    public record PasskeyTrial(
            String profile,
            int length,
            int depth,
            int trial,
            int passkey,
            int promptTokens,
            int answer,
            boolean correct,
            double seconds) {
        String key() {
            return profile + "|" + length + "|" + depth + "|" + trial;
        }
    }

    /**
     * One teacher-forced comparison with vanilla on one text of {@code length} tokens.
     *
     * @param profile the profile's name
     * @param corpus which text (e.g. {@code samples}, {@code genesis})
     * @param length tokens of the text, BOS included
     * @param beyondFrom first position of the beyond-window metrics
     * @param all every predicted position
     * @param beyond positions >= beyondFrom
     * @param seconds time of the comparison (both passes)
     */
    public record EvalRow(
            String profile,
            String corpus,
            int length,
            int beyondFrom,
            EvalResult.Metrics all,
            EvalResult.Metrics beyond,
            double seconds,
            EvalResult.Metrics longRange,
            int longRangeSpan) {
        String key() {
            return profile + "|" + corpus + "|" + length;
        }
    }

    static final String PASSKEY_HEADER =
            "profile,length,depth_percent,trial,passkey,prompt_tokens,answer,correct,seconds";
    static final String EVAL_HEADER_BEFORE_LONG_RANGE =
            "profile,corpus,length,beyond_from,perplexity_reference,perplexity,kl_mean,"
                    + "kl_p95,top1_agreement,tokens,perplexity_reference_beyond,perplexity_beyond,kl_mean_beyond,"
                    + "kl_p95_beyond,top1_agreement_beyond,tokens_beyond,seconds";
    /** The header since the long-range slice: {@link #EVAL_HEADER_BEFORE_LONG_RANGE}'s files are still read. */
    static final String EVAL_HEADER =
            EVAL_HEADER_BEFORE_LONG_RANGE + ",long_range_span,perplexity_reference_long_range,"
                    + "perplexity_long_range,kl_mean_long_range,kl_p95_long_range,top1_agreement_long_range,tokens_long_range";

    /** The trials as CSV (a header line, then one line per trial). */
    public static String passkeyCsv(List<PasskeyTrial> trials) {
        StringBuilder s = new StringBuilder(PASSKEY_HEADER).append('\n');
        for (PasskeyTrial t : trials) {
            s.append(String.format(
                    Locale.ROOT,
                    "%s,%d,%d,%d,%d,%d,%d,%b,%.3f%n",
                    name(t.profile()),
                    t.length(),
                    t.depth(),
                    t.trial(),
                    t.passkey(),
                    t.promptTokens(),
                    t.answer(),
                    t.correct(),
                    t.seconds()));
        }
        return s.toString();
    }

    /** Reads {@link #passkeyCsv}'s output back. */
    public static List<PasskeyTrial> readPasskeyCsv(String csv) {
        List<PasskeyTrial> out = new ArrayList<>();
        for (String[] f : rows(csv, PASSKEY_HEADER)) {
            out.add(new PasskeyTrial(
                    f[0],
                    Integer.parseInt(f[1]),
                    Integer.parseInt(f[2]),
                    Integer.parseInt(f[3]),
                    Integer.parseInt(f[4]),
                    Integer.parseInt(f[5]),
                    Integer.parseInt(f[6]),
                    Boolean.parseBoolean(f[7]),
                    Double.parseDouble(f[8])));
        }
        return out;
    }

    /** The teacher-forced rows as CSV. */
    public static String evalCsv(List<EvalRow> rows) {
        StringBuilder s = new StringBuilder(EVAL_HEADER).append('\n');
        for (EvalRow r : rows) {
            s.append(name(r.profile())).append(',').append(name(r.corpus())).append(',');
            s.append(r.length()).append(',').append(r.beyondFrom());
            appendMetrics(s, r.all());
            appendMetrics(s, r.beyond());
            s.append(String.format(Locale.ROOT, ",%.3f,%d", r.seconds(), r.longRangeSpan()));
            appendMetrics(s, r.longRange());
            s.append('\n');
        }
        return s.toString();
    }

    private static void appendMetrics(StringBuilder s, EvalResult.Metrics m) {
        for (double v :
                new double[] {m.perplexityReference(), m.perplexity(), m.klMean(), m.klP95(), m.top1Agreement()}) {
            s.append(',').append(Double.isFinite(v) ? String.format(Locale.ROOT, "%.6g", v) : "");
        }
        s.append(',').append(m.tokens());
    }

    /** Reads {@link #evalCsv}'s output back. */
    public static List<EvalRow> readEvalCsv(String csv) {
        List<EvalRow> out = new ArrayList<>();
        boolean before = csv.startsWith(EVAL_HEADER_BEFORE_LONG_RANGE + "\n");
        EvalResult.Metrics none = new EvalResult.Metrics(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0);
        for (String[] f : rows(csv, before ? EVAL_HEADER_BEFORE_LONG_RANGE : EVAL_HEADER)) {
            out.add(new EvalRow(
                    f[0],
                    f[1],
                    Integer.parseInt(f[2]),
                    Integer.parseInt(f[3]),
                    metrics(f, 4),
                    metrics(f, 10),
                    Double.parseDouble(f[16]),
                    before ? none : metrics(f, 18),
                    before ? 0 : Integer.parseInt(f[17])));
        }
        return out;
    }

    private static EvalResult.Metrics metrics(String[] f, int at) {
        return new EvalResult.Metrics(
                number(f[at]),
                number(f[at + 1]),
                number(f[at + 2]),
                number(f[at + 3]),
                number(f[at + 4]),
                Long.parseLong(f[at + 5]));
    }

    private static double number(String s) {
        return s.isEmpty() ? Double.NaN : Double.parseDouble(s);
    }

    private static List<String[]> rows(String csv, String header) {
        List<String> lines = csv.lines().filter(l -> !l.isBlank()).toList();
        if (lines.isEmpty()) return List.of();
        if (!lines.get(0).equals(header)) {
            throw new IllegalArgumentException("not a results file of this version: header '" + lines.get(0) + "'");
        }
        int columns = header.split(",").length;
        List<String[]> out = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",", -1);
            if (f.length != columns) throw new IllegalArgumentException("bad results line: " + line);
            out.add(f);
        }
        return out;
    }

    private static String name(String s) {
        if (s.contains(",") || s.contains("\n")) throw new IllegalArgumentException("name with a comma: " + s);
        return s;
    }

    /** Correct and total trials of one (profile, length, depth) cell. */
    public record Cell(int correct, int trials) {
        public double accuracy() {
            return trials == 0 ? Double.NaN : (double) correct / trials;
        }
    }

    /** profile -> (length, depth) -> cell, in the order the profiles first appear. */
    public static Map<String, Map<List<Integer>, Cell>> cells(List<PasskeyTrial> trials) {
        Map<String, Map<List<Integer>, Cell>> out = new LinkedHashMap<>();
        for (PasskeyTrial t : trials) {
            out.computeIfAbsent(t.profile(), p -> new LinkedHashMap<>())
                    .merge(
                            List.of(t.length(), t.depth()),
                            new Cell(t.correct() ? 1 : 0, 1),
                            (a, b) -> new Cell(a.correct() + b.correct(), a.trials() + b.trials()));
        }
        return out;
    }

    /**
     * Passkey accuracy as a Markdown table: one row per profile, one column per (length, depth) plus one per length
     * over all depths; each cell "correct/trials".
     */
    public static String passkeyMarkdown(List<PasskeyTrial> trials) {
        Map<String, Map<List<Integer>, Cell>> cells = cells(trials);
        TreeSet<Integer> lengths = new TreeSet<>();
        TreeSet<Integer> depths = new TreeSet<>();
        for (PasskeyTrial t : trials) {
            lengths.add(t.length());
            depths.add(t.depth());
        }
        StringBuilder s = new StringBuilder("| profile |");
        StringBuilder rule = new StringBuilder("|---|");
        for (int length : lengths) {
            for (int depth : depths) {
                s.append(' ').append(length).append(" @").append(depth).append("% |");
                rule.append("---|");
            }
            s.append(" **").append(length).append(" all** |");
            rule.append("---|");
        }
        s.append('\n').append(rule).append('\n');
        for (var e : cells.entrySet()) {
            s.append("| ").append(e.getKey()).append(" |");
            for (int length : lengths) {
                int c = 0;
                int n = 0;
                for (int depth : depths) {
                    Cell cell = e.getValue().get(List.of(length, depth));
                    if (cell == null) {
                        s.append(" - |");
                    } else {
                        s.append(' ')
                                .append(cell.correct())
                                .append('/')
                                .append(cell.trials())
                                .append(" |");
                        c += cell.correct();
                        n += cell.trials();
                    }
                }
                s.append(n == 0 ? " - |" : String.format(Locale.ROOT, " **%.0f%%** (%d/%d) |", 100.0 * c / n, c, n));
            }
            s.append('\n');
        }
        return s.toString();
    }

    /** Teacher-forced rows as a Markdown table, grouped by corpus and length, vanilla's perplexity alongside. */
    public static String evalMarkdown(List<EvalRow> rows) {
        StringBuilder s = new StringBuilder(
                "| corpus | tokens | profile | ppl vanilla | ppl | ppl ratio | KL mean | KL p95 | top-1 |"
                        + " beyond from | ppl ratio beyond | KL mean beyond | top-1 beyond |"
                        + " long range: span | positions | KL mean | top-1 |\n"
                        + "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        List<EvalRow> sorted = new ArrayList<>(rows);
        List<String> corpora = new ArrayList<>(
                new LinkedHashSet<>(rows.stream().map(EvalRow::corpus).toList()));
        List<String> profiles = new ArrayList<>(
                new LinkedHashSet<>(rows.stream().map(EvalRow::profile).toList()));
        sorted.sort((a, b) -> a.corpus().equals(b.corpus())
                ? (a.length() != b.length()
                        ? Integer.compare(a.length(), b.length())
                        : Integer.compare(profiles.indexOf(a.profile()), profiles.indexOf(b.profile())))
                : Integer.compare(corpora.indexOf(a.corpus()), corpora.indexOf(b.corpus())));
        for (EvalRow r : sorted) {
            EvalResult.Metrics a = r.all();
            EvalResult.Metrics b = r.beyond();
            s.append(String.format(
                    Locale.ROOT,
                    "| %s | %d | %s | %.3f | %.3f | x%.3f | %.4f | %.3f | %.3f | %d | x%.3f | %.4f | %.3f | %s |%n",
                    r.corpus(),
                    r.length(),
                    r.profile(),
                    a.perplexityReference(),
                    a.perplexity(),
                    a.perplexityRatio(),
                    a.klMean(),
                    a.klP95(),
                    a.top1Agreement(),
                    r.beyondFrom(),
                    b.perplexityRatio(),
                    b.klMean(),
                    b.top1Agreement(),
                    r.longRange().tokens() == 0 && r.longRangeSpan() == 0
                            ? "- | - | - | -" // measured before the slice was recorded
                            : String.format(
                                    Locale.ROOT,
                                    "%d | %d | %.4f | %.3f",
                                    r.longRangeSpan(),
                                    r.longRange().tokens(),
                                    r.longRange().klMean(),
                                    r.longRange().top1Agreement())));
        }
        return s.toString();
    }

    /**
     * Teacher-forced curves of one corpus, two panels: perplexity ratio to vanilla and mean KL over the long-range
     * slice against the length (log x), one series per profile with at least one row.
     */
    public static BufferedImage evalPlot(List<EvalRow> rows, String corpus) {
        XYChart ratio = evalChart(corpus + ": perplexity / vanilla's", "perplexity ratio");
        XYChart longRange = evalChart(corpus + ": KL over the long-range slice", "KL mean (nats)");
        for (String profile :
                new LinkedHashSet<>(rows.stream().map(EvalRow::profile).toList())) {
            List<EvalRow> rs = rows.stream()
                    .filter(r -> r.profile().equals(profile) && r.corpus().equals(corpus))
                    .sorted((a, b) -> Integer.compare(a.length(), b.length()))
                    .toList();
            if (rs.isEmpty()) continue;
            double[] x = rs.stream().mapToDouble(EvalRow::length).toArray();
            ratio.addSeries(
                            profile,
                            x,
                            rs.stream()
                                    .mapToDouble(r -> r.all().perplexityRatio())
                                    .toArray())
                    .setMarker(SeriesMarkers.CIRCLE);
            List<EvalRow> withSlice =
                    rs.stream().filter(r -> r.longRange().tokens() > 0).toList();
            if (!withSlice.isEmpty()) {
                longRange
                        .addSeries(
                                profile,
                                withSlice.stream().mapToDouble(EvalRow::length).toArray(),
                                withSlice.stream()
                                        .mapToDouble(r -> r.longRange().klMean())
                                        .toArray())
                        .setMarker(SeriesMarkers.CIRCLE);
            }
        }
        return BenchReport.tile(
                List.of(BitmapEncoder.getBufferedImage(ratio), BitmapEncoder.getBufferedImage(longRange)), 2);
    }

    private static XYChart evalChart(String title, String yTitle) {
        XYChart c = new XYChartBuilder()
                .width(640)
                .height(440)
                .title(title)
                .xAxisTitle("tokens")
                .yAxisTitle(yTitle)
                .build();
        c.getStyler().setXAxisLogarithmic(true);
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        return c;
    }

    /**
     * Passkey accuracy heat maps, one panel per profile (x: depth, y: length, value: accuracy in percent, empty
     * cells not drawn), tiled {@code columns} to a row.
     */
    public static BufferedImage heatMaps(List<PasskeyTrial> trials, int columns) {
        Map<String, Map<List<Integer>, Cell>> cells = cells(trials);
        List<Integer> lengths = new ArrayList<>(
                new TreeSet<>(trials.stream().map(PasskeyTrial::length).toList()));
        List<Integer> depths = new ArrayList<>(
                new TreeSet<>(trials.stream().map(PasskeyTrial::depth).toList()));
        List<BufferedImage> panels = new ArrayList<>();
        for (var e : cells.entrySet()) {
            HeatMapChart chart = new HeatMapChartBuilder()
                    .width(420)
                    .height(360)
                    .title("passkey accuracy: " + e.getKey())
                    .xAxisTitle("depth (% of the filler)")
                    .yAxisTitle("prompt tokens")
                    .build();
            chart.getStyler().setShowValue(true);
            chart.getStyler().setMin(0);
            chart.getStyler().setMax(100);
            chart.getStyler().setHeatMapValueDecimalPattern("0");
            chart.getStyler()
                    .setRangeColors(new Color[] {new Color(0xd7191c), new Color(0xfdae61), new Color(0x1a9641)});
            chart.getStyler().setLegendVisible(false);
            List<Number[]> data = new ArrayList<>();
            for (int y = 0; y < lengths.size(); y++) {
                for (int x = 0; x < depths.size(); x++) {
                    Cell cell = e.getValue().get(List.of(lengths.get(y), depths.get(x)));
                    if (cell != null) data.add(new Number[] {x, y, 100.0 * cell.accuracy()});
                }
            }
            chart.addSeries(
                    e.getKey(),
                    depths.stream().map(d -> d + "%").toList(),
                    lengths.stream().map(String::valueOf).toList(),
                    data);
            panels.add(BitmapEncoder.getBufferedImage(chart));
        }
        return BenchReport.tile(panels, columns);
    }
}
