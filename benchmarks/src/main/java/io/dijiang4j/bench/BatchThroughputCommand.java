package io.dijiang4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.github.tjake.jlama.safetensors.DType;
import io.dijiang4j.plugin.io.AtomicFiles;
import io.dijiang4j.plugin.profile.Backend;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.tools.synth.SyntheticModels;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code dijiang bench-batch}: {@link BatchThroughputBench} on real and synthetic models; table, JSON and PNG. */
@Command(
        name = "bench-batch",
        mixinStandardHelpOptions = true,
        description = "Aggregate decode tokens/s of 1..N concurrent requests: continuous batching against the"
                + " serialized runtime, side by side in one run.")
public final class BatchThroughputCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Option(names = "--model", description = "A Jlama model directory (repeatable).")
    List<Path> models = new ArrayList<>();

    @Option(names = "--shape", description = "A synthetic model of this shape (repeatable): tiny, small, medium.")
    List<String> shapes = new ArrayList<>();

    @Option(names = "--dtype", defaultValue = "Q4", description = "Weights of a --shape model: F32 or Q4.")
    String dtype;

    @Option(names = "--modes", defaultValue = "hybrid,softmax", split = ",", description = "Modes to measure.")
    List<String> modes;

    @Option(names = "--clients", defaultValue = "1,4,8,16", split = ",", description = "Concurrent requests.")
    List<Integer> clients;

    @Option(names = "--prompt-tokens", defaultValue = "32", description = "Prompt tokens per request.")
    int promptTokens;

    @Option(names = "--new-tokens", defaultValue = "32", description = "Generated tokens per request.")
    int newTokens;

    @Option(names = "--repeats", defaultValue = "3", description = "Repeats (medians are reported).")
    int repeats;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of synthetic weights and prompts.")
    long seed;

    @Option(names = "--json", description = "Write the results as JSON.")
    Path json;

    @Option(names = "--plot", description = "Write a PNG: aggregate tokens/s vs concurrent requests.")
    Path plot;

    @Override
    public Integer call() throws Exception {
        if (models.isEmpty() && shapes.isEmpty())
            throw new IllegalArgumentException("give --model DIR or --shape NAME");
        if (clients.stream().anyMatch(c -> c < 1)) throw new IllegalArgumentException("--clients must be >= 1");
        if (promptTokens < 2 || newTokens < 1 || repeats < 1) {
            throw new IllegalArgumentException("--prompt-tokens >= 2, --new-tokens >= 1 and --repeats >= 1 please");
        }
        List<Mode> modeList = modes.stream().map(Mode::parse).toList();
        for (Path m : models) {
            if (!Files.isRegularFile(m.resolve("config.json"))) {
                throw new IllegalArgumentException("model directory " + m + " has no config.json");
            }
        }
        DType type = SyntheticModels.dtype(dtype);
        var options = new BatchThroughputBench.Options(clients, promptTokens, newTokens, repeats, seed);
        double loadBefore = loadAverage();
        List<BatchThroughputBench.Row> rows = new ArrayList<>();
        for (Path m : models) rows.addAll(measure(m.getFileName().toString(), m, modeList, options));
        for (String name : shapes) {
            SyntheticModels.Shape shape = SyntheticModels.Shape.named(name);
            Path temp = Files.createTempDirectory("dijiang4j-bench-batch-");
            try {
                Path dir = temp.resolve(shape.name());
                System.err.printf(
                        Locale.ROOT, "bench-batch: writing a synthetic %s %s model ...%n", shape.name(), type);
                SyntheticModels.write(shape, dir, type, seed);
                rows.addAll(measure("synthetic " + shape.name() + " " + type, dir, modeList, options));
            } finally {
                AtomicFiles.deleteTree(temp);
            }
        }
        double loadAfter = loadAverage();
        System.out.print(table(rows));
        System.out.printf(
                Locale.ROOT,
                "%d CPUs, load average %.2f before, %.2f after%n",
                Runtime.getRuntime().availableProcessors(),
                loadBefore,
                loadAfter);
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("prompt_tokens", promptTokens);
        meta.put("new_tokens", newTokens);
        meta.put("repeats", repeats);
        meta.put(
                "figure",
                "generated tokens of all clients per wall-clock second, prompts included; medians of"
                        + " repeats that interleave the two runtimes; cpu_speedup: the same tokens per CPU-second"
                        + " of the whole process, batched over serialized (the work saved, less sensitive to other"
                        + " load)");
        meta.put("serialized", "a fair lock and one whole request at a time (the runtime before batching)");
        meta.put("batched", "DiJiangRuntime with Scheduling.maxActive = the most clients measured");
        meta.put("cpus", Runtime.getRuntime().availableProcessors());
        meta.put("load_average_before", loadBefore);
        meta.put("load_average_after", loadAfter);
        meta.put("java", Runtime.version().toString());
        if (json != null) AtomicFiles.write(json, json(rows, meta));
        if (plot != null) BenchReport.writePng(plot, plot(rows));
        return 0;
    }

    private static List<BatchThroughputBench.Row> measure(
            String name, Path dir, List<Mode> modes, BatchThroughputBench.Options options) throws InterruptedException {
        List<BatchThroughputBench.Row> rows = new ArrayList<>();
        for (Mode mode : modes) {
            Profile profile =
                    Profile.defaults(ModelReference.local(dir)).withMode(mode).withBackend(Backend.CPU);
            rows.addAll(BatchThroughputBench.run(name, profile, options, System.err));
        }
        return rows;
    }

    /** The 1-minute load average, or NaN where the platform has none. */
    private static double loadAverage() {
        double load = java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                .getSystemLoadAverage();
        return load < 0 ? Double.NaN : load;
    }

    static String table(List<BatchThroughputBench.Row> rows) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(
                Locale.ROOT,
                "%-22s %-8s %7s %14s %14s %8s %10s %10s %9s %22s%n",
                "model",
                "mode",
                "clients",
                "serial tok/s",
                "batched tok/s",
                "ratio",
                "cpu ratio",
                "rows/pass",
                "in passes",
                "state bytes (depths)"));
        for (BatchThroughputBench.Row r : rows) {
            sb.append(String.format(
                    Locale.ROOT,
                    "%-22s %-8s %7d %14.1f %14.1f %7.2fx %9.2fx %10.2f %8.0f%% %22s%n",
                    r.model(),
                    r.mode(),
                    r.clients(),
                    r.serializedMedian(),
                    r.batchedMedian(),
                    r.speedup(),
                    r.cpuSpeedup(),
                    r.meanBatch(),
                    100 * r.passShare(),
                    r.stateBytes()[0] + " / " + r.stateBytes()[1] + " (" + r.stateDepths()[0] + "/" + r.stateDepths()[1]
                            + ")"));
        }
        return sb.toString();
    }

    static byte[] json(List<BatchThroughputBench.Row> rows, Map<String, Object> meta) throws IOException {
        List<Map<String, Object>> out = new ArrayList<>();
        for (BatchThroughputBench.Row r : rows) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("model", r.model());
            m.put("mode", r.mode());
            m.put("clients", r.clients());
            m.put("serialized_tokens_per_s", r.serializedMedian());
            m.put("batched_tokens_per_s", r.batchedMedian());
            m.put("speedup", r.speedup());
            m.put("cpu_speedup", r.cpuSpeedup());
            m.put("serialized_repeats", r.serialized());
            m.put("batched_repeats", r.batched());
            m.put("serialized_tokens_per_cpu_s_repeats", r.serializedCpu());
            m.put("batched_tokens_per_cpu_s_repeats", r.batchedCpu());
            m.put("mean_rows_per_pass", Double.isNaN(r.meanBatch()) ? null : r.meanBatch());
            m.put("share_of_wall_time_in_passes", r.passShare());
            m.put("state_depths", r.stateDepths());
            m.put("state_bytes", r.stateBytes());
            out.add(m);
        }
        Map<String, Object> all = new LinkedHashMap<>(meta);
        all.put("results", out);
        return JSON.writeValueAsBytes(all);
    }

    /** One panel per model and mode: aggregate tokens/s against clients, serialized and batched. */
    static BufferedImage plot(List<BatchThroughputBench.Row> rows) {
        List<BufferedImage> panels = new ArrayList<>();
        for (String key :
                rows.stream().map(r -> r.model() + ", " + r.mode()).distinct().toList()) {
            List<BatchThroughputBench.Row> rs = rows.stream()
                    .filter(r -> (r.model() + ", " + r.mode()).equals(key))
                    .toList();
            XYChart chart = new XYChartBuilder()
                    .width(560)
                    .height(400)
                    .title(key)
                    .xAxisTitle("concurrent requests")
                    .yAxisTitle("aggregate tokens/s")
                    .build();
            chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNW);
            double[] x =
                    rs.stream().mapToDouble(BatchThroughputBench.Row::clients).toArray();
            XYSeries serial = chart.addSeries(
                    "serialized",
                    x,
                    rs.stream()
                            .mapToDouble(BatchThroughputBench.Row::serializedMedian)
                            .toArray());
            serial.setMarker(SeriesMarkers.CIRCLE);
            XYSeries batched = chart.addSeries(
                    "batched",
                    x,
                    rs.stream()
                            .mapToDouble(BatchThroughputBench.Row::batchedMedian)
                            .toArray());
            batched.setMarker(SeriesMarkers.DIAMOND);
            panels.add(BitmapEncoder.getBufferedImage(chart));
        }
        return BenchReport.tile(panels, 2);
    }
}
