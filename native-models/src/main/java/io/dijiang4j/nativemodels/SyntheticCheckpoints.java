package io.dijiang4j.nativemodels;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.dijiang4j.nativemodels.dijiang.DiJiangNeoXModel;
import io.dijiang4j.nativemodels.mcsd.McsdModel;
import io.dijiang4j.nativemodels.transnormer.TransNormerModel;
import io.dijiang4j.plugin.io.AtomicFiles;
import io.dijiang4j.plugin.io.SafeTensors;
import io.dijiang4j.plugin.io.SafeTensors.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Writes tiny random checkpoints of each native architecture (config.json, model.safetensors, tokenizer.json) with
 * the real tensor names and layouts, for tests and {@code bin/dijiang synth-native}. Random weights: they exercise
 * the formulas, they say nothing about a trained model.
 */
public final class SyntheticCheckpoints {

    /** What was written: the config map and the tensors (as float32 arrays). */
    public record Written(Path dir, Map<String, Object> config, Map<String, Tensor> tensors) {}

    private final Random random;
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    private SyntheticCheckpoints(long seed) {
        this.random = new Random(seed);
    }

    /** Default tiny config of arch (dijiang, transnormer, mcsd), overridden key by key. */
    public static Map<String, Object> defaultConfig(String arch) {
        Map<String, Object> c = new LinkedHashMap<>();
        switch (arch) {
            case NativeModels.DIJIANG -> {
                c.put("architectures", List.of("GPTNeoXForCausalLM"));
                c.put("auto_map", Map.of("AutoModelForCausalLM", "modeling_gpt_neox_dijiang.GPTNeoXForCausalLM"));
                c.put("model_type", "gpt_neox");
                c.put("hidden_size", 32);
                c.put("num_attention_heads", 4);
                c.put("num_hidden_layers", 2);
                c.put("intermediate_size", 64);
                c.put("vocab_size", 256);
                c.put("rotary_pct", 0.25);
                c.put("rotary_emb_base", 10000);
                c.put("layer_norm_eps", 1e-5);
                c.put("use_parallel_residual", true);
                c.put("hidden_act", "gelu");
                c.put("max_position_embeddings", 2048);
                c.put("tie_word_embeddings", false);
            }
            case NativeModels.TRANSNORMER -> {
                c.put("architectures", List.of("TransnormerForCausalLM"));
                c.put("model_type", "transnormer");
                c.put("decoder_embed_dim", 32);
                c.put("hidden_dim", 32);
                c.put("decoder_layers", 3);
                c.put("decoder_attention_heads", 4);
                c.put("glu_dim", 48);
                c.put("vocab_size", 256);
                c.put("bias", false);
                c.put("norm_type", "simplermsnorm");
                c.put("linear_act_fun", "silu");
                c.put("no_scale_embedding", false);
                c.put("linear_use_lrpe_list", List.of(1, 0, 0));
            }
            case NativeModels.MCSD -> {
                c.put("architectures", List.of("McsdForCausalLM"));
                c.put("model_type", "mcsd");
                c.put("hidden_size", 32);
                c.put("num_channels", 4);
                c.put("num_hidden_layers", 2);
                c.put("intermediate_size", 64);
                c.put("vocab_size", 256);
                c.put("rms_norm_eps", 1e-6);
                c.put("fusion", "concat");
                c.put("slope_activation", "silu");
                c.put("decay_gate", "sigmoid");
            }
            default ->
                throw new IllegalArgumentException("unknown architecture '" + arch + "' (dijiang, transnormer, mcsd)");
        }
        return c;
    }

    /** Writes a tiny checkpoint of arch into dir (created if needed). */
    public static Written write(String arch, Path dir, long seed, Map<String, Object> overrides) {
        Map<String, Object> config = defaultConfig(arch);
        config.putAll(overrides);
        SyntheticCheckpoints s = new SyntheticCheckpoints(seed);
        switch (arch) {
            case NativeModels.DIJIANG -> s.dijiang(config);
            case NativeModels.TRANSNORMER -> s.transnormer(config);
            default -> s.mcsd(config);
        }
        try {
            Files.createDirectories(dir);
            ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            AtomicFiles.writeString(dir.resolve("config.json"), om.writeValueAsString(config));
            SafeTensors.write(dir.resolve("model.safetensors"), s.tensors);
            AtomicFiles.writeString(dir.resolve("tokenizer.json"), byteLevelTokenizerJson());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint to " + dir + ": " + e.getMessage(), e);
        }
        return new Written(dir, config, Map.copyOf(s.tensors));
    }

