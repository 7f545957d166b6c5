package io.dijiang4j.nativemodels;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tjake.jlama.model.gpt2.GPT2Tokenizer;
import io.dijiang4j.plugin.generation.TokenCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The checkpoint's {@code tokenizer.json} through Jlama's byte-level BPE tokenizer (GPT-2 / GPT-NeoX style, the
 * layout Pythia checkpoints ship), as the plugin's {@link TokenCodec}: no BOS (GPT-NeoX prompts start without one),
 * the end token of config.json's {@code eos_token_id} when it has one.
 */
public final class NativeTokenizer {
    private NativeTokenizer() {}

    /** The tokenizer of dir, or empty when dir has no tokenizer.json. */
    public static Optional<TokenCodec> open(Path dir, int vocabSize) {
        if (!Files.isRegularFile(dir.resolve("tokenizer.json"))) return Optional.empty();
        List<Integer> endTokens = new ArrayList<>();
        JsonConfig config = JsonConfig.read(dir);
        if (config.has("eos_token_id")) {
            JsonNode eos = config.root().get("eos_token_id");
            for (JsonNode id : eos.isArray() ? eos : List.of(eos)) {
                if (id.canConvertToInt()) endTokens.add(id.asInt());
            }
        }
        try {
            return Optional.of(new TokenCodec(new GPT2Tokenizer(dir), vocabSize, null, endTokens));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("cannot load " + dir.resolve("tokenizer.json") + ": " + e.getMessage());
        }
    }
}
