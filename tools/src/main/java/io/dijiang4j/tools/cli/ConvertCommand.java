package io.dijiang4j.tools.cli;

import io.dijiang4j.plugin.gguf.GgufConverter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code dijiang convert MODEL.gguf OUT_DIR}: a GGUF model as a Jlama model directory (weights dequantized). */
@Command(
        name = "convert",
        mixinStandardHelpOptions = true,
        description = "Convert a GGUF model (llama, byte-level BPE vocabulary) into a Jlama model directory.")
final class ConvertCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL.gguf", description = "GGUF file (versions 2 and 3).")
    Path gguf;

    @Parameters(index = "1", paramLabel = "OUT_DIR", description = "Output directory (must not exist, or be empty).")
    Path out;

    @Option(
            names = "--precision",
            defaultValue = "F32",
            paramLabel = "P",
            description = "F32 (exact, default) or BF16 (half the size).")
    GgufConverter.Precision precision;

    @Override
    public Integer call() throws IOException {
        GgufConverter.Result r = GgufConverter.convert(gguf, out, precision, System.err);
        System.err.printf(
                Locale.ROOT,
                "converted %s -> %s: %s, %d tensors, %,d parameters, %,d bytes (%.1f s)%n",
                gguf,
                r.directory(),
                r.architecture(),
                r.tensors(),
                r.parameters(),
                r.bytes(),
                r.seconds());
        return 0;
    }
}
