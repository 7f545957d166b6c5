package io.dijiang4j.bench.serve;

import com.github.tjake.jlama.safetensors.DType;
import io.dijiang4j.adapters.Scheduling;
import io.dijiang4j.bench.BenchReport;
import io.dijiang4j.plugin.io.AtomicFiles;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.tools.synth.SyntheticModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code dijiang bench-serve}: concurrent chat clients against {@code dijiang serve} ({@link ServeBench}), per mode
 * and client count: aggregate generated tokens/s, p50/p95 time to first token and time per output token, saved state
 * bytes per conversation and server heap. Table on stdout, JSON and PNG on request.
 */
@Command(
        name = "bench-serve",
        mixinStandardHelpOptions = true,
        description =
                "Serving benchmark: 1..N concurrent chat clients with long histories against the OpenAI-compatible"
                        + " server, per mode (aggregate tokens/s, p50/p95 TTFT and time per output token, memory).")
public final class ServeBenchCommand implements Callable<Integer> {
    @Option(names = "--model", description = "A model directory (default: the bundled stories260K).")
    Path model;

    @Option(names = "--shape", description = "Use a synthetic model of this shape instead (tiny, small, medium).")
    String shape;

    @Option(
            names = "--dtype",
            defaultValue = "F32",
            description = "Weights of a --shape model: F32 or Q4 (default ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--modes", defaultValue = "hybrid,softmax", split = ",", description = "Modes to compare.")
    List<String> modes;

    @Option(
            names = "--scheduling",
            defaultValue = "batched",
            split = ",",
            description =
                    "batched (the runtime's continuous batching) and/or serial (one request at a time), side by side.")
    List<String> schedulings;

    @Option(
            names = "--decoding-prefill",
            split = ",",
            description =
                    "Prompt tokens per forward pass beside decode rows (batched scheduling; several: side by side;"
                            + " default: the runtime's).")
    List<Integer> decodingPrefills;

    @Option(names = "--clients", defaultValue = "1,4,8,16", split = ",", description = "Concurrent clients per level.")
    List<Integer> clients;

    @Option(
            names = "--history-tokens",
            defaultValue = "2000",
            description = "Prompt tokens of each conversation's history (capped to what a softmax model attends to).")
    int historyTokens;

    @Option(names = "--turns", defaultValue = "2", description = "Timed follow-up turns per client and level.")
    int turns;

    @Option(names = "--max-tokens", defaultValue = "16", description = "max_tokens of each timed turn.")
    int maxTokens;

    @Option(
            names = "--state-bytes",
            defaultValue = "2147483648",
            description = "Bytes of saved states the server keeps (least recently used go first).")
    long stateBytes;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the synthetic model and of the sampling.")
    long seed;

    @Option(names = "--json", description = "Write the results as JSON.")
    Path json;

    @Option(names = "--plot", description = "Write a PNG: aggregate tokens/s and p95 TTFT vs clients.")
    Path plot;

    @Override
    public Integer call() throws Exception {
        if (model != null && shape != null) throw new IllegalArgumentException("give --model or --shape, not both");
        if (turns < 1 || maxTokens < 1 || historyTokens < 16) {
            throw new IllegalArgumentException("--turns and --max-tokens must be >= 1, --history-tokens >= 16");
        }
        for (int c : clients) if (c < 1) throw new IllegalArgumentException("--clients must be >= 1, got " + c);
        if (decodingPrefills == null) decodingPrefills = List.of(Scheduling.DEFAULT.decodingPrefill());
        for (int p : decodingPrefills) {
            if (p < 1) throw new IllegalArgumentException("--decoding-prefill must be >= 1, got " + p);
        }
        Path synthetic = null;
        Path dir;
        String name;
        if (shape != null) {
            SyntheticModels.Shape s = SyntheticModels.Shape.named(shape);
            synthetic = Files.createTempDirectory("dijiang4j-bench-serve-");
            dir = synthetic.resolve(s.name());
            System.err.printf(Locale.ROOT, "bench-serve: writing a synthetic %s model ...%n", s.name());
            DType type = SyntheticModels.dtype(dtype);
            SyntheticModels.write(s, dir, type, seed);
            name = "synthetic " + s.name() + " " + type;
        } else {
            dir = model != null
                    ? model
                    : Path.of(System.getProperty("dijiang.home", ".")).resolve("models/stories260K");
            if (!Files.isDirectory(dir))
                throw new IllegalArgumentException("model directory " + dir + " does not exist");
            name = dir.getFileName().toString();
        }
        try {
            List<ServeBench.Level> levels = new ArrayList<>();
            for (String m : modes) {
                Profile profile = Profile.defaults(ModelReference.local(dir)).withMode(Mode.parse(m));
                // every scheduling's server open at once, their levels interleaved: the machine's load (shared,
                // changing) weighs on each alike
                List<ServeBench> benches = new ArrayList<>();
                try {
                    for (String sched : schedulings) {
                        boolean batched = switch (sched) {
                            case "batched" -> true;
                            case "serial" -> false;
                            default ->
                                throw new IllegalArgumentException(
                                        "--scheduling: batched or serial, got '" + sched + "'");
                        };
                        for (int prefill : batched ? decodingPrefills : decodingPrefills.subList(0, 1)) {
                            Scheduling scheduling =
                                    batched ? Scheduling.DEFAULT.withDecodingPrefill(prefill) : Scheduling.serial();
                            String label = schedulings.size() > 1 ? m + "/" + sched : m;
                            if (batched && decodingPrefills.size() > 1) label += "/p" + prefill;
                            ServeBench bench = new ServeBench(
                                    profile,
                                    label,
                                    scheduling,
                                    clients,
                                    historyTokens,
                                    turns,
                                    maxTokens,
                                    stateBytes,
                                    seed,
                                    System.err);
                            benches.add(bench);
                            bench.open();
                        }
                    }
                    List<ServeBench.Level> mode = new ArrayList<>();
                    for (int n : clients) for (ServeBench bench : benches) mode.add(bench.level(n));
                    for (ServeBench bench : benches) {
                        levels.addAll(mode.stream()
                                .filter(l -> l.mode().equals(bench.mode()))
                                .toList());
                    }
                } finally {
                    for (ServeBench bench : benches) bench.close();
                }
            }
            System.out.print(ServeBench.table(name, levels));
            if (json != null) AtomicFiles.write(json, ServeBench.json(name, levels));
            if (plot != null) BenchReport.writePng(plot, ServeBench.plot(name, levels));
            return levels.stream().anyMatch(l -> l.failed() > 0) ? 1 : 0;
        } finally {
            if (synthetic != null) AtomicFiles.deleteTree(synthetic);
        }
    }
}
