package io.dijiang4j.bench;

import com.github.tjake.jlama.safetensors.DType;
import io.dijiang4j.plugin.io.AtomicFiles;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.plugin.profile.ProfileLoader;
import io.dijiang4j.plugin.profile.TensorOps;
import io.dijiang4j.tools.synth.SyntheticModels;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code dijiang bench}: the long-context benchmark (see {@link LongContextBench}). */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        description = "Long-context benchmark: decode tokens/s, prefill time and memory per mode and context depth.")
public final class BenchCommand implements Callable<Integer> {

    static final class Source {
        @Option(names = "--model", description = "A Jlama model directory.")
        Path model;

        @Option(
                names = "--shape",
                description = "Generate a synthetic model of this shape (tiny, small, medium, llama-1b).")
        String shape;
    }

    @ArgGroup(multiplicity = "1")
    Source source;

    @Option(
            names = "--dtype",
            defaultValue = "Q4",
            description = "Weights of a --shape model: F32 or Q4 (default ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the synthetic model and the random inputs.")
    long seed;

    @Option(names = "--contexts", defaultValue = "1024,4096,16384,65536", split = ",", description = "Context depths.")
    List<Integer> contexts;

    @Option(names = "--modes", defaultValue = "softmax,dijiang,hybrid", split = ",", description = "Modes to compare.")
    List<String> modes;

    @Option(
            names = "--tensor-ops",
            defaultValue = "fast",
            split = ",",
            description = "Matrix products to run each mode under: fast, jlama or both (jlama,fast).")
    List<String> tensorOps;

    @Option(names = "--decode-tokens", defaultValue = "32", description = "Timed decode tokens per run.")
    int decodeTokens;

    @Option(names = "--warmup-tokens", defaultValue = "16", description = "Untimed decode tokens before timing.")
    int warmupTokens;

    @Option(
            names = "--warmup-prefill",
            defaultValue = "512",
            description = "Untimed prefill tokens per mode and backend before any timing (JIT warm-up); 0: none.")
    int warmupPrefill;

    @Option(
            names = "--prefill-limit",
            defaultValue = "16384",
            description = "Largest context reached by real prefill (timed); deeper ones are filled synthetically.")
    int prefillLimit;

    @Option(names = "--profile", description = "YAML profile for the kernel settings (its model and mode are ignored).")
    Path profile;

    @Option(names = "--json", description = "Write the results as JSON.")
    Path json;

    @Option(names = "--csv", description = "Write the results as CSV.")
    Path csv;

    @Option(names = "--plot", description = "Write a PNG: decode tokens/s and memory vs context.")
    Path plot;

    @Override
    public Integer call() throws Exception {
        List<Mode> modeList = new ArrayList<>();
        for (String m : modes) modeList.add(Mode.parse(m));
        List<TensorOps> opsList = new ArrayList<>();
        for (String t : tensorOps) opsList.add(TensorOps.parse(t));
        Path dir;
        Path synthetic = null;
        String modelName;
        if (source.model != null) {
            dir = source.model;
            if (!Files.isDirectory(dir))
                throw new IllegalArgumentException("model directory " + dir + " does not exist");
            modelName = dir.getFileName().toString();
        } else {
            SyntheticModels.Shape shape = SyntheticModels.Shape.named(source.shape);
            int needed =
                    contexts.stream().mapToInt(Integer::intValue).max().orElse(0) + warmupTokens + decodeTokens + 1;
            if (needed > shape.contextLength()) shape = shape.withContextLength(needed);
            DType type = SyntheticModels.dtype(dtype);
            synthetic = Files.createTempDirectory("dijiang4j-bench-model-");
            dir = synthetic.resolve(shape.name());
            System.err.printf(Locale.ROOT, "bench: writing a synthetic %s %s model ...%n", shape.name(), type);
            SyntheticModels.write(shape, dir, type, seed);
            modelName = "synthetic " + shape.name() + " " + type;
        }
        try {
            Profile base = profile != null ? ProfileLoader.load(profile) : Profile.defaults(ModelReference.local(dir));
            base = base.withModel(ModelReference.local(dir));
            double loadBefore = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
            System.err.println("bench: measuring the SGEMM ceiling and the read bandwidth ...");
            MachineLimits limits = MachineLimits.measure();
            var options = new LongContextBench.Options(
                    contexts,
                    modeList,
                    decodeTokens,
                    warmupTokens,
                    warmupPrefill,
                    prefillLimit,
                    seed,
                    base,
                    opsList,
                    limits);
            List<BenchResult> results = LongContextBench.run(dir, options, System.err);
            System.out.print(BenchReport.table(results));
            Map<String, Object> meta = new LinkedHashMap<>();
            meta.put("model", modelName);
            meta.put("decode_tokens", decodeTokens);
            meta.put("warmup_tokens", warmupTokens);
            meta.put("warmup_prefill", warmupPrefill);
            meta.put("prefill_limit", prefillLimit);
            meta.put(
                    "kernel_settings",
                    Map.of(
                            "feature_map", base.featureMap().key(),
                            "features", base.features(),
                            "sinks", base.sinks(),
                            "window", base.window(),
                            "block_size", base.blockSize()));
            // the machine is shared: the one-minute load average when the run started and ended (-1: unknown)
            meta.put("load_average_start", loadBefore);
            meta.put(
                    "load_average_end",
                    ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
            meta.put("sgemm_gflops", limits.sgemmGflops());
            meta.put("read_gb_per_s", limits.readGbPerSecond());
            meta.put(
                    "limits",
                    "sgemm_gflops: VectorOps.gemm 256x256x256 on every thread at once, best of 3 after 1 s untimed; read_gb_per_s: every"
                            + " thread summing its part of a 512 MiB array in four independent sums, best of 5;"
                            + " floor_tokens_per_s = read"
                            + " bandwidth / weight bytes per token; prefill_gflops counts the weight products only");
            meta.put("tensor_ops", tensorOps);
            meta.put("cpus", Runtime.getRuntime().availableProcessors());
            meta.put("java", Runtime.version().toString());
            meta.put("os_arch", System.getProperty("os.arch"));
            meta.put(
                    "depth_fill",
                    "prefill: real random byte tokens through the whole model (timed as prefill_s); synthetic: softmax "
                            + "K/V rows of every layer set to N(0,1) values, kernelized states built by pushing N(0,1) "
                            + "q/k/v through one layer's kernel and restored into every layer; session position set");
            if (json != null) AtomicFiles.write(json, BenchReport.json(results, meta));
            if (csv != null) AtomicFiles.writeString(csv, BenchReport.csv(results));
            if (plot != null) BenchReport.writePng(plot, BenchReport.plot(results, modelName));
            return 0;
        } finally {
            if (synthetic != null) AtomicFiles.deleteTree(synthetic);
        }
    }
}
