package io.dijiang4j.plugin.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks a Jlama model directory before Jlama maps it, so that a damaged or inconsistent checkpoint is one line
 * naming the file and the tensor instead of an error from deep inside the loader (a truncated file made Jlama fail
 * with "cannot extend file to required size"). Cheap: headers and config.json only, plus (optionally) one
 * vectorized pass over the float weights for NaN and infinity.
 *
 * <ul>
 *   <li>every file's header: each tensor's byte range inside its file and matching its dtype and shape ({@link
 *       SafeTensors}); across shards: no tensor twice, each where the index says;
 *   <li>the llama-family tensors (llama, mistral, qwen2: HF names) against config.json: shapes from {@code
 *       hidden_size}, heads, KV heads, {@code head_dim}, {@code intermediate_size}, {@code vocab_size}; the
 *       attention projections of every layer present, no layer beyond {@code num_hidden_layers}; dtypes Jlama loads;
 *   <li>with {@code scanValues}: no NaN or infinite value in a float tensor.
 * </ul>
 */
public final class ModelFileCheck {
    /** The dtypes Jlama 0.8.4 loads weights in. */
    static final Set<String> WEIGHT_DTYPES = Set.of("F32", "F16", "BF16", "Q4", "I8");

    private static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");

    private ModelFileCheck() {}

    /**
     * Checks {@code dir}; returns the number of tensors checked.
     *
     * @throws IllegalArgumentException one line naming the file, the tensor and what is wrong
     */
    public static int check(Path dir, boolean scanValues) {
        List<Path> files = SafeTensors.modelFiles(dir);
        Map<Path, SafeTensors.Reader> readers = new LinkedHashMap<>();
        Map<String, Path> owner = new HashMap<>();
        for (Path file : files) {
            SafeTensors.Reader r = SafeTensors.open(file);
            readers.put(file, r);
            for (String name : r.names()) {
                Path before = owner.put(name, file);
                if (before != null) {
                    throw new IllegalArgumentException(
                            file + ": tensor '" + name + "' is also in " + before.getFileName());
                }
            }
        }
        checkIndex(dir, owner);
        JsonNode config = config(dir);
        Map<String, int[]> expected;
        try {
            expected = expectedShapes(config);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(dir + "/" + e.getMessage());
        }
        int layers = config.path("num_hidden_layers").asInt(-1);
        for (Map.Entry<String, Path> t : owner.entrySet()) {
            String name = t.getKey();
            SafeTensors.Reader r = readers.get(t.getValue());
            Matcher m = LAYER.matcher(name);
            if (m.matches() && layers >= 0 && Long.parseLong(m.group(1)) >= layers) {
                throw new IllegalArgumentException(t.getValue() + ": tensor '" + name + "' is of layer " + m.group(1)
                        + " but config.json has num_hidden_layers " + layers);
            }
            int[] want = expected.get(m.matches() ? m.group(2) : name);
            if (want == null) continue;
            String dtype = r.dtype(name);
            if (!WEIGHT_DTYPES.contains(dtype)) {
                throw new IllegalArgumentException(t.getValue() + ": tensor '" + name + "' has dtype " + dtype
                        + " (Jlama loads "
                        + String.join(", ", WEIGHT_DTYPES.stream().sorted().toList()) + ")");
            }
            int[] shape = r.shape(name);
            if (!Arrays.equals(shape, want)) {
                throw new IllegalArgumentException(t.getValue() + ": tensor '" + name + "' has shape "
                        + Arrays.toString(shape) + ", config.json expects " + Arrays.toString(want));
            }
        }
        if (!owner.containsKey("model.embed_tokens.weight")) {
            throw new IllegalArgumentException(dir + ": no tensor 'model.embed_tokens.weight' in " + fileNames(files));
        }
        for (int layer = 0; layer < layers; layer++) {
            for (String p : List.of("q_proj", "k_proj", "v_proj", "o_proj")) {
                String name = "model.layers." + layer + ".self_attn." + p + ".weight";
                if (!owner.containsKey(name)) {
                    throw new IllegalArgumentException(dir + ": no tensor '" + name + "' in " + fileNames(files)
                            + " (config.json has num_hidden_layers " + layers + ")");
                }
            }
        }
        if (scanValues) {
            for (Map.Entry<String, Path> t : owner.entrySet()) {
                long at = readers.get(t.getValue()).firstNonFinite(t.getKey());
                if (at >= 0) {
                    throw new IllegalArgumentException(t.getValue() + ": tensor '" + t.getKey()
                            + "' holds a NaN or infinite value at element " + at
                            + " (a damaged checkpoint; set check_weights: false in the profile to skip this scan)");
                }
            }
        }
        return owner.size();
    }

