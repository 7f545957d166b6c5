package io.dijiang4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.dijiang4j.plugin.io.AtomicFiles;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** Renders benchmark results: text table, JSON, CSV and a two-panel PNG. Files are written atomically. */
public final class BenchReport {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private BenchReport() {}

    /** A fixed-width table, one row per result. */
    public static String table(List<BenchResult> results) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(
                Locale.ROOT,
                "%-8s %-5s %8s %-9s %12s %7s %11s %10s %8s %9s %12s %12s%n",
                "mode",
                "ops",
                "context",
                "fill",
                "decode tok/s",
                "%floor",
                "ms/token",
                "prefill s",
                "ttft s",
                "prefill GF",
                "memory MiB",
                "state MiB"));
        for (BenchResult r : results) {
            sb.append(String.format(
                    Locale.ROOT,
                    "%-8s %-5s %8d %-9s %12s %7s %11s %10s %8s %9s %12s %12s%s%n",
                    r.mode(),
                    r.tensorOps(),
                    r.context(),
                    r.depthFill(),
                    num(r.decodeTokensPerSecond(), "%.2f"),
                    num(100 * r.decodeTokensPerSecond() / r.floorTokensPerSecond(), "%.0f%%"),
                    num(r.decodeMedianMs(), "%.2f"),
                    num(r.prefillSeconds(), "%.2f"),
                    num(r.ttftSeconds(), "%.2f"),
                    num(r.prefillGflops(), "%.1f"),
                    r.memoryBytes() == 0 ? "-" : String.format(Locale.ROOT, "%.1f", r.memoryBytes() / 1048576.0),
                    r.memoryBytes() == 0 ? "-" : String.format(Locale.ROOT, "%.2f", r.stateBytes() / 1048576.0),
                    r.note().isEmpty() ? "" : "  (" + r.note() + ")"));
        }
        return sb.toString();
    }

    private static String num(double v, String fmt) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, fmt, v);
    }

    /** The JSON document: {@code {"meta": {...}, "results": [{mode, context, decode_tokens_per_s, ...}]}}. */
    public static byte[] json(List<BenchResult> results, Map<String, Object> meta) throws IOException {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (BenchResult r : results) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("mode", r.mode());
            m.put("tensor_ops", r.tensorOps());
            m.put("context", r.context());
            m.put("depth_fill", r.depthFill());
            m.put("decode_tokens_per_s", nullIfNaN(r.decodeTokensPerSecond()));
            m.put("decode_median_ms", nullIfNaN(r.decodeMedianMs()));
            m.put("prefill_s", nullIfNaN(r.prefillSeconds()));
            m.put("ttft_s", nullIfNaN(r.ttftSeconds()));
            m.put("prefill_gflops", nullIfNaN(r.prefillGflops()));
            m.put("floor_tokens_per_s", nullIfNaN(r.floorTokensPerSecond()));
            m.put("memory_bytes", r.memoryBytes());
            m.put("heap_bytes", r.heapBytes());
            m.put("direct_bytes", r.directBytes());
            m.put("mapped_bytes", r.mappedBytes());
            m.put("state_bytes", r.stateBytes());
            m.put("note", r.note());
            rows.add(m);
        }
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("meta", meta);
        doc.put("results", rows);
        return JSON.writeValueAsBytes(doc);
    }

    private static Double nullIfNaN(double v) {
        return Double.isNaN(v) ? null : v;
    }

    public static String csv(List<BenchResult> results) {
        StringBuilder sb = new StringBuilder(
                "mode,tensor_ops,context,depth_fill,decode_tokens_per_s,decode_median_ms,prefill_s,ttft_s,prefill_gflops,"
                        + "floor_tokens_per_s,memory_bytes,heap_bytes,direct_bytes,mapped_bytes,state_bytes,note\n");
        for (BenchResult r : results) {
            sb.append(String.join(
                            ",",
                            r.mode(),
                            r.tensorOps(),
                            Integer.toString(r.context()),
                            r.depthFill(),
                            csvNum(r.decodeTokensPerSecond()),
                            csvNum(r.decodeMedianMs()),
                            csvNum(r.prefillSeconds()),
                            csvNum(r.ttftSeconds()),
                            csvNum(r.prefillGflops()),
                            csvNum(r.floorTokensPerSecond()),
                            Long.toString(r.memoryBytes()),
                            Long.toString(r.heapBytes()),
                            Long.toString(r.directBytes()),
                            Long.toString(r.mappedBytes()),
                            Long.toString(r.stateBytes()),
                            "\"" + r.note().replace("\"", "'") + "\""))
                    .append('\n');
        }
        return sb.toString();
    }

    private static String csvNum(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.6g", v);
    }

    /**
     * Panels side by side: decode tokens/s vs context and memory vs context (log x axes), and time to first token vs
     * prompt length when some depth was prefilled. One series per mode, and per backend of matrix products when the
     * run compared several ({@code hybrid/fast}).
     */
    public static BufferedImage plot(List<BenchResult> results, String title) {
        XYChart speed = chart(title + ": decode speed", "decode tokens/s", true);
        XYChart memory = chart(title + ": memory", "memory (MiB)", false);
        XYChart ttft = chart(title + ": time to first token", "seconds", true);
        boolean severalOps =
                results.stream().map(BenchResult::tensorOps).distinct().count() > 1;
        boolean prefilled = false;
        for (String series :
                results.stream().map(r -> label(r, severalOps)).distinct().toList()) {
            List<BenchResult> prompts = results.stream()
                    .filter(r -> label(r, severalOps).equals(series) && !Double.isNaN(r.ttftSeconds()))
                    .toList();
            if (!prompts.isEmpty()) {
                prefilled = true;
                ttft.addSeries(
                                series,
                                prompts.stream()
                                        .mapToDouble(BenchResult::context)
                                        .toArray(),
                                prompts.stream()
                                        .mapToDouble(BenchResult::ttftSeconds)
                                        .toArray())
                        .setMarker(SeriesMarkers.CIRCLE);
            }
            List<BenchResult> rs = results.stream()
                    .filter(r -> label(r, severalOps).equals(series) && !Double.isNaN(r.decodeTokensPerSecond()))
                    .toList();
            if (rs.isEmpty()) continue;
            String mode = series;
            double[] x = rs.stream().mapToDouble(BenchResult::context).toArray();
            XYSeries s = speed.addSeries(
                    mode,
                    x,
                    rs.stream().mapToDouble(BenchResult::decodeTokensPerSecond).toArray());
            s.setMarker(SeriesMarkers.CIRCLE);
            XYSeries m = memory.addSeries(
                    mode,
                    x,
                    rs.stream().mapToDouble(r -> r.memoryBytes() / 1048576.0).toArray());
            m.setMarker(SeriesMarkers.CIRCLE);
        }
        List<BufferedImage> panels =
                new ArrayList<>(List.of(BitmapEncoder.getBufferedImage(speed), BitmapEncoder.getBufferedImage(memory)));
        if (prefilled) panels.add(BitmapEncoder.getBufferedImage(ttft));
        return tile(panels, panels.size());
    }

    private static String label(BenchResult r, boolean withOps) {
        return withOps ? r.mode() + "/" + r.tensorOps() : r.mode();
    }

    /** Panels in rows of {@code columns}, left to right, top to bottom, each cell as large as the largest panel. */
    public static BufferedImage tile(List<BufferedImage> panels, int columns) {
        if (panels.isEmpty()) throw new IllegalArgumentException("no panels");
        int w = panels.stream().mapToInt(BufferedImage::getWidth).max().orElseThrow();
        int h = panels.stream().mapToInt(BufferedImage::getHeight).max().orElseThrow();
        int cols = Math.min(columns, panels.size());
        int rows = (panels.size() + cols - 1) / cols;
        BufferedImage all = new BufferedImage(cols * w, rows * h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = all.createGraphics();
        g.setColor(java.awt.Color.WHITE);
        g.fillRect(0, 0, all.getWidth(), all.getHeight());
        for (int i = 0; i < panels.size(); i++) g.drawImage(panels.get(i), (i % cols) * w, (i / cols) * h, null);
        g.dispose();
        return all;
    }

    private static XYChart chart(String title, String yTitle, boolean logY) {
        XYChart c = new XYChartBuilder()
                .width(640)
                .height(440)
                .title(title)
                .xAxisTitle("context (tokens)")
                .yAxisTitle(yTitle)
                .build();
        c.getStyler().setXAxisLogarithmic(true);
        c.getStyler().setYAxisLogarithmic(logY);
        c.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNE);
        return c;
    }

    public static void writePng(Path file, BufferedImage image) throws IOException {
        var out = new java.io.ByteArrayOutputStream();
        if (!ImageIO.write(image, "png", out)) throw new IOException("no PNG writer available");
        AtomicFiles.write(file, out.toByteArray());
    }
}