    private static int i(Map<String, Object> c, String key) {
        return ((Number) c.get(key)).intValue();
    }

    private void put(String name, float[] data, int... shape) {
        tensors.put(name, new Tensor(data, shape));
    }

    private float[] normal(int n, double std) {
        float[] a = new float[n];
        for (int k = 0; k < n; k++) a[k] = (float) (random.nextGaussian() * std);
        return a;
    }

    private float[] around(int n, double center, double std) {
        float[] a = normal(n, std);
        for (int k = 0; k < n; k++) a[k] += (float) center;
        return a;
    }

    private void linear(String prefix, int out, int in, boolean bias) {
        put(prefix + ".weight", normal(out * in, 0.8 / Math.sqrt(in)), out, in);
        if (bias) put(prefix + ".bias", normal(out, 0.1), out);
    }

    private void dijiang(Map<String, Object> c) {
        int h = i(c, "hidden_size");
        int nh = i(c, "num_attention_heads");
        int hs = h / nh;
        int inter = i(c, "intermediate_size");
        int vocab = i(c, "vocab_size");
        int positions = i(c, "max_position_embeddings");
        put(DiJiangNeoXModel.Names.EMBED, normal(vocab * h, 1.0), vocab, h);
        put(DiJiangNeoXModel.Names.FINAL_NORM + ".weight", around(h, 1, 0.1), h);
        put(DiJiangNeoXModel.Names.FINAL_NORM + ".bias", normal(h, 0.1), h);
        put(DiJiangNeoXModel.Names.LM_HEAD, normal(vocab * h, 1.0 / Math.sqrt(h)), vocab, h);
        double[] gamma = DiJiangNeoXModel.initialDecay(nh);
        for (int l = 0; l < i(c, "num_hidden_layers"); l++) {
            String p = "gpt_neox.layers." + l + ".";
            put(p + "input_layernorm.weight", around(h, 1, 0.1), h);
            put(p + "input_layernorm.bias", normal(h, 0.1), h);
            put(p + "post_attention_layernorm.weight", around(h, 1, 0.1), h);
            put(p + "post_attention_layernorm.bias", normal(h, 0.1), h);
            linear(p + "attention.query_key_value", 3 * h, h, true);
            linear(p + "attention.dense", h, h, true);
            linear(p + "mlp.dense_h_to_4h", inter, h, true);
            linear(p + "mlp.dense_4h_to_h", h, inter, true);
            put(p + "attention.W_G", normal(h * h, 1.0 / Math.sqrt(h)), h, h);
            put(p + "attention.group_norm.weight", around(h, 1, 0.1), h);
            put(p + "attention.group_norm.bias", normal(h, 0.1), h);
            // proj_matrix as the released code builds it: orthonormal DCT-II times diag(N(0,1) draws), frozen
            float[] proj = new float[hs * hs];
            double[] t = new double[hs];
            for (int k = 0; k < hs; k++) t[k] = random.nextGaussian();
            for (int r = 0; r < hs; r++) {
                for (int k = 0; k < hs; k++) {
                    // scipy dct(eye, axis=0, norm='ortho')[r][k] = s_r cos(pi (2k+1) r / (2 hs))
                    double s = r == 0 ? Math.sqrt(1.0 / hs) : Math.sqrt(2.0 / hs);
                    proj[r * hs + k] = (float) (s * Math.cos(Math.PI * (2 * k + 1) * r / (2.0 * hs)) * t[k]);
                }
            }
            put(p + "attention.proj_matrix", proj, hs, hs);
            // D1 = gamma^n, D2 = gamma^-n, perturbed as training would (so the stored values, not gamma, matter)
            float[] d1 = new float[nh * positions];
            float[] d2 = new float[nh * positions];
            for (int head = 0; head < nh; head++) {
                for (int n = 0; n < positions; n++) {
                    double logG = n * Math.log(gamma[head]);
                    d1[head * positions + n] = (float) (Math.exp(logG) * (1 + 0.1 * random.nextGaussian()));
                    d2[head * positions + n] = (float) (Math.exp(-logG) * (1 + 0.1 * random.nextGaussian()));
                }
            }
            put(p + "attention.D1", d1, 1, nh, positions, 1);
            put(p + "attention.D2", d2, 1, nh, positions, 1);
        }
    }

