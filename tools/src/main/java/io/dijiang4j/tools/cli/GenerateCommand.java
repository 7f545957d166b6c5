package io.dijiang4j.tools.cli;

import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code dijiang generate}: prints the prompt and its completion on stdout; progress goes to stderr. */
@Command(
        name = "generate",
        mixinStandardHelpOptions = true,
        description = "Generate text after a prompt with a profile's attention (prompt + completion on stdout).")
public final class GenerateCommand implements Callable<Integer> {
    @Mixin
    ProfileOptions options;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "The prompt.")
    String prompt;

    @Override
    public Integer call() {
        Profile profile = options.profile();
        // native linear-attention checkpoints (DiJiang, TransNormerLLM, MCSD) run on their own forward pass;
        // the profile's generation settings apply, its attention settings do not
        if (profile.model() instanceof ModelReference.Local local
                && io.dijiang4j.nativemodels.NativeModels.isNative(local.directory())) {
            return NativeCli.generate(local.directory(), prompt, profile.generation(), System.out, System.err);
        }
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (DiJiangModel model = DiJiang.load(profile, line -> System.err.println("dijiang: " + line));
                Session session = model.newSession()) {
            out.print(prompt);
            out.flush();
            GenerationResult g = session.generate(prompt, profile.generation(), piece -> {
                out.print(piece);
                out.flush();
            });
            out.println();
            System.err.printf(
                    "dijiang: %d prompt tokens, %d generated (%s), %d positions, attention state %d bytes%n",
                    g.promptTokens(),
                    g.tokens().size(),
                    g.stopReason().toString().toLowerCase(java.util.Locale.ROOT).replace('_', ' '),
                    g.position(),
                    session.stateBytes());
        }
        return 0;
    }
}
