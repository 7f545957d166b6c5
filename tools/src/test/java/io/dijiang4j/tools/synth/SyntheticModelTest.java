package io.dijiang4j.tools.synth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.ModelSupport;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.safetensors.prompt.PromptContext;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Installation;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.profile.Backend;
import io.dijiang4j.plugin.profile.FeatureMapKind;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The plugin on synthetic llama models (random weights, real shapes) written by the test. */
class SyntheticModelTest {
    static final SyntheticModels.Shape SHAPE = SyntheticModels.Shape.TINY.withContextLength(8448);

    @TempDir
    static Path temp;

    static Path f32;
    static Path q4;
    static Path bf16;
    static Path qwen2;

    @BeforeAll
    static void writeModels() throws Exception {
        f32 = SyntheticModels.write(SHAPE, temp.resolve("tiny-f32"), DType.F32, 3);
        q4 = SyntheticModels.write(SHAPE, temp.resolve("tiny-q4"), DType.Q4, 3);
        bf16 = toBf16(f32, temp.resolve("tiny-bf16"));
        qwen2 = withQwen2Biases(f32, temp.resolve("tiny-qwen2"));
    }

    static Profile profile(Path dir, Mode mode) {
        return Profile.defaults(ModelReference.local(dir))
                .withMode(mode)
                .withBackend(Backend.CPU)
                .withFeatures(FeatureMapKind.WDCF, 32);
    }

    static int[] randomTokens(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = 3 + r.nextInt(SHAPE.vocab() - 3);
        return t;
    }

    @Test
    void kernelizedStateIsConstantWhileVanillaKvGrows() {
        int[] tokens = randomTokens(8192, 1);
        for (Mode mode : List.of(Mode.DIJIANG, Mode.HYBRID)) {
            try (DiJiangModel model = DiJiang.load(profile(f32, mode).withHybrid(4, 64));
                    Session s = model.newSession()) {
                s.append(java.util.Arrays.copyOf(tokens, 256));
                long at256 = s.stateBytes();
                s.append(java.util.Arrays.copyOfRange(tokens, 256, 8192));
                long at8192 = s.stateBytes();
                System.out.printf(
                        "%s: state %d bytes at 256 positions, %d bytes at %d positions%n",
                        mode.key(), at256, at8192, s.position());
                assertEquals(8192, s.position());
                assertEquals(at256, at8192, mode.key());
                for (float v : s.lastLogits().orElseThrow()) assertTrue(Float.isFinite(v));
            }
        }
        try (DiJiangModel model = DiJiang.load(profile(f32, Mode.SOFTMAX));
                Session s = model.newSession()) {
            s.append(java.util.Arrays.copyOf(tokens, 256));
            long at256 = s.stateBytes();
            s.append(java.util.Arrays.copyOfRange(tokens, 256, 2048));
            long at2048 = s.stateBytes();
            System.out.printf(
                    "softmax (Jlama KV cache): %d bytes at 256 positions, %d bytes at 2048 positions%n", at256, at2048);
            long perToken = 2L * SHAPE.kvHeads() * SHAPE.headSize() * Float.BYTES * SHAPE.layers();
            assertEquals(256 * perToken, at256);
            assertEquals(2048 * perToken, at2048);
        }
    }

    @Test
    void q4WeightsWorkAndTheFullWindowHybridMatchesSoftmax() {
        int[] tokens = randomTokens(150, 2);
        try (DiJiangModel hybrid = DiJiang.load(profile(q4, Mode.HYBRID).withHybrid(4, 4096));
                DiJiangModel softmax = DiJiang.load(profile(q4, Mode.SOFTMAX));
                Session h = hybrid.newSession();
                Session s = softmax.newSession()) {
            float[][] a = h.appendAll(tokens);
            float[][] b = s.appendAll(tokens);
            double worst = 0;
            for (int p = 0; p < tokens.length; p++)
                for (int v = 0; v < a[p].length; v++) worst = Math.max(worst, Math.abs(a[p][v] - b[p][v]));
            System.out.printf("Q4: hybrid (window 4096) vs softmax, max |logit difference| %.3g%n", worst);
            assertTrue(worst < 1e-3, "max logit difference " + worst);
        }
    }