    private void transnormer(Map<String, Object> c) {
        int d = i(c, "decoder_embed_dim");
        int hd = i(c, "hidden_dim");
        int nh = i(c, "decoder_attention_heads");
        int glu = i(c, "glu_dim");
        int vocab = i(c, "vocab_size");
        boolean bias = Boolean.TRUE.equals(c.get("bias"));
        @SuppressWarnings("unchecked")
        List<Object> lrpe = (List<Object>) c.getOrDefault("linear_use_lrpe_list", List.of());
        put(TransNormerModel.Names.EMBED, normal(vocab * d, 1.0 / Math.sqrt(d)), vocab, d);
        put(TransNormerModel.Names.LM_HEAD, normal(vocab * d, 1.0 / Math.sqrt(d)), vocab, d);
        for (int l = 0; l < i(c, "decoder_layers"); l++) {
            String p = "model.layers." + l + ".";
            linear(p + "token_mixer.qkvu_proj", 4 * hd, d, bias);
            linear(p + "token_mixer.out_proj", d, hd, bias);
            linear(p + "channel_mixer.l1", glu, d, bias);
            linear(p + "channel_mixer.l2", glu, d, bias);
            linear(p + "channel_mixer.l3", d, glu, bias);
            if (l < lrpe.size() && ((Number) lrpe.get(l)).intValue() != 0) {
                int e = hd / nh;
                double[] theta = TransNormerModel.defaultTheta(nh, e);
                float[] t = new float[theta.length];
                // trained theta drifts from its initialisation: perturb so the stored values matter
                for (int k = 0; k < t.length; k++) t[k] = (float) (theta[k] * (1 + 0.2 * random.nextGaussian()));
                put(p + "token_mixer.lrpe.theta", t, nh, 1, e);
            }
        }
    }

    private void mcsd(Map<String, Object> c) {
        int d = i(c, "hidden_size");
        int ch = i(c, "num_channels");
        int dc = d / ch;
        int inter = i(c, "intermediate_size");
        int vocab = i(c, "vocab_size");
        int width = "concat".equals(c.get("fusion")) ? 2 * d : d;
        put(McsdModel.Names.EMBED, normal(vocab * d, 1.0), vocab, d);
        put(McsdModel.Names.FINAL_NORM, around(d, 1, 0.1), d);
        put(McsdModel.Names.LM_HEAD, normal(vocab * d, 1.0 / Math.sqrt(d)), vocab, d);
        for (int l = 0; l < i(c, "num_hidden_layers"); l++) {
            put(McsdModel.Names.layer(l, McsdModel.Names.INPUT_NORM), around(d, 1, 0.1), d);
            put(McsdModel.Names.layer(l, McsdModel.Names.POST_NORM), around(d, 1, 0.1), d);
            for (String w :
                    new String[] {McsdModel.Names.W_U, McsdModel.Names.W_V, McsdModel.Names.W_E, McsdModel.Names.W_F}) {
                put(McsdModel.Names.layer(l, w), normal(ch * dc * dc, 1.0 / Math.sqrt(dc)), ch, dc, dc);
            }
            put(McsdModel.Names.layer(l, McsdModel.Names.OUT), normal(d * width, 0.5 / Math.sqrt(width)), d, width);
            put(McsdModel.Names.layer(l, McsdModel.Names.GATE), normal(inter * d, 1.0 / Math.sqrt(d)), inter, d);
            put(McsdModel.Names.layer(l, McsdModel.Names.UP), normal(inter * d, 1.0 / Math.sqrt(d)), inter, d);
            put(McsdModel.Names.layer(l, McsdModel.Names.DOWN), normal(d * inter, 0.5 / Math.sqrt(inter)), d, inter);
        }
    }

    /**
     * A byte-level BPE tokenizer.json (GPT-2's byte-to-character table, 256 tokens, no merges): every UTF-8 text
     * encodes, one token per byte.
     */
    public static String byteLevelTokenizerJson() {
        Map<String, Object> vocab = new LinkedHashMap<>();
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            int cp = printable ? b : 256 + extra++;
            vocab.put(new String(Character.toChars(cp)), b);
        }
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("dropout", null);
        model.put("unk_token", null);
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("vocab", vocab);
        model.put("merges", List.of());
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("version", "1.0");
        root.put("added_tokens", List.of());
        root.put("normalizer", null);
        root.put(
                "pre_tokenizer",
                Map.of("type", "ByteLevel", "add_prefix_space", false, "trim_offsets", true, "use_regex", true));
        root.put("post_processor", null);
        root.put("decoder", Map.of("type", "ByteLevel"));
        root.put("model", model);
        try {
            return new ObjectMapper().writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
