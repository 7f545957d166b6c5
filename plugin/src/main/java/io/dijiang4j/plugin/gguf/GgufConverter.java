package io.dijiang4j.plugin.gguf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.dijiang4j.plugin.io.AtomicFiles;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Converts a llama-architecture GGUF into a Jlama model directory: config.json (Hugging Face {@code LlamaConfig}
 * names, which Jlama 0.8.4's {@code LlamaConfig} reads), tokenizer.json and tokenizer_config.json rebuilt from the
 * vocabulary ({@link GgufTokenizerFiles}), and model.safetensors with every weight dequantized.
 *
 * <p>Weights are written F32 by default: dequantizing ggml blocks in float is exact in F32, so the converted model
 * computes with the very weights llama.cpp would; BF16 halves the size but rounds every weight to 8 mantissa bits.
 * GGUF stores the Q and K projections with each head's rows interleaved for llama.cpp's RoPE (convert_hf_to_gguf.py's
 * {@code permute}); they are put back in Hugging Face's rotate-half order, which Jlama uses.
 */
public final class GgufConverter {
    /** How the weights are stored in model.safetensors. */
    public enum Precision {
        /** Exact: the dequantized values themselves. */
        F32,
        /** Half the size; each weight rounded to bfloat16. */
        BF16
    }

    /** What a conversion produced. */
    public record Result(
            Path directory, String architecture, int tensors, long parameters, long bytes, double seconds) {}

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private GgufConverter() {}

    /**
     * Converts {@code gguf} into the model directory {@code outDir}, which must not exist or be empty. Everything is
     * written to a temporary sibling directory that is renamed into place at the end, so {@code outDir} is either
     * complete or absent. Bad input is a {@link GgufException} (one line naming the file and the problem).
     *
     * @param progress where to print progress lines, or null for none
     */
    public static Result convert(Path gguf, Path outDir, Precision precision, PrintStream progress) throws IOException {
        long start = System.nanoTime();
        try (GgufFile file = GgufFile.open(gguf)) {
            LlamaLayout layout = LlamaLayout.of(file);
            long[][] written = new long[1][];
            AtomicFiles.writeDirectory(outDir, dir -> {
                GgufTokenizerFiles.Vocabulary vocabulary = GgufTokenizerFiles.write(file, layout.contextLength, dir);
                if (vocabulary.size() != layout.vocabularySize) {
                    throw file.fail("the vocabulary has " + vocabulary.size() + " tokens, the embedding "
                            + layout.vocabularySize + " rows");
                }
                writeConfig(file, layout, vocabulary, precision, dir.resolve("config.json"));
                written[0] = writeWeights(file, layout, precision, dir.resolve("model.safetensors"), progress);
                Files.writeString(
                        dir.resolve("README.md"),
                        "Converted by dijiang4j from " + gguf.getFileName() + " (GGUF v" + file.version() + ", "
                                + layout.architecture + "); weights dequantized to " + precision + ".\n");
            });
            return new Result(
                    outDir,
                    layout.architecture,
                    (int) written[0][0],
                    written[0][1],
                    Files.size(outDir.resolve("model.safetensors")),
                    (System.nanoTime() - start) / 1e9);
        }
    }

    /** The hyper-parameters of a llama GGUF, checked against its tensors. */
    static final class LlamaLayout {
        final String architecture;
        final int layers, hidden, ffn, heads, kvHeads, headSize, contextLength, vocabularySize;
        final double ropeTheta, rmsEps, ropeLinearFactor;
        final boolean tiedEmbeddings;

        private LlamaLayout(GgufFile f) {
            architecture = f.string("general.architecture");
            if (!architecture.equals("llama")) {
                throw f.fail("architecture '" + architecture + "' is not supported (supported: llama, which includes"
                        + " Mistral-style models)");
            }
            String p = architecture + ".";
            layers = positive(f, p + "block_count");
            hidden = positive(f, p + "embedding_length");
            ffn = positive(f, p + "feed_forward_length");
            heads = positive(f, p + "attention.head_count");
            kvHeads = f.has(p + "attention.head_count_kv") ? positive(f, p + "attention.head_count_kv") : heads;
            contextLength = positive(f, p + "context_length");
            if (hidden % heads != 0 || heads % kvHeads != 0) {
                throw f.fail("hidden size " + hidden + ", " + heads + " heads and " + kvHeads
                        + " KV heads do not divide evenly");
            }
            headSize = hidden / heads;
            // Jlama 0.8.4 derives the head size from hidden / heads and ignores head_dim: refuse what it cannot run.
            for (String key :
                    List.of(p + "rope.dimension_count", p + "attention.key_length", p + "attention.value_length")) {
                if (f.has(key) && f.integer(key) != headSize) {
                    throw f.fail(key + " is " + f.integer(key) + ", but Jlama needs it to equal hidden size / heads = "
                            + headSize);
                }
            }
            if (headSize % 2 != 0) throw f.fail("head size " + headSize + " is odd: RoPE needs pairs");
            ropeTheta = f.has(p + "rope.freq_base") ? f.floating(p + "rope.freq_base") : 10000.0;
            rmsEps = f.floating(p + "attention.layer_norm_rms_epsilon");
            String scaling = f.has(p + "rope.scaling.type") ? f.string(p + "rope.scaling.type") : "none";
            ropeLinearFactor = switch (scaling) {
                case "none" -> 1.0;
                case "linear" -> f.floating(p + "rope.scaling.factor");
                default -> throw f.fail(p + "rope.scaling.type is '" + scaling + "'; Jlama supports only linear");
            };
            GgufFile.TensorInfo embedding = f.tensor("token_embd.weight");
            if (embedding.dims().length != 2 || embedding.dims()[0] != hidden) {
                throw f.fail("tensor 'token_embd.weight' has dims " + Arrays.toString(embedding.dims()) + ", expected ["
                        + hidden + ", vocabulary]");
            }
            vocabularySize = Math.toIntExact(embedding.dims()[1]);
            if (f.has(p + "vocab_size") && f.integer(p + "vocab_size") != vocabularySize) {
                throw f.fail(p + "vocab_size is " + f.integer(p + "vocab_size") + ", the embedding has "
                        + vocabularySize + " rows");
            }
            tiedEmbeddings = !f.tensors().containsKey("output.weight");
        }

        static LlamaLayout of(GgufFile f) {
            return new LlamaLayout(f);
        }

        private static int positive(GgufFile f, String key) {
            long v = f.integer(key);
            if (v <= 0 || v > Integer.MAX_VALUE) throw f.fail(key + " is " + v + ", expected a positive int");
            return (int) v;
        }

        /** GGUF tensor name -> (Hugging Face name, expected row-major shape), in the order they are written. */
        Map<String, Target> targets() {
            Map<String, Target> t = new LinkedHashMap<>();
            int q = heads * headSize, kv = kvHeads * headSize;
            t.put("token_embd.weight", Target.plain("model.embed_tokens.weight", vocabularySize, hidden));
            for (int i = 0; i < layers; i++) {
                String g = "blk." + i + ".", h = "model.layers." + i + ".";
                t.put(g + "attn_norm.weight", Target.plain(h + "input_layernorm.weight", hidden));
                t.put(g + "attn_q.weight", Target.rope(h + "self_attn.q_proj.weight", heads, q, hidden));
                t.put(g + "attn_k.weight", Target.rope(h + "self_attn.k_proj.weight", kvHeads, kv, hidden));
                t.put(g + "attn_v.weight", Target.plain(h + "self_attn.v_proj.weight", kv, hidden));
                t.put(g + "attn_output.weight", Target.plain(h + "self_attn.o_proj.weight", hidden, q));
                t.put(g + "ffn_norm.weight", Target.plain(h + "post_attention_layernorm.weight", hidden));
                t.put(g + "ffn_gate.weight", Target.plain(h + "mlp.gate_proj.weight", ffn, hidden));
                t.put(g + "ffn_up.weight", Target.plain(h + "mlp.up_proj.weight", ffn, hidden));
                t.put(g + "ffn_down.weight", Target.plain(h + "mlp.down_proj.weight", hidden, ffn));
            }
            t.put("output_norm.weight", Target.plain("model.norm.weight", hidden));
            if (!tiedEmbeddings) t.put("output.weight", Target.plain("lm_head.weight", vocabularySize, hidden));
            return t;
        }
    }

    /**
     * Where a GGUF tensor goes: its Hugging Face name and row-major shape; {@code ropeHeads > 0} means its rows are
     * un-permuted from llama.cpp's interleaved RoPE order, {@code ropeHeads} heads.
     */
    record Target(String name, int ropeHeads, long[] shape) {
        static Target plain(String name, long... shape) {
            return new Target(name, 0, shape);
        }

        static Target rope(String name, int heads, long rows, long columns) {
            return new Target(name, heads, new long[] {rows, columns});
        }
    }

    private static long[] writeWeights(
            GgufFile file, LlamaLayout layout, Precision precision, Path out, PrintStream progress) throws IOException {
        Map<String, Target> targets = layout.targets();
        Set<String> unexpected = new HashSet<>(file.tensors().keySet());
        unexpected.removeAll(targets.keySet());
        if (!unexpected.isEmpty()) {
            String name = unexpected.stream().sorted().findFirst().orElseThrow();
            throw file.fail("tensor '" + name + "' is not part of a llama model Jlama can run"
                    + (unexpected.size() > 1 ? " (and " + (unexpected.size() - 1) + " more)" : ""));
        }
        List<StreamingSafetensorsWriter.Entry> entries = new ArrayList<>();
        for (Map.Entry<String, Target> e : targets.entrySet()) {
            GgufFile.TensorInfo info = file.tensor(e.getKey());
            long[] shape = info.rowMajorShape();
            if (!Arrays.equals(shape, e.getValue().shape())) {
                throw file.fail("tensor '" + e.getKey() + "' has shape " + Arrays.toString(shape) + " (row-major),"
                        + " expected " + Arrays.toString(e.getValue().shape()) + " from the metadata");
            }
            if (!info.type().dequantizable) {
                throw file.fail("tensor '" + e.getKey() + "' has type " + info.type() + ", which this converter"
                        + " cannot dequantize (supported: " + GgmlType.supportedNames() + ")");
            }
            entries.add(new StreamingSafetensorsWriter.Entry(e.getValue().name(), shape));
        }
        StreamingSafetensorsWriter.Precision stored = precision == Precision.F32
                ? StreamingSafetensorsWriter.Precision.F32
                : StreamingSafetensorsWriter.Precision.BF16;
        long parameters = 0;
        int done = 0, lastDecile = 0;
        try (StreamingSafetensorsWriter writer =
                new StreamingSafetensorsWriter(out, stored, entries, Map.of("format", "pt"))) {
            for (Map.Entry<String, Target> e : targets.entrySet()) {
                GgufFile.TensorInfo info = file.tensor(e.getKey());
                float[] values = file.floats(info);
                if (e.getValue().ropeHeads() > 0) {
                    values = unpermuteRope(
                            values, e.getValue().ropeHeads(), (int) e.getValue().shape()[1]);
                }
                writer.write(values);
                parameters += values.length;
                done++;
                int decile = 10 * done / targets.size();
                if (progress != null && decile > lastDecile) {
                    progress.printf(Locale.ROOT, "convert: %d/%d tensors%n", done, targets.size());
                    lastDecile = decile;
                }
            }
        }
        return new long[] {targets.size(), parameters};
    }

    /**
     * Undoes convert_hf_to_gguf.py's {@code permute}: within each head of {@code d} rows, GGUF row {@code 2i + j}
     * holds Hugging Face row {@code j*d/2 + i} (i < d/2, j in {0, 1}).
     */
    static float[] unpermuteRope(float[] ggufRows, int heads, int rowLength) {
        int rows = ggufRows.length / rowLength;
        int d = rows / heads, half = d / 2;
        float[] hf = new float[ggufRows.length];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                for (int j = 0; j < 2; j++) {
                    int from = h * d + 2 * i + j, to = h * d + j * half + i;
                    System.arraycopy(ggufRows, from * rowLength, hf, to * rowLength, rowLength);
                }
            }
        }
        return hf;
    }

    private static void writeConfig(
            GgufFile file, LlamaLayout l, GgufTokenizerFiles.Vocabulary vocabulary, Precision precision, Path out)
            throws IOException {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architectures", List.of("LlamaForCausalLM"));
        c.put("model_type", "llama");
        c.put("hidden_size", l.hidden);
        c.put("intermediate_size", l.ffn);
        c.put("num_hidden_layers", l.layers);
        c.put("num_attention_heads", l.heads);
        c.put("num_key_value_heads", l.kvHeads);
        c.put("head_dim", l.headSize);
        c.put("vocab_size", l.vocabularySize);
        c.put("max_position_embeddings", l.contextLength);
        c.put("rms_norm_eps", l.rmsEps);
        c.put("rope_theta", l.ropeTheta);
        if (l.ropeLinearFactor != 1.0) {
            c.put("rope_scaling", Map.of("rope_type", "linear", "type", "linear", "factor", l.ropeLinearFactor));
        }
        c.put("hidden_act", "silu");
        c.put("bos_token_id", vocabulary.bosId());
        c.put("eos_token_id", vocabulary.eosId());
        c.put("tie_word_embeddings", l.tiedEmbeddings);
        c.put("torch_dtype", precision == Precision.F32 ? "float32" : "bfloat16");
        Map<String, Object> source = new LinkedHashMap<>();
        source.put("file", file.path().getFileName().toString());
        source.put("gguf_version", file.version());
        if (file.has("general.name")) source.put("name", file.string("general.name"));
        c.put("dijiang4j_converted_from_gguf", source);
        Files.write(out, JSON.writeValueAsBytes(c));
    }
}
