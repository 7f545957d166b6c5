package io.dijiang4j.nativemodels;

import com.github.tjake.jlama.model.gpt2.GPT2Tokenizer;
import com.github.tjake.jlama.safetensors.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The checkpoint's {@code tokenizer.json} through Jlama's byte-level BPE tokenizer (GPT-2 / GPT-NeoX style, the
 * layout Pythia checkpoints ship). Token ids outside the model's vocabulary are a one-line error.
 */
public final class NativeTokenizer {

    private final Tokenizer tokenizer;
    private final int vocabSize;

    private NativeTokenizer(Tokenizer tokenizer, int vocabSize) {
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
    }

    /** The tokenizer of dir, or empty when dir has no tokenizer.json. */
    public static Optional<NativeTokenizer> open(Path dir, int vocabSize) {
        if (!Files.isRegularFile(dir.resolve("tokenizer.json"))) return Optional.empty();
        try {
            return Optional.of(new NativeTokenizer(new GPT2Tokenizer(dir), vocabSize));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("cannot load " + dir.resolve("tokenizer.json") + ": " + e.getMessage());
        }
    }

    public int[] encode(String text) {
        long[] ids = tokenizer.encode(text);
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocabSize) {
                throw new IllegalArgumentException("token id " + ids[i] + " outside the model vocabulary " + vocabSize);
            }
            out[i] = (int) ids[i];
        }
        return out;
    }

    public String decode(int token) {
        return tokenizer.decode(token);
    }

    public String decode(int[] tokens) {
        long[] ids = new long[tokens.length];
        for (int i = 0; i < ids.length; i++) ids[i] = tokens[i];
        return tokenizer.decode(ids);
    }
}