    @Test
    void bf16WeightsWorkAndTheFullWindowHybridMatchesSoftmax() {
        int[] tokens = randomTokens(100, 4);
        try (DiJiangModel hybrid = DiJiang.load(profile(bf16, Mode.HYBRID).withHybrid(4, 4096));
                DiJiangModel softmax = DiJiang.load(profile(bf16, Mode.SOFTMAX));
                Session h = hybrid.newSession();
                Session s = softmax.newSession()) {
            float[][] a = h.appendAll(tokens);
            float[][] b = s.appendAll(tokens);
            double worst = 0;
            for (int p = 0; p < tokens.length; p++)
                for (int v = 0; v < a[p].length; v++) worst = Math.max(worst, Math.abs(a[p][v] - b[p][v]));
            double largest = 0;
            for (float[] row : b) for (float v : row) largest = Math.max(largest, Math.abs(v));
            StringBuilder first = new StringBuilder();
            for (int p = 0; p < 4; p++) {
                double w = 0;
                for (int v = 0; v < a[p].length; v++) w = Math.max(w, Math.abs(a[p][v] - b[p][v]));
                first.append(String.format(" %.2g", w));
            }
            System.out.printf(
                    "BF16: hybrid (window 4096) vs softmax, max |logit difference| %.3g, largest |logit| %.3g, first positions%s%n",
                    worst, largest, first);
            // Jlama rounds the attention output to BF16 (the model's working type) before the output projection: the
            // kernel's float sums, 1e-7 away from Jlama's, flip an occasional rounding by one BF16 step (2^-8 relative)
            assertTrue(worst < 2e-2, "max logit difference " + worst);
            for (int p = 0; p < 4; p++)
                for (int v = 0; v < a[p].length; v++) assertEquals(b[p][v], a[p][v], 1e-5, "position " + p);
        }
    }

