package io.dijiang4j.it;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tjake.jlama.safetensors.DType;
import io.dijiang4j.tools.synth.SyntheticModels;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Synthetic models (random weights, byte tokenizer) carrying the chat template of a tool-capable instruct model
 * (src/test/resources/chat-templates, see its PROVENANCE.md), in a langchain4j-jlama model cache.
 */
enum ToolModels {
    LLAMA_31("llama-3.1-instruct.jinja"),
    QWEN_25("qwen-2.5-instruct.jinja");

    private final String templateFile;

    ToolModels(String templateFile) {
        this.templateFile = templateFile;
    }

    /** The name langchain4j-jlama's registry is given for this model. */
    String jlamaName() {
        return "synthetic/tiny-" + name().toLowerCase();
    }

    String template() {
        try (InputStream in = ToolModels.class.getResourceAsStream("/chat-templates/" + templateFile)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes the model into {@code <cache>/synthetic_tiny-NAME} (with the downloader's marker); returns its dir. */
    Path write(Path cache) {
        Path dir = cache.resolve(jlamaName().replace('/', '_'));
        try {
            SyntheticModels.write(SyntheticModels.Shape.TINY.withContextLength(4096), dir, DType.F32, 7);
            Path config = dir.resolve("tokenizer_config.json");
            ObjectMapper json = new ObjectMapper();
            ObjectNode tokenizer = (ObjectNode) json.readTree(config.toFile());
            tokenizer.put("chat_template", template());
            Files.writeString(config, json.writeValueAsString(tokenizer));
            Files.createFile(dir.resolve(".finished"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }
}
