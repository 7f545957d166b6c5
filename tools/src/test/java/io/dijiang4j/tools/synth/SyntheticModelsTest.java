package io.dijiang4j.tools.synth;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.ModelSupport;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.safetensors.prompt.PromptSupport;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;
import io.dijiang4j.tools.cli.Main;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticModelsTest {

    /** Short context: Jlama builds a RoPE table of the full context length at load time. */
    static final SyntheticModels.Shape TINY = SyntheticModels.Shape.TINY.withContextLength(1024);

    @TempDir
    Path tmp;

    @Test
    void tinyF32LoadsInVanillaJlamaAndGivesFiniteDistinctDistributions() throws Exception {
        Path dir = SyntheticModels.write(TINY, tmp.resolve("tiny"), DType.F32, 7);
        float[][] probs = nextTokenProbabilities(dir, DType.F32, new int[][] {{1, 75, 80, 85}, {1, 40, 41}});
        for (float[] p : probs) checkDistribution(p, TINY.vocab());
        assertFalse(Arrays.equals(probs[0], probs[1]), "different prompts must give different distributions");
    }

    @Test
    void tinyQ4LoadsInVanillaJlamaAndTracksTheF32Model() throws Exception {
        Path f32 = SyntheticModels.write(TINY, tmp.resolve("f32"), DType.F32, 11);
        Path q4 = SyntheticModels.write(TINY, tmp.resolve("q4"), DType.Q4, 11);
        assertTrue(Files.size(q4.resolve("model.safetensors")) * 4 < Files.size(f32.resolve("model.safetensors")));
        int[][] prompts = {{1, 60, 70, 80, 90, 100}};
        float[] pf = nextTokenProbabilities(f32, DType.F32, prompts)[0];
        float[] pq = nextTokenProbabilities(q4, DType.Q4, prompts)[0];
        checkDistribution(pq, TINY.vocab());
        // 4-bit weights perturb the logits but the two models must stay clearly related.
        assertTrue(correlation(log(pf), log(pq)) > 0.8, "Q4 log-probabilities do not follow the F32 model's");
    }

    @Test
    void sameSeedGivesIdenticalBytesAndAnotherSeedDifferent() throws Exception {
        for (DType dtype : new DType[] {DType.F32, DType.Q4}) {
            Path a = SyntheticModels.write(TINY, tmp.resolve("a" + dtype), dtype, 3);
            Path b = SyntheticModels.write(TINY, tmp.resolve("b" + dtype), dtype, 3);
            Path c = SyntheticModels.write(TINY, tmp.resolve("c" + dtype), dtype, 4);
            for (String f :
                    new String[] {"config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"})
                assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);
            assertFalse(Arrays.equals(
                    Files.readAllBytes(a.resolve("model.safetensors")),
                    Files.readAllBytes(c.resolve("model.safetensors"))));
        }
    }

    @Test
    void jlamaTokenizerRoundTripsTextAndRendersTheChatTemplate() throws Exception {
        Path dir = SyntheticModels.write(TINY, tmp.resolve("tok"), DType.F32, 1);
        AbstractModel model = ModelSupport.loadModel(dir.toFile(), DType.F32, DType.F32);
        try {
            String text = "Hello, world! 1+1=2\n\ttabs; Latin-1: café über ñ";
            long[] ids = model.getTokenizer().encode(text);
            assertEquals(text.length(), ids.length);
            for (int i = 0; i < ids.length; i++)
                assertEquals(ByteTokenizerFiles.FIRST_BYTE_ID + text.charAt(i), ids[i]);
            assertEquals(text, model.getTokenizer().decode(ids));

            PromptSupport prompts = model.promptSupport().orElseThrow();
            String rendered = prompts.builder().addUserMessage("hi").build().getPrompt();
            assertTrue(rendered.contains("<|user|>\nhi"), rendered);
            long[] chatIds = model.getTokenizer().encode(rendered);
            assertTrue(Arrays.stream(chatIds).anyMatch(id -> id == ByteTokenizerFiles.EOS_ID), "EOS is one token");
        } finally {
            model.close();
        }
    }

    @Test
    void cliWritesAModelAndRejectsBadInput() throws Exception {
        Path out = tmp.resolve("cli");
        assertEquals(0, Main.run("synth-model", "--shape", "tiny", "--out", out.toString(), "--context-length", "512"));
        assertTrue(Files.exists(out.resolve("model.safetensors")));
        try (Stream<Path> siblings = Files.list(tmp)) {
            assertEquals(1, siblings.count(), "no temporary directory left behind");
        }
        assertEquals(2, Main.run("synth-model", "--shape", "tiny", "--out", out.toString()), "existing output");
        assertEquals(
                2,
                Main.run(
                        "synth-model",
                        "--shape",
                        "huge",
                        "--out",
                        tmp.resolve("x").toString()));
        assertEquals(
                2,
                Main.run(
                        "synth-model",
                        "--shape",
                        "tiny",
                        "--dtype",
                        "BF16",
                        "--out",
                        tmp.resolve("y").toString()));
        assertThrows(
                IllegalArgumentException.class, () -> new SyntheticModels.Shape("bad", 64, 1, 4, 3, 16, 64, 512, 64));
    }

    static float[][] nextTokenProbabilities(Path dir, DType dtype, int[][] prompts) {
        AbstractModel model = ModelSupport.loadModel(dir.toFile(), DType.F32, dtype == DType.Q4 ? DType.I8 : DType.F32);
        try (KvBufferCache cache = new KvBufferCache(model)) {
            float[][] out = new float[prompts.length][];
            for (int i = 0; i < prompts.length; i++) {
                try (KvBufferCache.KvBuffer kv = cache.getEphemeralKvBuffer();
                        AbstractTensor last = lastRow(model.batchForward(prompts[i], 0, kv))) {
                    out[i] = model.getLogits(last);
                }
            }
            return out;
        } finally {
            model.close();
        }
    }

    private static AbstractTensor lastRow(AbstractTensor batch) {
        int rows = batch.shape().first();
        return rows == 1 ? batch : batch.slice(rows - 1);
    }

    static void checkDistribution(float[] p, int vocab) {
        assertEquals(vocab, p.length);
        double sum = 0, max = 0;
        for (float x : p) {
            assertTrue(Float.isFinite(x) && x >= 0, "probability " + x);
            sum += x;
            max = Math.max(max, x);
        }
        assertEquals(1.0, sum, 1e-3);
        assertTrue(max < 0.5, "random weights should not give a near one-hot distribution, max " + max);
    }

    static double[] log(float[] p) {
        return IntStreamHolder.map(p);
    }

    static double correlation(double[] a, double[] b) {
        double ma = Arrays.stream(a).average().orElseThrow(),
                mb = Arrays.stream(b).average().orElseThrow();
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.length; i++) {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        return sab / Math.sqrt(saa * sbb);
    }

    private static final class IntStreamHolder {
        static double[] map(float[] p) {
            double[] r = new double[p.length];
            for (int i = 0; i < p.length; i++) r[i] = Math.log(p[i]);
            return r;
        }
    }
}