    /** The same model with every F32 tensor rounded to BF16 (round to nearest even), as a safetensors file. */
    static Path toBf16(Path source, Path target) throws Exception {
        Files.createDirectories(target);
        for (String f : List.of("config.json", "tokenizer.json", "tokenizer_config.json")) {
            if (Files.exists(source.resolve(f))) Files.copy(source.resolve(f), target.resolve(f));
        }
        byte[] all = Files.readAllBytes(source.resolve("model.safetensors"));
        java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(all).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int headerLength = (int) in.getLong(0);
        ObjectMapper json = new ObjectMapper();
        ObjectNode header =
                (ObjectNode) json.readTree(new String(all, 8, headerLength, java.nio.charset.StandardCharsets.UTF_8));
        ObjectNode out = json.createObjectNode();
        java.io.ByteArrayOutputStream data = new java.io.ByteArrayOutputStream();
        for (var it = header.fields(); it.hasNext(); ) {
            var e = it.next();
            if (e.getKey().equals("__metadata__")) {
                out.set(e.getKey(), e.getValue());
                continue;
            }
            ObjectNode t = (ObjectNode) e.getValue().deepCopy();
            long start = t.get("data_offsets").get(0).asLong();
            long end = t.get("data_offsets").get(1).asLong();
            assertEquals("F32", t.get("dtype").asText());
            long newStart = data.size();
            for (long o = start; o < end; o += 4) {
                int bits = in.getInt((int) (8 + headerLength + o));
                int rounded = (bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16;
                data.write(rounded & 0xFF);
                data.write((rounded >>> 8) & 0xFF);
            }
            t.put("dtype", "BF16");
            t.putArray("data_offsets").add(newStart).add(data.size());
            out.set(e.getKey(), t);
        }
        byte[] headerBytes = json.writeValueAsBytes(out);
        java.nio.ByteBuffer length = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        length.putLong(headerBytes.length);
        try (var os = Files.newOutputStream(target.resolve("model.safetensors"))) {
            os.write(length.array());
            os.write(headerBytes);
            data.writeTo(os);
        }
        return target;
    }

    @Test
    void qwen2BiasesAreAppliedAndTheFullWindowHybridMatchesSoftmax() {
        int[] tokens = randomTokens(120, 6);
        try (DiJiangModel hybrid = DiJiang.load(profile(qwen2, Mode.HYBRID).withHybrid(4, 4096));
                DiJiangModel softmax = DiJiang.load(profile(qwen2, Mode.SOFTMAX));
                DiJiangModel llama = DiJiang.load(profile(f32, Mode.SOFTMAX));
                Session h = hybrid.newSession();
                Session s = softmax.newSession();
                Session l = llama.newSession()) {
            float[][] a = h.appendAll(tokens);
            float[][] b = s.appendAll(tokens);
            float[][] withoutBiases = l.appendAll(tokens);
            double worst = 0;
            double biasEffect = 0;
            for (int p = 0; p < tokens.length; p++)
                for (int v = 0; v < a[p].length; v++) {
                    worst = Math.max(worst, Math.abs(a[p][v] - b[p][v]));
                    biasEffect = Math.max(biasEffect, Math.abs(b[p][v] - withoutBiases[p][v]));
                }
            System.out.printf(
                    "qwen2 (q/k/v biases): hybrid (window 4096) vs softmax, max |logit difference| %.3g;"
                            + " the biases move the logits by up to %.3g%n",
                    worst, biasEffect);
            assertTrue(biasEffect > 0.05, "the biases must matter for this test to mean anything: " + biasEffect);
            assertTrue(worst < 1e-3, "max logit difference " + worst);
        }
    }

    /** The F32 model as a qwen2 model: config model_type qwen2 and random q/k/v biases appended. */
    static Path withQwen2Biases(Path source, Path target) throws Exception {
        Files.createDirectories(target);
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) {
            if (Files.exists(source.resolve(f))) Files.copy(source.resolve(f), target.resolve(f));
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode config =
                (ObjectNode) json.readTree(source.resolve("config.json").toFile());
        config.put("model_type", "qwen2");
        json.writeValue(target.resolve("config.json").toFile(), config);
        byte[] all = Files.readAllBytes(source.resolve("model.safetensors"));
        java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(all).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int headerLength = (int) in.getLong(0);
        ObjectNode header =
                (ObjectNode) json.readTree(new String(all, 8, headerLength, java.nio.charset.StandardCharsets.UTF_8));
        java.io.ByteArrayOutputStream data = new java.io.ByteArrayOutputStream();
        data.write(all, 8 + headerLength, all.length - 8 - headerLength);
        SplittableRandom random = new SplittableRandom(9);
        for (int layer = 0; layer < SHAPE.layers(); layer++) {
            for (String proj : List.of("q_proj", "k_proj", "v_proj")) {
                int width = (proj.equals("q_proj") ? SHAPE.heads() : SHAPE.kvHeads()) * SHAPE.headSize();
                ObjectNode t = json.createObjectNode();
                t.put("dtype", "F32");
                t.putArray("shape").add(width);
                long start = data.size();
                java.nio.ByteBuffer values =
                        java.nio.ByteBuffer.allocate(4 * width).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < width; i++) values.putFloat((float) (0.5 * random.nextGaussian()));
                data.write(values.array());
                t.putArray("data_offsets").add(start).add(data.size());
                header.set("model.layers." + layer + ".self_attn." + proj + ".bias", t);
            }
        }
        byte[] headerBytes = json.writeValueAsBytes(header);
        java.nio.ByteBuffer length = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        length.putLong(headerBytes.length);
        try (var os = Files.newOutputStream(target.resolve("model.safetensors"))) {
            os.write(length.array());
            os.write(headerBytes);
            data.writeTo(os);
        }
        return target;
    }

