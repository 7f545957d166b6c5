package io.dijiang4j.tools.cli;

import io.dijiang4j.nativemodels.NativeModel;
import io.dijiang4j.nativemodels.NativeModels;
import io.dijiang4j.nativemodels.NativeSession;
import io.dijiang4j.nativemodels.SyntheticCheckpoints;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.dijiang4j.plugin.generation.Generator;
import io.dijiang4j.plugin.generation.Sampler;
import io.dijiang4j.plugin.generation.TokenCodec;
import io.dijiang4j.plugin.profile.Profile;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * CLI surface of the native models: {@code dijiang synth-native} (registered through {@link CliExtension}) and
 * {@link #generate}, which {@code dijiang generate} calls when {@code --model} names a native checkpoint.
 */
public final class NativeCli implements CliExtension {

    @Override
    public List<Object> commands() {
        return List.of(new SynthNativeCommand());
    }

    /** {@code dijiang synth-native --arch dijiang|transnormer|mcsd --out DIR [--seed S]}. */
    @Command(
            name = "synth-native",
            mixinStandardHelpOptions = true,
            description = "Write a tiny random native linear-attention checkpoint (config.json, model.safetensors, "
                    + "tokenizer.json) for trying `dijiang generate --model DIR`.")
    public static final class SynthNativeCommand implements Callable<Integer> {
        @Option(names = "--arch", required = true, paramLabel = "ARCH", description = "dijiang, transnormer or mcsd.")
        String arch;

        @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory.")
        Path out;

        @Option(names = "--seed", paramLabel = "S", description = "Random seed of the weights (default 1).")
        long seed = 1;

        @Override
        public Integer call() {
            if (!List.of(NativeModels.DIJIANG, NativeModels.TRANSNORMER, NativeModels.MCSD)
                    .contains(arch)) {
                throw new IllegalArgumentException("--arch must be dijiang, transnormer or mcsd, got '" + arch + "'");
            }
            if (Files.exists(out) && !Files.isDirectory(out)) {
                throw new IllegalArgumentException("--out " + out + " exists and is not a directory");
            }
            var written = SyntheticCheckpoints.write(arch, out, seed, Map.of());
            System.err.println("dijiang: wrote a tiny random " + arch + " checkpoint ("
                    + written.tensors().size() + " tensors) to " + out);
            return 0;
        }
    }

    /**
     * Runs a native checkpoint: the prompt and its completion go to out, one summary line to err. Returns the exit
     * code (0).
     */
    public static int generate(Path dir, String prompt, GenerationOptions options, PrintStream out, PrintStream err) {
        NativeModel model = NativeModels.load(dir);
        TokenCodec tokens =
                model.tokenizer().orElseThrow(() -> new IllegalArgumentException("no tokenizer.json in " + dir));
        int[] ids = tokens.encode(prompt, false);
        if (ids.length == 0) throw new IllegalArgumentException("empty prompt: give at least one token");
        PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
        o.print(prompt);
        NativeSession session = model.newSession();
        long seed = options.seed() != null ? options.seed() : Profile.DEFAULT_SEED;
        GenerationResult r = Generator.generate(
                session, tokens, ids, options, new Sampler(options, seed), Generator.LastToken.NOT_FED, piece -> {
                    o.print(piece);
                    o.flush();
                });
        o.println();
        err.printf(
                "dijiang: native %s model, %d prompt tokens, %d generated, prefill %.1f ms, decode %.1f tok/s, "
                        + "recurrent state %d values (constant)%n",
                model.architecture(),
                ids.length,
                r.generatedTokens(),
                r.prefillNanos() / 1e6,
                r.decodeTokensPerSecond(),
                session.stateSize());
        return 0;
    }
}
