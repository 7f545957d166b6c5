package io.dijiang4j.plugin.gguf;

import static io.dijiang4j.plugin.gguf.GgufTestFiles.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.ModelSupport;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.safetensors.SafeTensorSupport;
import com.github.tjake.jlama.safetensors.WeightLoader;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A tiny random llama written as GGUF (F32, Q8_0 and Q4_1 tensors), converted, and loaded by Jlama. */
class GgufConverterTest {
    static final int HIDDEN = 64, HEADS = 4, KV_HEADS = 2, HEAD = 16, FFN = 96, LAYERS = 2, CONTEXT = 128;
    static final List<String> SPECIALS = List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>");
    static final List<String> MERGES = List.of("h e", "l l", "he ll", "hell o");

    @TempDir
    Path dir;

    /** HF-layout weights by HF name (row-major), kept to compare the conversion with. */
    final Map<String, float[]> hf = new LinkedHashMap<>();

    static List<String> vocabulary() {
        List<String> tokens = new ArrayList<>(SPECIALS);
        int n = 0;
        for (int b = 0; b < 256; b++) { // GPT-2's byte alphabet, written out independently of the tokenizer
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            tokens.add(Character.toString(printable ? b : 256 + n++));
        }
        for (String m : MERGES) tokens.add(m.replace(" ", ""));
        return tokens;
    }