    @Test
    void theLayerComputesNaiveLinearAttentionOverPrefillAndDecodeCalls() {
        Profile profile = profile(f32, Mode.DIJIANG).withFeatures(FeatureMapKind.WDCF, 24);
        int qw = SHAPE.heads() * SHAPE.headSize();
        int kw = SHAPE.kvHeads() * SHAPE.headSize();
        int length = 170;
        float[] q = new float[length * qw], k = new float[length * kw], v = new float[length * kw];
        float[] out = new float[length * qw];
        AtomicInteger seen = new AtomicInteger();
        try (DiJiangModel model = DiJiang.load(profile);
                Session s = model.newSession()) {
            model.setObserver((layer, start, n, lq, lk, lv, lout) -> {
                if (layer != 1) return;
                System.arraycopy(lq, 0, q, (int) start * qw, n * qw);
                System.arraycopy(lk, 0, k, (int) start * kw, n * kw);
                System.arraycopy(lv, 0, v, (int) start * kw, n * kw);
                System.arraycopy(lout, 0, out, (int) start * qw, n * qw);
                seen.addAndGet(n);
            });
            int[] tokens = randomTokens(length, 8);
            s.append(java.util.Arrays.copyOf(tokens, 150));
            for (int i = 150; i < length; i++) s.append(tokens[i]);
            assertEquals(length, seen.get());
            var spec = Installation.spec(profile, model.config());
            var shape = new io.dijiang4j.attention.AttentionShape(SHAPE.heads(), SHAPE.kvHeads(), SHAPE.headSize());
            double[] expected =
                    io.dijiang4j.attention.ops.linear.NaiveLinearAttention.forward(shape, spec, q, k, v, length);
            double worst = 0;
            for (int i = 0; i < out.length; i++) {
                worst = Math.max(worst, Math.abs(out[i] - expected[i]) / (1e-3 + Math.abs(expected[i])));
            }
            assertTrue(worst < 1e-3, "max relative difference " + worst);
        }
    }

    @Test
    void installsIntoAModelLoadedElsewhereAndUninstallsCleanly() {
        AbstractModel jlama = ModelSupport.loadModel(f32.toFile(), DType.F32, DType.F32);
        try {
            List<String> before = vanilla(jlama);
            AtomicInteger observed = new AtomicInteger();
            try (DiJiangModel model = DiJiang.install(jlama, profile(f32, Mode.DIJIANG))) {
                model.setObserver((layer, start, length, q, k, v, out) -> {
                    assertEquals(length * SHAPE.heads() * SHAPE.headSize(), q.length);
                    assertEquals(length * SHAPE.kvHeads() * SHAPE.headSize(), k.length);
                    observed.incrementAndGet();
                });
                try (Session s = model.newSession()) {
                    s.generate(new int[] {1, 5, 9}, GenerationOptions.greedy(4).withStopAtEndToken(false), t -> {});
                }
                // one prefill call and four decode calls (the last token fed too) per layer
                assertEquals(SHAPE.layers() * 5, observed.get());
                assertNotEquals(before, vanilla(jlama), "the kernelized layers are in use");
                assertThrows(IllegalStateException.class, () -> DiJiang.install(jlama, profile(f32, Mode.HYBRID)));
            }
            assertEquals(before, vanilla(jlama), "original attention restored");
        } finally {
            jlama.close();
        }
    }

    static List<String> vanilla(AbstractModel jlama) {
        List<String> pieces = new ArrayList<>();
        jlama.generate(UUID.randomUUID(), PromptContext.of("abc"), 0f, 24, (s, t) -> pieces.add(s));
        return pieces;
    }

    @Test
    void unsupportedArchitectureAndMissingDirectoryAreClearErrors() throws Exception {
        Path other = Files.createDirectories(temp.resolve("gpt2"));
        ObjectMapper json = new ObjectMapper();
        ObjectNode config =
                (ObjectNode) json.readTree(f32.resolve("config.json").toFile());
        config.put("model_type", "gpt2");
        json.writeValue(other.resolve("config.json").toFile(), config);
        var e = assertThrows(IllegalArgumentException.class, () -> DiJiang.load(profile(other, Mode.HYBRID)));
        assertEquals("key 'model': unsupported architecture gpt2 (supported: [llama, mistral, qwen2])", e.getMessage());
        var missing = assertThrows(
                IllegalArgumentException.class, () -> DiJiang.load(profile(temp.resolve("none"), Mode.HYBRID)));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
    }
}
