package io.dijiang4j.plugin.gguf;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A tiny GGUF llama (random weights, a byte-level vocabulary; {@link GgufConverterTest#tinyLlama}) for tests outside
 * this package: 2 layers, hidden 64, 4 heads (2 KV) of 16, context 128.
 */
public final class TinyGguf {
    private TinyGguf() {}

    /** Writes the model to {@code file} and returns it. */
    public static Path write(Path file) throws IOException {
        return new GgufConverterTest().tinyLlama(null).write(file);
    }
}
