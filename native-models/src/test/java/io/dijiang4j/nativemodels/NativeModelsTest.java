package io.dijiang4j.nativemodels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.dijiang4j.plugin.generation.Generator;
import io.dijiang4j.plugin.generation.Sampler;
import io.dijiang4j.plugin.generation.TokenCodec;
import io.dijiang4j.plugin.io.SafeTensors;
import io.dijiang4j.plugin.io.SafeTensors.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Dispatch from config.json, loader errors, safetensors dtypes, tokenizer and generation on synthetic checkpoints. */
class NativeModelsTest {

    @TempDir
    Path tmp;

    @Test
    void dispatchReadsModelTypeAndDiJiangMarkers() throws IOException {
        for (String arch : List.of("dijiang", "transnormer", "mcsd")) {
            Path dir = tmp.resolve(arch);
            SyntheticCheckpoints.write(arch, dir, 1, Map.of());
            assertTrue(NativeModels.isNative(dir), arch);
            assertEquals(arch, NativeModels.architectureOf(dir).orElseThrow());
        }
        // DiJiang recognised by its proj_matrix even without an auto_map
        Path noMap = tmp.resolve("nomap");
        Map<String, Object> overrides = new HashMap<>();
        overrides.put("auto_map", Map.of());
        SyntheticCheckpoints.write("dijiang", noMap, 1, overrides);
        assertEquals("dijiang", NativeModels.architectureOf(noMap).orElseThrow());
        // a plain GPT-NeoX (softmax attention) and a llama are not native
        Path plain = tmp.resolve("plain");
        Files.createDirectories(plain);
        Files.writeString(plain.resolve("config.json"), "{\"model_type\": \"gpt_neox\"}");
        SafeTensors.write(
                plain.resolve("model.safetensors"),
                Map.of("gpt_neox.embed_in.weight", new Tensor(new float[4], new int[] {2, 2})));
        assertFalse(NativeModels.isNative(plain));
        Path llama = tmp.resolve("llama");
        Files.createDirectories(llama);
        Files.writeString(llama.resolve("config.json"), "{\"model_type\": \"llama\"}");
        assertFalse(NativeModels.isNative(llama));
        assertFalse(NativeModels.isNative(tmp.resolve("missing")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NativeModels.load(llama));
        assertTrue(e.getMessage().contains("not a native linear-attention checkpoint"), e.getMessage());
    }

    @Test
    void missingTensorWrongShapeAndBadConfigAreOneLineErrors() throws IOException {
        Path dir = tmp.resolve("dj");
        var written = SyntheticCheckpoints.write("dijiang", dir, 2, Map.of());
        Map<String, Tensor> t = new HashMap<>(written.tensors());
        t.remove("gpt_neox.layers.1.attention.proj_matrix");
        SafeTensors.write(dir.resolve("model.safetensors"), t);
        var e = assertThrows(IllegalArgumentException.class, () -> NativeModels.load(dir));
        assertEquals("checkpoint has no tensor 'gpt_neox.layers.1.attention.proj_matrix'", e.getMessage());

        t.put("gpt_neox.layers.1.attention.proj_matrix", new Tensor(new float[9], new int[] {3, 3}));
        SafeTensors.write(dir.resolve("model.safetensors"), t);
        e = assertThrows(IllegalArgumentException.class, () -> NativeModels.load(dir));
        assertTrue(e.getMessage().contains("has shape [3, 3], expected [8, 8]"), e.getMessage());

        Path tn = tmp.resolve("tn");
        SyntheticCheckpoints.write(
                "transnormer", tn, 3, Map.of("decoder_layers", 1, "linear_use_lrpe_list", List.of(1)));
        e = assertThrows(IllegalArgumentException.class, () -> NativeModels.load(tn));
        assertTrue(e.getMessage().contains("decoder_layers must be >= 2"), e.getMessage());

        Path mc = tmp.resolve("mc");
        SyntheticCheckpoints.write("mcsd", mc, 4, Map.of());
        Files.writeString(
                mc.resolve("config.json"),
                Files.readString(mc.resolve("config.json")).replace("\"concat\"", "\"sum\""));
        e = assertThrows(IllegalArgumentException.class, () -> NativeModels.load(mc));
        assertTrue(e.getMessage().contains("fusion must be 'concat' or 'add'"), e.getMessage());

        for (Throwable x : List.of(e)) assertFalse(x.getMessage().contains("\n"));
    }

    @Test
    void nonFiniteD1TablesFallBackToExtrapolation() throws IOException {
        // an fp16-style table whose D1 underflows to 0 after position 5: positions from there use gamma, not NaN
        Path dir = tmp.resolve("dj");
        var written = SyntheticCheckpoints.write("dijiang", dir, 5, Map.of("max_position_embeddings", 16));
        Map<String, Tensor> t = new HashMap<>(written.tensors());
        for (int l = 0; l < 2; l++) {
            Tensor d1 = t.get("gpt_neox.layers." + l + ".attention.D1");
            float[] data = d1.data().clone();
            for (int h = 0; h < 4; h++) for (int n = 5; n < 16; n++) data[h * 16 + n] = 0f;
            t.put("gpt_neox.layers." + l + ".attention.D1", new Tensor(data, d1.shape()));
        }
        SafeTensors.write(dir.resolve("model.safetensors"), t);
        NativeModel model = NativeModels.load(dir);
        float[][] logits = model.newSession()
                .prefill(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, true);
        for (float[] row : logits) for (float v : row) assertTrue(Float.isFinite(v));
    }

    @Test
    void safetensorsReadsF16AndBf16() throws IOException {
        float[] values = {1.5f, -2.25f, 0.0078125f, 65504f};
        Path file = tmp.resolve("model.safetensors");
        String header = "{\"a\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[8,16]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + h.length + 16).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(h.length).put(h);
        for (float v : values) buf.putShort(Float.floatToFloat16(v));
        for (float v : values) buf.putShort((short) (Float.floatToIntBits(v) >>> 16));
        Files.write(file, buf.array());
        SafeTensors.Reader st = SafeTensors.openModel(tmp);
        assertArrayEquals(values, st.get("a", 2, 2).data());
        float[] bf = st.get("b").data();
        for (int i = 0; i < 4; i++) assertEquals(values[i], bf[i], Math.abs(values[i]) / 128);
        var e = assertThrows(IllegalArgumentException.class, () -> st.get("a", 4));
        assertTrue(e.getMessage().contains("expected [4]"));
    }

    @Test
    void tokenizerRoundTripsAndGenerationIsGreedyArgmax() {
        Path dir = tmp.resolve("tn");
        var written = SyntheticCheckpoints.write("transnormer", dir, 9, Map.of());
        NativeModel model = NativeModels.load(dir);
        TokenCodec tok = model.tokenizer().orElseThrow();
        String text = "Hello, world! 42"; // ASCII: Jlama's GPT-2 tokenizer maps code points below 256 as bytes
        int[] ids = tok.encode(text, false);
        assertEquals(text.getBytes(StandardCharsets.UTF_8).length, ids.length);
        assertEquals('H', ids[0]);
        StringBuilder decoded = new StringBuilder();
        for (int id : ids) decoded.append(tok.decode(id));
        assertEquals(text, decoded.toString());

        List<String> streamed = new ArrayList<>();
        GenerationOptions greedy = GenerationOptions.greedy(6);
        GenerationResult r = Generator.generate(
                model.newSession(),
                tok,
                ids,
                greedy,
                new Sampler(greedy, 1),
                Generator.LastToken.NOT_FED,
                streamed::add);
        assertEquals(6, r.tokens().size());
        assertEquals(GenerationResult.StopReason.MAX_TOKENS, r.stopReason());
        assertEquals(r.text(), String.join("", streamed));
        int[] generated = r.tokens().stream().mapToInt(Integer::intValue).toArray();
        // greedy: each token is the argmax of the float64 reference over prompt + generated so far
        int[] all = new int[ids.length + 6];
        System.arraycopy(ids, 0, all, 0, ids.length);
        System.arraycopy(generated, 0, all, ids.length, 6);
        double[][] ref = new NaiveReference(written).transnormer(all);
        for (int i = 0; i < 6; i++) {
            double[] row = ref[ids.length - 1 + i];
            int best = 0;
            for (int v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
            assertEquals(best, generated[i], "token " + i);
        }
        assertThrows(
                IllegalArgumentException.class,
                () -> Generator.generate(
                        model.newSession(),
                        tok,
                        new int[0],
                        greedy,
                        new Sampler(greedy, 1),
                        Generator.LastToken.NOT_FED,
                        x -> {}));
        assertThrows(IllegalArgumentException.class, () -> model.newSession().step(256));
    }
}