    /** llama.cpp's permute (convert_hf_to_gguf.py): reshape(heads, 2, d/2, cols).swapaxes(1, 2). */
    static float[] permute(float[] w, int heads, int cols) {
        int rows = w.length / cols, d = rows / heads;
        float[] out = new float[w.length];
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < 2; j++)
                for (int i = 0; i < d / 2; i++)
                    System.arraycopy(w, (h * d + j * d / 2 + i) * cols, out, (h * d + 2 * i + j) * cols, cols);
        return out;
    }

    GgufTestFiles tinyLlama(Consumer<GgufTestFiles> edit) {
        SplittableRandom r = new SplittableRandom(11);
        List<String> tokens = vocabulary();
        int vocab = tokens.size();
        GgufTestFiles g = new GgufTestFiles();
        g.put("general.architecture", STRING, "llama")
                .put("general.name", STRING, "tiny")
                .put("llama.block_count", UINT32, LAYERS)
                .put("llama.context_length", UINT32, CONTEXT)
                .put("llama.embedding_length", UINT32, HIDDEN)
                .put("llama.feed_forward_length", UINT32, FFN)
                .put("llama.attention.head_count", UINT32, HEADS)
                .put("llama.attention.head_count_kv", UINT32, KV_HEADS)
                .put("llama.rope.freq_base", FLOAT32, 100000f)
                .put("llama.attention.layer_norm_rms_epsilon", FLOAT32, 1e-5f)
                .put("llama.rope.dimension_count", UINT32, HEAD)
                .put("tokenizer.ggml.model", STRING, "gpt2")
                .put("tokenizer.ggml.pre", STRING, "smollm")
                .putArray("tokenizer.ggml.tokens", STRING, tokens)
                .putArray(
                        "tokenizer.ggml.token_type",
                        INT32,
                        tokens.stream().map(t -> SPECIALS.contains(t) ? 3 : 1).toList())
                .putArray("tokenizer.ggml.merges", STRING, MERGES)
                .put("tokenizer.ggml.bos_token_id", UINT32, 1)
                .put("tokenizer.ggml.eos_token_id", UINT32, 2)
                .put("tokenizer.ggml.padding_token_id", UINT32, 2)
                .put(
                        "tokenizer.chat_template",
                        STRING,
                        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}");
        addF32(g, r, "token_embd.weight", "model.embed_tokens.weight", vocab, HIDDEN, 0);
        for (int i = 0; i < LAYERS; i++) {
            String b = "blk." + i + ".", h = "model.layers." + i + ".";
            addF32(g, r, b + "attn_norm.weight", h + "input_layernorm.weight", 1, HIDDEN, 0);
            addF32(g, r, b + "attn_q.weight", h + "self_attn.q_proj.weight", HEADS * HEAD, HIDDEN, HEADS);
            addF32(g, r, b + "attn_k.weight", h + "self_attn.k_proj.weight", KV_HEADS * HEAD, HIDDEN, KV_HEADS);
            addQuantized(
                    g, r, b + "attn_v.weight", h + "self_attn.v_proj.weight", KV_HEADS * HEAD, HIDDEN, GgmlType.Q8_0);
            addQuantized(
                    g, r, b + "attn_output.weight", h + "self_attn.o_proj.weight", HIDDEN, HEADS * HEAD, GgmlType.Q4_1);
            addF32(g, r, b + "ffn_norm.weight", h + "post_attention_layernorm.weight", 1, HIDDEN, 0);
            addQuantized(g, r, b + "ffn_gate.weight", h + "mlp.gate_proj.weight", FFN, HIDDEN, GgmlType.Q4_0);
            addQuantized(g, r, b + "ffn_up.weight", h + "mlp.up_proj.weight", FFN, HIDDEN, GgmlType.Q5_1);
            addQuantized(g, r, b + "ffn_down.weight", h + "mlp.down_proj.weight", HIDDEN, FFN, GgmlType.F16);
        }
        addF32(g, r, "output_norm.weight", "model.norm.weight", 1, HIDDEN, 0);
        if (edit != null) edit.accept(g);
        return g;
    }

    private void addF32(
            GgufTestFiles g, SplittableRandom r, String gguf, String name, int rows, int cols, int ropeHeads) {
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextGaussian() / Math.sqrt(cols)) + (rows == 1 ? 1 : 0);
        hf.put(name, w);
        float[] stored = ropeHeads > 0 ? permute(w, ropeHeads, cols) : w;
        ByteBuffer b = ByteBuffer.allocate(4 * w.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : stored) b.putFloat(v);
        g.tensor(gguf, rows == 1 ? new long[] {cols} : new long[] {cols, rows}, GgmlType.F32.id, b.array());
    }

    private void addQuantized(
            GgufTestFiles g, SplittableRandom r, String gguf, String name, int rows, int cols, GgmlType type) {
        byte[] data = randomData(type, rows * cols, r);
        double[] exact = reference(type, data, rows * cols);
        float[] w = new float[exact.length];
        for (int i = 0; i < w.length; i++) w[i] = (float) exact[i];
        hf.put(name, w);
        g.tensor(gguf, new long[] {cols, rows}, type.id, data);
    }

    @Test
    void convertsToAJlamaDirectoryWithHfLayoutWeights() throws IOException {
        Path gguf = tinyLlama(null).write(dir.resolve("tiny.gguf"));
        Path out = dir.resolve("out");
        GgufConverter.Result result = GgufConverter.convert(gguf, out, GgufConverter.Precision.F32, null);
        assertEquals(2 + 9 * LAYERS, result.tensors());
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(
                    List.of("out", "tiny.gguf"),
                    files.map(p -> p.getFileName().toString()).sorted().toList(),
                    "no temporary directory left behind");
        }
        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertEquals("llama", config.path("model_type").asText());
        assertEquals(HIDDEN, config.path("hidden_size").asInt());
        assertEquals(KV_HEADS, config.path("num_key_value_heads").asInt());
        assertEquals(100000.0, config.path("rope_theta").asDouble());
        assertEquals(1e-5, config.path("rms_norm_eps").asDouble());
        assertTrue(config.path("tie_word_embeddings").asBoolean());
        assertEquals(1, config.path("bos_token_id").asInt());
        assertEquals(2, config.path("eos_token_id").asInt());

        WeightLoader weights = SafeTensorSupport.loadWeights(out.toFile());
        assertEquals(hf.keySet(), weights.tensorInfoMap().keySet());
        for (Map.Entry<String, float[]> e : hf.entrySet()) {
            try (AbstractTensor t = weights.load(e.getKey())) {
                assertEquals(DType.F32, t.dType());
                float[] want = e.getValue();
                int cols = t.shape().dims() == 1 ? want.length : t.shape().last();
                for (int i = 0; i < want.length; i++) {
                    float got = t.shape().dims() == 1 ? t.get(i) : t.get(i / cols, i % cols);
                    assertEquals(want[i], got, 0f, e.getKey() + " element " + i);
                }
            }
        }
    }

    @Test
    void bf16RoundsEachWeightToNearestEven() throws IOException {
        Path gguf = tinyLlama(null).write(dir.resolve("tiny.gguf"));
        Path out = dir.resolve("bf16");
        GgufConverter.convert(gguf, out, GgufConverter.Precision.BF16, null);
        WeightLoader weights = SafeTensorSupport.loadWeights(out.toFile());
        String name = "model.layers.1.self_attn.q_proj.weight";
        float[] want = hf.get(name);
        try (AbstractTensor t = weights.load(name)) {
            assertEquals(DType.BF16, t.dType());
            for (int i = 0; i < want.length; i++) {
                float got = t.get(i / HIDDEN, i % HIDDEN);
                float bound = Math.ulp(want[i]) * (1 << 15); // half a bf16 ulp: 2^16 / 2 float ulps
                assertTrue(Math.abs(got - want[i]) <= bound, name + " element " + i + ": " + got + " vs " + want[i]);
                assertEquals(0, Float.floatToRawIntBits(got) & 0xFFFF);
            }
        }
    }

    @Test
    void jlamaLoadsTheConversionAndItsTokenizerAndTemplate() throws IOException {
        Path out = dir.resolve("out");
        GgufConverter.convert(tinyLlama(null).write(dir.resolve("tiny.gguf")), out, GgufConverter.Precision.F32, null);
        AbstractModel model = ModelSupport.loadModel(out.toFile(), DType.F32, DType.I8);
        try {
            assertEquals(HIDDEN / HEADS, model.getConfig().headSize);
            assertEquals(vocabulary().size(), model.getConfig().vocabularySize);
            ByteLevelBpeTokenizer tokenizer = new ByteLevelBpeTokenizer(out);
            // "hello" merges to one token; " é" is the bytes 0x20 0xC3 0xA9 as GPT-2 symbols; specials stay whole
            long hello = vocabulary().indexOf("hello");
            long space = vocabulary().indexOf("\u0120"),
                    c3 = vocabulary().indexOf("\u00c3"),
                    a9 = vocabulary().indexOf("\u00a9");
            assertArrayEquals(
                    new long[] {1, hello, space, c3, a9, 2}, tokenizer.encode("<|im_start|>hello \u00e9<|im_end|>"));
            assertEquals(
                    "<|im_start|>hello \u00e9<|im_end|>", tokenizer.decode(new long[] {1, hello, space, c3, a9, 2}));
            assertEquals(
                    "<|im_start|>user\nhi<|im_end|>\n",
                    model.promptSupport()
                            .orElseThrow()
                            .builder()
                            .addUserMessage("hi")
                            .build()
                            .getPrompt());
            KvBufferCache.KvBuffer kv = new KvBufferCache(model).getEphemeralKvBuffer();
            try (AbstractTensor h = model.batchForward(new int[] {1, (int) hello, 2}, 0, kv);
                    AbstractTensor logits =
                            model.makeDenseTensor(1, vocabulary().size())) {
                int next = model.sample(h.slice(2), 0f, 0f, logits);
                assertTrue(next >= 0 && next < vocabulary().size());
                for (int i = 0; i < vocabulary().size(); i++) assertTrue(Float.isFinite(logits.get(0, i)));
            }
        } finally {
            model.close();
        }
    }

    // ---- bad models: one line, nothing left behind ----

    private void convertFails(GgufTestFiles g, String fragment) throws IOException {
        Path gguf = g.write(dir.resolve("bad.gguf"));
        Path out = dir.resolve("out");
        GgufException e = assertThrows(
                GgufException.class, () -> GgufConverter.convert(gguf, out, GgufConverter.Precision.F32, null));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertTrue(e.getMessage().startsWith(gguf.toString() + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' should mention " + fragment);
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(
                    List.of("bad.gguf"),
                    files.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void missingTensor() throws IOException {
        convertFails(
                tinyLlama(g -> g.tensors.removeIf(t -> t.name().equals("blk.1.ffn_up.weight"))),
                "has no tensor 'blk.1.ffn_up.weight'");
    }

    @Test
    void wrongShape() throws IOException {
        convertFails(
                tinyLlama(g -> g.tensor("blk.0.attn_k.weight.x", new long[] {1}, 0, new byte[4])),
                "tensor 'blk.0.attn_k.weight.x' is not part of a llama model Jlama can run");
        convertFails(
                tinyLlama(g -> {
                    g.tensors.removeIf(t -> t.name().equals("blk.0.attn_v.weight"));
                    g.tensor("blk.0.attn_v.weight", new long[] {HIDDEN, 16}, 0, new byte[4 * HIDDEN * 16]);
                }),
                "tensor 'blk.0.attn_v.weight' has shape [16, 64] (row-major), expected [32, 64] from the metadata");
    }

    @Test
    void unsupportedArchitectureAndVocabulary() throws IOException {
        convertFails(
                tinyLlama(g -> g.meta.replaceAll(
                        m -> m.key().equals("general.architecture") ? new Meta(m.key(), STRING, "qwen2", -1) : m)),
                "architecture 'qwen2' is not supported");
        convertFails(
                tinyLlama(g -> g.meta.replaceAll(
                        m -> m.key().equals("tokenizer.ggml.model") ? new Meta(m.key(), STRING, "llama", -1) : m)),
                "tokenizer.ggml.model is 'llama'; only byte-level BPE ('gpt2') can be converted");
        convertFails(
                tinyLlama(g -> g.meta.replaceAll(
                        m -> m.key().equals("tokenizer.ggml.pre") ? new Meta(m.key(), STRING, "mystery", -1) : m)),
                "tokenizer.ggml.pre is 'mystery'");
        convertFails(
                tinyLlama(g -> g.meta.replaceAll(
                        m -> m.key().equals("llama.rope.dimension_count") ? new Meta(m.key(), UINT32, 8, -1) : m)),
                "llama.rope.dimension_count is 8, but Jlama needs it to equal hidden size / heads = 16");
        convertFails(
                tinyLlama(g -> g.meta.replaceAll(
                        m -> m.key().equals("tokenizer.ggml.eos_token_id") ? new Meta(m.key(), UINT32, 99999, -1) : m)),
                "tokenizer.ggml.eos_token_id is 99999, outside the vocabulary of 263 tokens");
    }

    @Test
    void refusesANonEmptyOutputDirectory() throws IOException {
        Path gguf = tinyLlama(null).write(dir.resolve("tiny.gguf"));
        Path out = Files.createDirectories(dir.resolve("out"));
        Files.writeString(out.resolve("keep.txt"), "mine");
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> GgufConverter.convert(gguf, out, GgufConverter.Precision.F32, null));
        assertTrue(e.getMessage().contains("already exists and is not empty"), e.getMessage());
        assertEquals("mine", Files.readString(out.resolve("keep.txt")));
    }
}
