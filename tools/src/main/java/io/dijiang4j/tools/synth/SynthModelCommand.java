package io.dijiang4j.tools.synth;

import com.github.tjake.jlama.safetensors.DType;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code dijiang synth-model}: writes a synthetic llama model directory (see {@link SyntheticModels}). */
@Command(
        name = "synth-model",
        mixinStandardHelpOptions = true,
        description = "Write a Jlama-loadable llama model with seeded random weights and a byte tokenizer.")
public final class SynthModelCommand implements Callable<Integer> {

    @Option(names = "--shape", required = true, description = "tiny, small, medium or llama-1b.")
    String shape;

    @Option(names = "--out", required = true, description = "Output directory (must not exist, or be empty).")
    Path out;

    @Option(names = "--dtype", defaultValue = "F32", description = "F32 or Q4 (default ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--seed", defaultValue = "42", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(
            names = "--context-length",
            description = "max_position_embeddings written to config.json (default 131072).")
    Integer contextLength;

    @Override
    public Integer call() throws Exception {
        SyntheticModels.Shape s = SyntheticModels.Shape.named(shape);
        if (contextLength != null) s = s.withContextLength(contextLength);
        DType type = SyntheticModels.dtype(dtype);
        long start = System.nanoTime();
        System.err.printf(
                Locale.ROOT,
                "synth-model: %s (%,d weights, %d layers, hidden %d, vocab %d, context %d), %s, seed %d -> %s%n",
                s.name(),
                s.parameterCount(),
                s.layers(),
                s.hidden(),
                s.vocab(),
                s.contextLength(),
                type,
                seed,
                out);
        SyntheticModels.write(s, out, type, seed, System.err);
        System.err.printf(Locale.ROOT, "synth-model: done in %.1f s%n", (System.nanoTime() - start) / 1e9);
        System.out.println(out.toAbsolutePath());
        return 0;
    }
}
