package io.dijiang4j.nativemodels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.nativemodels.dijiang.DiJiangNeoXModel;
import io.dijiang4j.nativemodels.transnormer.TransNormerModel;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.dijiang4j.plugin.generation.Generator;
import io.dijiang4j.plugin.generation.Sampler;
import io.dijiang4j.plugin.generation.Vocabulary;
import io.dijiang4j.plugin.io.SafeTensors.Tensor;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each native architecture on tiny random checkpoints (real tensor names and layouts, written to a temp dir) against
 * the float64 quadratic reference: chunked prefill, token-by-token recurrent decoding, and mixes of both, from
 * position 0 and mid-sequence.
 */
class NativeModelEquivalenceTest {

    @TempDir
    Path tmp;

    record Case(String arch, Map<String, Object> overrides, int length, int block, long seed) {
        @Override
        public String toString() {
            return arch + " " + overrides + " N=" + length + " B=" + block;
        }
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                        new Case("dijiang", Map.of(), 19, 4, 1),
                        // sequential residual, 2 heads of 12 (rotary 6 of 12), relu MLP... and GQA-free odd sizes
                        new Case(
                                "dijiang",
                                Map.of(
                                        "hidden_size",
                                        24,
                                        "num_attention_heads",
                                        2,
                                        "rotary_pct",
                                        0.5,
                                        "use_parallel_residual",
                                        false),
                                13,
                                5,
                                2),
                        // only 10 stored D1/D2 positions: positions 10..24 extrapolate with a = gamma, b = 1
                        new Case("dijiang", Map.of("max_position_embeddings", 10, "num_hidden_layers", 3), 25, 7, 3),
                        new Case("transnormer", Map.of(), 21, 8, 4),
                        new Case(
                                "transnormer",
                                Map.of(
                                        "hidden_dim",
                                        16,
                                        "decoder_embed_dim",
                                        16,
                                        "decoder_attention_heads",
                                        2,
                                        "linear_use_lrpe_list",
                                        List.of(1, 1, 1),
                                        "no_scale_embedding",
                                        true,
                                        "bias",
                                        true),
                                17,
                                3,
                                5),
                        new Case(
                                "transnormer",
                                Map.of(
                                        "decoder_attention_heads", 8,
                                        "decoder_layers", 2,
                                        "linear_use_lrpe_list", List.of(0, 1)),
                                12,
                                64,
                                6),
                        new Case("mcsd", Map.of(), 20, 1, 7),
                        new Case(
                                "mcsd",
                                Map.of(
                                        "fusion", "add",
                                        "slope_activation", "sigmoid",
                                        "decay_gate", "silu",
                                        "num_channels", 8),
                                15,
                                1,
                                8))
                .map(Arguments::of);
    }

    private NativeModel load(Case c, SyntheticCheckpoints.Written written) {
        NativeModel model = NativeModels.load(written.dir());
        assertEquals(c.arch(), model.architecture());
        if (model instanceof DiJiangNeoXModel dj) dj.withBlockSize(c.block());
        if (model instanceof TransNormerModel tn) tn.withBlockSize(c.block());
        return model;
    }

    static double[][] reference(String arch, SyntheticCheckpoints.Written written, int[] tokens) {
        NaiveReference ref = new NaiveReference(written);
        return switch (arch) {
            case "dijiang" -> ref.dijiang(tokens);
            case "transnormer" -> ref.transnormer(tokens);
            default -> ref.mcsd(tokens);
        };
    }

    static int[] tokens(int n, long seed, int vocab) {
        Random r = new Random(seed * 31 + 7);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(vocab);
        return t;
    }

    /** max |a - b| relative to the reference's scale (at least 1). */
    static void assertClose(double[] ref, float[] got, String what) {
        double scale = 1;
        for (double v : ref) scale = Math.max(scale, Math.abs(v));
        double err = 0;
        for (int i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(ref[i] - got[i]));
        assertTrue(err <= 2e-4 * scale, what + ": max error " + err + " at scale " + scale);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void chunkedPrefillMatchesNaive(Case c) {
        var written = SyntheticCheckpoints.write(c.arch(), tmp.resolve("m"), c.seed(), c.overrides());
        NativeModel model = load(c, written);
        int[] toks = tokens(c.length(), c.seed(), model.vocabSize());
        double[][] ref = reference(c.arch(), written, toks);
        float[][] got = model.newSession().prefill(toks, true);
        assertEquals(toks.length, got.length);
        for (int n = 0; n < toks.length; n++) assertClose(ref[n], got[n], c + " prefill position " + n);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void recurrentDecodingMatchesNaive(Case c) {
        var written = SyntheticCheckpoints.write(c.arch(), tmp.resolve("m"), c.seed(), c.overrides());
        NativeModel model = load(c, written);
        int[] toks = tokens(c.length(), c.seed(), model.vocabSize());
        double[][] ref = reference(c.arch(), written, toks);
        NativeSession s = model.newSession();
        for (int n = 0; n < toks.length; n++) {
            assertEquals(n, s.position());
            assertClose(ref[n], s.step(toks[n]), c + " step position " + n);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void prefillStepsAndPrefillAgainMatchNaive(Case c) {
        var written = SyntheticCheckpoints.write(c.arch(), tmp.resolve("m"), c.seed(), c.overrides());
        NativeModel model = load(c, written);
        int[] toks = tokens(c.length(), c.seed(), model.vocabSize());
        double[][] ref = reference(c.arch(), written, toks);
        NativeSession s = model.newSession();
        int a = c.length() / 3;
        int b = a + 2;
        float[][] first = s.prefill(java.util.Arrays.copyOfRange(toks, 0, a), true);
        for (int n = 0; n < a; n++) assertClose(ref[n], first[n], c + " first prefill " + n);
        for (int n = a; n < b; n++) assertClose(ref[n], s.step(toks[n]), c + " step " + n);
        // a prefill that starts mid-sequence, with a non-empty state; only the last row requested
        float[][] last = s.prefill(java.util.Arrays.copyOfRange(toks, b, toks.length), false);
        assertEquals(1, last.length);
        assertClose(ref[toks.length - 1], last[0], c + " second prefill, last row");
        assertEquals(toks.length, s.position());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void stateSizeIsConstant(Case c) {
        var written = SyntheticCheckpoints.write(c.arch(), tmp.resolve("m"), c.seed(), c.overrides());
        NativeSession s = load(c, written).newSession();
        long before = s.stateSize();
        s.prefill(tokens(c.length(), 1, 256), false);
        assertEquals(before, s.stateSize());
        assertTrue(before > 0);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("archs")
    void threeThousandPositionsStayFinite(String arch) {
        var written = SyntheticCheckpoints.write(arch, tmp.resolve("m"), 11, Map.of());
        NativeModel model = NativeModels.load(written.dir());
        int[] prompt = tokens(40, 11, model.vocabSize());
        // requireFinite inside every forward throws on a NaN/Inf logit; temperature 1 keeps the input varied
        GenerationOptions sampled = new GenerationOptions(2960, 1f, 1f, 0, null, false);
        GenerationResult r = Generator.generate(
                model.newSession(),
                new OnlyTokens(),
                prompt,
                sampled,
                new Sampler(sampled, 5),
                Generator.LastToken.NOT_FED,
                text -> {});
        assertEquals(2960, r.tokens().size());
        for (int t : r.tokens()) assertTrue(t >= 0 && t < model.vocabSize());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("archs")
    void chunkedAndRecurrentAgreePastTheStoredPositions(String arch) {
        // 2100 positions: DiJiang's last 52 run on the extrapolated decay (2048 stored); long decayed sums
        var written = SyntheticCheckpoints.write(arch, tmp.resolve("m"), 13, Map.of());
        NativeModel model = NativeModels.load(written.dir());
        if (model instanceof DiJiangNeoXModel dj) dj.withBlockSize(48);
        if (model instanceof TransNormerModel tn) tn.withBlockSize(48);
        int[] toks = tokens(2100, 13, model.vocabSize());
        NativeSession chunked = model.newSession();
        chunked.prefill(java.util.Arrays.copyOfRange(toks, 0, 2040), false);
        float[][] tail = chunked.prefill(java.util.Arrays.copyOfRange(toks, 2040, 2100), true);
        NativeSession stepped = model.newSession();
        for (int n = 0; n < 2040; n++) stepped.step(toks[n]);
        for (int n = 2040; n < 2100; n++) {
            float[] got = stepped.step(toks[n]);
            double[] ref = new double[got.length];
            for (int v = 0; v < ref.length; v++) ref[v] = tail[n - 2040][v];
            assertClose(ref, got, arch + " position " + n);
        }
    }

    static Stream<String> archs() {
        return Stream.of("dijiang", "transnormer", "mcsd");
    }

    @Test
    void dijiangUsesTheStoredD1D2NotRegeneratedOnes() {
        var written =
                SyntheticCheckpoints.write("dijiang", tmp.resolve("m"), 21, Map.of("max_position_embeddings", 64));
        NativeModel model = NativeModels.load(written.dir());
        int[] toks = tokens(12, 21, model.vocabSize());
        float[][] got = model.newSession().prefill(toks, true);
        // the same weights with the initial tables gamma^n, gamma^-n instead of the stored (perturbed) ones
        Map<String, Tensor> plain = new HashMap<>(written.tensors());
        double[] gamma = DiJiangNeoXModel.initialDecay(4);
        for (int l = 0; l < 2; l++) {
            float[] d1 = new float[4 * 64];
            float[] d2 = new float[4 * 64];
            for (int h = 0; h < 4; h++) {
                for (int n = 0; n < 64; n++) {
                    d1[h * 64 + n] = (float) Math.pow(gamma[h], n);
                    d2[h * 64 + n] = (float) Math.pow(gamma[h], -n);
                }
            }
            plain.put("gpt_neox.layers." + l + ".attention.D1", new Tensor(d1, new int[] {1, 4, 64, 1}));
            plain.put("gpt_neox.layers." + l + ".attention.D2", new Tensor(d2, new int[] {1, 4, 64, 1}));
        }
        double[][] regenerated = new NaiveReference(
                        new SyntheticCheckpoints.Written(written.dir(), written.config(), plain))
                .dijiang(toks);
        double maxDiff = 0;
        for (int n = 0; n < toks.length; n++) {
            for (int v = 0; v < got[n].length; v++)
                maxDiff = Math.max(maxDiff, Math.abs(regenerated[n][v] - got[n][v]));
        }
        assertTrue(maxDiff > 1e-2, "stored D1/D2 should change the logits, max diff " + maxDiff);
    }

    @Test
    void transnormerSlopesFollowTheReleasedSchedule() {
        // ALiBi get_slopes: power of two 2^(-8(h+1)/H); 6 heads = slopes(4) + every other of slopes(8)
        double[] s4 = TransNormerModel.slopes(4);
        for (int h = 0; h < 4; h++) assertEquals(Math.pow(2, -8.0 * (h + 1) / 4), s4[h], 1e-15);
        double[] s6 = TransNormerModel.slopes(6);
        double[] expected = {0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125};
        for (int h = 0; h < 6; h++) assertEquals(expected[h], s6[h], 1e-15);
        assertEquals(0.25 * (1 + 1e-5), TransNormerModel.decayRate(0.25, 0, 5), 1e-15);
        assertEquals(0.25 * 1e-5, TransNormerModel.decayRate(0.25, 4, 5), 1e-15);
    }

    @Test
    void dijiangInitialDecayIsTheReleasedLinspace() {
        double[] g = DiJiangNeoXModel.initialDecay(3);
        assertEquals(1 - 1.0 / 32, g[0], 1e-12);
        assertEquals(1 - Math.sqrt(1.0 / 32 / 512), g[1], 1e-12);
        assertEquals(1 - 1.0 / 512, g[2], 1e-12);
    }

    /** Token ids without text: these checkpoints are random, only the ids matter. */
    private static final class OnlyTokens implements Vocabulary {
        @Override
        public String decode(int token) {
            return "";
        }

        @Override
        public boolean isEndToken(int token) {
            return false;
        }
    }
}