    /** A sharded model: every tensor the index lists is in the shard it names. */
    private static void checkIndex(Path dir, Map<String, Path> owner) {
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.isRegularFile(dir.resolve("model.safetensors")) || !Files.isRegularFile(index)) return;
        JsonNode map;
        try {
            map = new ObjectMapper().readTree(index.toFile()).path("weight_map");
        } catch (IOException e) {
            throw new IllegalArgumentException(index + ": not a valid index (" + e.getMessage() + ")");
        }
        map.fields().forEachRemaining(f -> {
            Path shard = dir.resolve(f.getValue().asText());
            Path actual = owner.get(f.getKey());
            if (!shard.equals(actual)) {
                throw new IllegalArgumentException(index + ": tensor '" + f.getKey() + "' is listed in "
                        + shard.getFileName() + " but "
                        + (actual == null ? "no shard holds it" : actual.getFileName() + " holds it"));
            }
        });
    }

    private static JsonNode config(Path dir) {
        Path file = dir.resolve("config.json");
        try {
            JsonNode c = new ObjectMapper().readTree(file.toFile());
            if (c == null || !c.isObject()) throw new IllegalArgumentException(file + ": not a JSON object");
            return c;
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": not valid JSON ("
                    + e.getMessage().lines().findFirst().orElse("") + ")");
        }
    }

    /**
     * Shapes of the llama-family tensors (names within a layer, or whole names) that config.json determines; a
     * value config.json does not give leaves its tensors unchecked here (Jlama reports the missing key).
     */
    static Map<String, int[]> expectedShapes(JsonNode c) {
        int hidden = positive(c, "hidden_size");
        int heads = positive(c, "num_attention_heads");
        int kvHeads = c.has("num_key_value_heads") ? positive(c, "num_key_value_heads") : heads;
        int headDim = c.has("head_dim") ? positive(c, "head_dim") : heads > 0 ? hidden / heads : -1;
        int ffn = positive(c, "intermediate_size");
        int vocab = positive(c, "vocab_size");
        Map<String, int[]> s = new HashMap<>();
        if (vocab > 0 && hidden > 0) {
            s.put("model.embed_tokens.weight", new int[] {vocab, hidden});
            s.put("lm_head.weight", new int[] {vocab, hidden});
        }
        if (hidden > 0) {
            s.put("model.norm.weight", new int[] {hidden});
            s.put("input_layernorm.weight", new int[] {hidden});
            s.put("post_attention_layernorm.weight", new int[] {hidden});
        }
        if (hidden > 0 && heads > 0 && kvHeads > 0 && headDim > 0) {
            s.put("self_attn.q_proj.weight", new int[] {heads * headDim, hidden});
            s.put("self_attn.k_proj.weight", new int[] {kvHeads * headDim, hidden});
            s.put("self_attn.v_proj.weight", new int[] {kvHeads * headDim, hidden});
            s.put("self_attn.o_proj.weight", new int[] {hidden, heads * headDim});
            s.put("self_attn.q_proj.bias", new int[] {heads * headDim});
            s.put("self_attn.k_proj.bias", new int[] {kvHeads * headDim});
            s.put("self_attn.v_proj.bias", new int[] {kvHeads * headDim});
        }
        if (hidden > 0 && ffn > 0) {
            s.put("mlp.gate_proj.weight", new int[] {ffn, hidden});
            s.put("mlp.up_proj.weight", new int[] {ffn, hidden});
            s.put("mlp.down_proj.weight", new int[] {hidden, ffn});
        }
        return s;
    }

    /** A positive int of config.json, -1 when absent; a value that is not one is an error naming the key. */
    private static int positive(JsonNode c, String key) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) return -1;
        if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() <= 0) {
            throw new IllegalArgumentException("config.json: " + key + " must be a positive whole number, got " + v);
        }
        return v.asInt();
    }

    private static String fileNames(List<Path> files) {
        return files.size() == 1 ? files.get(0).getFileName().toString() : files.size() + " shards";
    }
}
