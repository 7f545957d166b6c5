package io.dijiang4j.nativemodels.dijiang;

import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.FeatureMap.Normalization;
import io.dijiang4j.attention.features.ProjectionFeatureMap;
import io.dijiang4j.attention.ops.linear.ChunkLinearAttention;
import io.dijiang4j.attention.ops.linear.FusedRecurrentLinearAttention;
import io.dijiang4j.attention.ops.linear.KernelMemory;
import io.dijiang4j.nativemodels.JsonConfig;
import io.dijiang4j.nativemodels.Linear;
import io.dijiang4j.nativemodels.NativeModel;
import io.dijiang4j.nativemodels.NativeOps;
import io.dijiang4j.nativemodels.NativeSession;
import io.dijiang4j.nativemodels.NativeTokenizer;
import io.dijiang4j.plugin.generation.TokenCodec;
import io.dijiang4j.plugin.io.SafeTensors;
import io.dijiang4j.plugin.io.SafeTensors.Tensor;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.function.DoubleUnaryOperator;
import java.util.logging.Logger;

/**
 * A DiJiang checkpoint as released (Pythia / GPT-NeoX with DiJiang attention), run natively.
 *
 * <p>Per layer: {@code x + attn(LN1 x) + mlp(LN2 x)} (parallel residual; sequential when the config says so). The
 * attention: fused query_key_value in GPT-NeoX's head-interleaved layout {@code [heads][3][head_size]}, rotate-half
 * RoPE on the first {@code rotary_ndims} dims, {@code phi(x) = softmax(x P)} over the head_size features with the
 * stored {@code proj_matrix} P (no 1/sqrt d, no denominator), score {@code D1[n] D2[j] phi(q_n).phi(k_j)} for
 * {@code j <= n}, then {@code dense(SiLU(x W_G) o GroupNorm(o))} with head_size groups.
 *
 * <p>The attention runs on the kernel library's linear forms with a per-position decay ({@link
 * ChunkLinearAttention} for prefill, {@link FusedRecurrentLinearAttention} for decode, one {@link KernelMemory} per
 * layer and head): phi is the {@link Normalization#SOFTMAX} {@link ProjectionFeatureMap} of P, and the decay is
 * never formed as {@code D1[n] D2[j]} products of huge and tiny numbers but as the per-position coefficients
 * {@code a_n = D1[n]/D1[n-1]}, {@code b_n = D1[n] D2[n]} ({@code S_n = a_n S_(n-1) + b_n phi(k_n) v_n^T}, output
 * {@code phi(q_n)^T S_n}), split by {@link DiJiangDecay} into the kernel's decay, a scale on the value and a scale
 * on the output. The kernel normalizes; DiJiang does not, so the model takes the kernel's numerator (its {@code
 * accumulate}, times {@code exp(c)}) and leaves the denominator. Past the stored positions (or from the first
 * stored position whose value is zero or not finite) the decay extrapolates {@code a_n = gamma_h, b_n = 1} with the
 * initialisation's {@code gamma_h = 1 - exp(linspace(ln 1/32, ln 1/512, H))_h}. Positions are absolute in both RoPE
 * and the decay, so cached decoding matches a full forward pass (the released code's cached path uses position 0's
 * decay and masks all keys but the first). The output gate and GroupNorm are not attention: they stay here.
 */
public final class DiJiangNeoXModel implements NativeModel {

    private static final Logger LOG = Logger.getLogger(DiJiangNeoXModel.class.getName());
    public static final int DEFAULT_BLOCK = 64;

    /** Tensor names of the released code (HF GPT-NeoX names plus DiJiang's attention parameters). */
    public static final class Names {
        private Names() {}

        public static final String EMBED = "gpt_neox.embed_in.weight";
        public static final String FINAL_NORM = "gpt_neox.final_layer_norm";
        public static final String LM_HEAD = "embed_out.weight";

        public static String layer(int l, String suffix) {
            return "gpt_neox.layers." + l + "." + suffix;
        }

        public static final String LN1 = "input_layernorm";
        public static final String LN2 = "post_attention_layernorm";
        public static final String QKV = "attention.query_key_value";
        public static final String DENSE = "attention.dense";
        public static final String PROJ = "attention.proj_matrix";
        public static final String D1 = "attention.D1";
        public static final String D2 = "attention.D2";
        public static final String GATE = "attention.W_G";
        public static final String GROUP_NORM = "attention.group_norm";
        public static final String MLP_UP = "mlp.dense_h_to_4h";
        public static final String MLP_DOWN = "mlp.dense_4h_to_h";
    }

    private record Layer(
            float[] ln1w,
            float[] ln1b,
            float[] ln2w,
            float[] ln2b,
            Linear qkv,
            Linear dense,
            FeatureMap featureMap,
            Linear gate,
            float[] gnW,
            float[] gnB,
            Linear up,
            Linear down,
            DiJiangDecay[] decay) {}

    private final DiJiangConfig cfg;
    private final float[] embed;
    private final float[] finalW;
    private final float[] finalB;
    private final Linear lmHead;
    private final Layer[] layers;
    private final double[] invFreq;
    private final DoubleUnaryOperator act;
    private final Optional<TokenCodec> tokenizer;
    private int blockSize = DEFAULT_BLOCK;

    private DiJiangNeoXModel(DiJiangConfig cfg, SafeTensors.Reader st, Optional<TokenCodec> tokenizer) {
        this.cfg = cfg;
        this.tokenizer = tokenizer;
        this.act = NativeOps.activation(cfg.hiddenAct());
        int h = cfg.hiddenSize();
        int hs = cfg.headSize();
        int nh = cfg.numHeads();
        int inter = cfg.intermediateSize();
        embed = st.get(Names.EMBED, cfg.vocabSize(), h).data();
        finalW = st.get(Names.FINAL_NORM + ".weight", h).data();
        finalB = st.get(Names.FINAL_NORM + ".bias", h).data();
        lmHead = Linear.fromOutIn(
                st.has(Names.LM_HEAD) || !cfg.tieWordEmbeddings()
                        ? st.get(Names.LM_HEAD, cfg.vocabSize(), h).data()
                        : embed,
                null,
                cfg.vocabSize(),
                h);
        double[] gamma = initialDecay(nh);
        int rd = cfg.rotaryDims();
        invFreq = new double[rd / 2];
        for (int i = 0; i < rd / 2; i++) invFreq[i] = 1.0 / Math.pow(cfg.rotaryBase(), (2.0 * i) / rd);
        layers = new Layer[cfg.numLayers()];
        for (int l = 0; l < layers.length; l++) {
            float[] d1 = positionTable(st, Names.layer(l, Names.D1), nh);
            float[] d2 = positionTable(st, Names.layer(l, Names.D2), nh);
            if (d1.length != d2.length)
                throw new IllegalArgumentException("D1 and D2 of layer " + l + " differ in size");
            int stored = d1.length / nh;
            DiJiangDecay[] decay = new DiJiangDecay[nh];
            for (int head = 0; head < nh; head++) decay[head] = decay(d1, d2, head, stored, l, gamma[head]);
            layers[l] = new Layer(
                    vec(st, l, Names.LN1 + ".weight", h),
                    vec(st, l, Names.LN1 + ".bias", h),
                    vec(st, l, Names.LN2 + ".weight", h),
                    vec(st, l, Names.LN2 + ".bias", h),
                    Linear.fromOutIn(
                            st.get(Names.layer(l, Names.QKV + ".weight"), 3 * h, h)
                                    .data(),
                            optional(st, Names.layer(l, Names.QKV + ".bias"), 3 * h),
                            3 * h,
                            h),
                    Linear.fromOutIn(
                            st.get(Names.layer(l, Names.DENSE + ".weight"), h, h)
                                    .data(),
                            optional(st, Names.layer(l, Names.DENSE + ".bias"), h),
                            h,
                            h),
                    ProjectionFeatureMap.symmetric(
                            "dijiang-checkpoint",
                            hs,
                            hs,
                            Normalization.SOFTMAX,
                            st.get(Names.layer(l, Names.PROJ), hs, hs).data(),
                            new float[hs]),
                    Linear.fromInOut(st.get(Names.layer(l, Names.GATE), h, h).data(), h, h),
                    vec(st, l, Names.GROUP_NORM + ".weight", h),
                    vec(st, l, Names.GROUP_NORM + ".bias", h),
                    Linear.fromOutIn(
                            st.get(Names.layer(l, Names.MLP_UP + ".weight"), inter, h)
                                    .data(),
                            optional(st, Names.layer(l, Names.MLP_UP + ".bias"), inter),
                            inter,
                            h),
                    Linear.fromOutIn(
                            st.get(Names.layer(l, Names.MLP_DOWN + ".weight"), h, inter)
                                    .data(),
                            optional(st, Names.layer(l, Names.MLP_DOWN + ".bias"), h),
                            h,
                            inter),
                    decay);
        }
    }

    /** Loads a checkpoint directory (config.json, model.safetensors, optional tokenizer.json). */
    public static DiJiangNeoXModel load(Path dir) {
        DiJiangConfig cfg = DiJiangConfig.from(JsonConfig.read(dir));
        SafeTensors.Reader st = SafeTensors.openModel(dir);
        return new DiJiangNeoXModel(cfg, st, NativeTokenizer.open(dir, cfg.vocabSize()));
    }

    /** gamma_h = 1 - exp(linspace(ln 1/32, ln 1/512, H))_h, the released code's initial decay per head. */
    public static double[] initialDecay(int heads) {
        double[] g = new double[heads];
        double lo = Math.log(1.0 / 32);
        double hi = Math.log(1.0 / 512);
        for (int h = 0; h < heads; h++) {
            double t = heads == 1 ? lo : lo + (hi - lo) * h / (heads - 1);
            g[h] = 1 - Math.exp(t);
        }
        return g;
    }

    /** D1/D2 as stored ([1, H, P, 1] in the released code; [H, P, 1] and [H, P] accepted). */
    private static float[] positionTable(SafeTensors.Reader st, String name, int heads) {
        Tensor t = st.get(name);
        int[] s = t.shape();
        int lead = s.length == 4 ? 1 : 0;
        boolean ok = (s.length == 4 && s[0] == 1 && s[1] == heads && s[3] == 1)
                || (s.length == 3 && s[0] == heads && s[2] == 1)
                || (s.length == 2 && s[0] == heads);
        if (!ok || s[lead + 1] < 1) {
            throw new IllegalArgumentException("tensor '" + name + "' has shape " + java.util.Arrays.toString(s)
                    + ", expected [1, " + heads + ", positions, 1]");
        }
        return t.data();
    }

    private static DiJiangDecay decay(float[] d1, float[] d2, int head, int stored, int layer, double gamma) {
        int usable = 0;
        double[] a = new double[stored];
        double[] b = new double[stored];
        for (int n = 0; n < stored; n++) {
            double cur = d1[head * stored + n];
            double bn = cur * d2[head * stored + n];
            // a zero D1 would make a_n = 0 (log -infinity) and the next a_n a division by zero
            if (cur == 0 || !Double.isFinite(cur) || !Double.isFinite(bn)) break;
            a[n] = n == 0 ? 1.0 : cur / d1[head * stored + n - 1];
            b[n] = bn;
            usable = n + 1;
        }
        if (usable < stored) {
            LOG.warning("DiJiang layer " + layer + " head " + head + ": D1/D2 unusable from position " + usable
                    + " (zero or not finite); extrapolating with gamma from there");
        }
        return new DiJiangDecay(Arrays.copyOf(a, usable), Arrays.copyOf(b, usable), gamma);
    }

    private static float[] vec(SafeTensors.Reader st, int l, String suffix, int n) {
        return st.get(Names.layer(l, suffix), n).data();
    }

    private static float[] optional(SafeTensors.Reader st, String name, int n) {
        return st.has(name) ? st.get(name, n).data() : null;
    }

    /** Lightning block size of the chunked prefill (tests vary it). */
    public DiJiangNeoXModel withBlockSize(int block) {
        if (block < 1) throw new IllegalArgumentException("block size must be >= 1");
        this.blockSize = block;
        return this;
    }

    public DiJiangConfig config() {
        return cfg;
    }

    @Override
    public String architecture() {
        return "dijiang";
    }

    @Override
    public int vocabSize() {
        return cfg.vocabSize();
    }

    @Override
    public Optional<TokenCodec> tokenizer() {
        return tokenizer;
    }

    @Override
    public NativeSession newSession() {
        return new Session();
    }

    /** GPT-NeoX rotate-half RoPE on x[off .. off+rotaryDims) at absolute position pos, in place. */
    private void rope(double[] x, int pos) {
        int half = cfg.rotaryDims() / 2;
        for (int i = 0; i < half; i++) {
            double ang = pos * invFreq[i];
            double c = Math.cos(ang);
            double s = Math.sin(ang);
            double x1 = x[i];
            double x2 = x[i + half];
            x[i] = x1 * c - x2 * s;
            x[i + half] = x2 * c + x1 * s;
        }
    }

    private final class Session implements NativeSession {
        private final KernelMemory[][] memory; // [layer][head]
        private final FusedRecurrentLinearAttention[][] decode; // [layer][head]: the layer's map, a head's scratch
        private final ChunkLinearAttention[] prefillBlocks; // [head]: scratch, pointed at each layer's map in turn
        private int position;

        Session() {
            int hs = cfg.headSize();
            int nh = cfg.numHeads();
            memory = new KernelMemory[layers.length][nh];
            decode = new FusedRecurrentLinearAttention[layers.length][nh];
            for (int l = 0; l < layers.length; l++) {
                for (int head = 0; head < nh; head++) {
                    memory[l][head] = new KernelMemory(hs, hs);
                    decode[l][head] = new FusedRecurrentLinearAttention(layers[l].featureMap, hs, 1.0, 1.0);
                }
            }
            prefillBlocks = new ChunkLinearAttention[nh];
        }

        @Override
        public long position() {
            return position;
        }

        @Override
        public long stateSize() {
            int hs = cfg.headSize();
            return (long) cfg.numLayers() * cfg.numHeads() * (hs * hs + 2L * hs); // sums, normalizer, offsets
        }

        @Override
        public float[][] prefill(int[] tokens, boolean allLogits) {
            return forward(tokens, false, allLogits);
        }

        @Override
        public float[] step(int token) {
            return forward(new int[] {token}, true, false)[0];
        }

        private float[][] forward(int[] tokens, boolean recurrent, boolean allLogits) {
            if (tokens.length == 0) throw new IllegalArgumentException("no tokens to process");
            int h = cfg.hiddenSize();
            int t = tokens.length;
            float[][] x = new float[t][];
            for (int i = 0; i < t; i++) {
                int tok = tokens[i];
                if (tok < 0 || tok >= cfg.vocabSize()) {
                    throw new IllegalArgumentException("token id " + tok + " outside vocabulary " + cfg.vocabSize());
                }
                x[i] = java.util.Arrays.copyOfRange(embed, tok * h, (tok + 1) * h);
            }
            for (int l = 0; l < layers.length; l++) x = layer(l, x, recurrent);
            position += t;
            int first = allLogits ? 0 : t - 1;
            float[][] normed = new float[t - first][];
            for (int i = first; i < t; i++)
                normed[i - first] = NativeOps.layerNorm(x[i], finalW, finalB, cfg.layerNormEps());
            float[][] logits = lmHead.apply(normed);
            for (float[] row : logits) NativeOps.requireFinite(row, "DiJiang logits");
            return logits;
        }

        private float[][] layer(int l, float[][] x, boolean recurrent) {
            Layer w = layers[l];
            int h = cfg.hiddenSize();
            int nh = cfg.numHeads();
            int hs = cfg.headSize();
            int t = x.length;
            double eps = cfg.layerNormEps();
            float[][] normed = new float[t][];
            float[][] q = new float[nh][t * hs]; // [head][position][hs], rows as the kernel reads them
            float[][] k = new float[nh][t * hs];
            float[][] v = new float[nh][t * hs]; // times DiJiangDecay.valueScale
            final int base0 = position;
            NativeOps.forEachIndex(t, i -> normed[i] = NativeOps.layerNorm(x[i], w.ln1w, w.ln1b, eps));
            float[][] qkvAll = w.qkv.apply(normed);
            NativeOps.forEachIndex(t, i -> {
                float[] qkv = qkvAll[i];
                for (int head = 0; head < nh; head++) {
                    int base = head * 3 * hs; // [heads][3][head_size]
                    double valueScale = w.decay[head].valueScale(base0 + i);
                    double[] qi = new double[hs];
                    double[] ki = new double[hs];
                    for (int j = 0; j < hs; j++) {
                        qi[j] = qkv[base + j];
                        ki[j] = qkv[base + hs + j];
                        v[head][i * hs + j] = (float) (valueScale * qkv[base + 2 * hs + j]);
                    }
                    rope(qi, base0 + i);
                    rope(ki, base0 + i);
                    for (int j = 0; j < hs; j++) {
                        q[head][i * hs + j] = (float) qi[j];
                        k[head][i * hs + j] = (float) ki[j];
                    }
                }
            });
            double[][] o = new double[t][h];
            // heads write disjoint columns of o and own their state
            NativeOps.forEachIndex(nh, head -> {
                if (recurrent) recurrent(l, head, q[head], k[head], v[head], o);
                else chunked(l, head, q[head], k[head], v[head], o);
            });
            float[][] gates = w.gate.apply(normed);
            float[][] gated = new float[t][];
            NativeOps.forEachIndex(t, i -> gated[i] = groupNormGate(w, o[i], gates[i]));
            float[][] attn = w.dense.apply(gated);
            float[][] mid = new float[t][];
            float[][] mlpIn = new float[t][];
            NativeOps.forEachIndex(t, i -> {
                if (cfg.parallelResidual()) {
                    mid[i] = x[i];
                } else {
                    mid[i] = new float[h];
                    for (int j = 0; j < h; j++) mid[i][j] = x[i][j] + attn[i][j];
                }
                mlpIn[i] = NativeOps.layerNorm(mid[i], w.ln2w, w.ln2b, eps);
            });
            float[][] up = w.up.apply(mlpIn);
            NativeOps.forEachIndex(t, i -> {
                for (int j = 0; j < up[i].length; j++) up[i][j] = (float) act.applyAsDouble(up[i][j]);
            });
            float[][] down = w.down.apply(up);
            float[][] out = new float[t][h];
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < h; j++) {
                    out[i][j] = cfg.parallelResidual() ? x[i][j] + attn[i][j] + down[i][j] : mid[i][j] + down[i][j];
                }
            }
            return out;
        }

        /** One token at a time: S = lambda_n S + phi(k_n) v_n^T, then o_n = outputScale_n phi(q_n)^T S. */
        private void recurrent(int l, int head, float[] q, float[] k, float[] v, double[][] o) {
            int hs = cfg.headSize();
            DiJiangDecay decay = layers[l].decay[head];
            KernelMemory s = memory[l][head];
            FusedRecurrentLinearAttention form = decode[l][head];
            double[] numerator = new double[hs];
            for (int i = 0; i < o.length; i++) {
                int pos = position + i;
                form.addKey(s, k, i * hs, v, i * hs, decay.logStep(pos));
                double c = form.loadQuery(s, q, i * hs, 0);
                Arrays.fill(numerator, 0);
                form.accumulate(s, c, 0, numerator); // numerator / exp(c)
                double scale = Math.exp(c) * decay.outputScale(pos);
                for (int j = 0; j < hs; j++) o[i][head * hs + j] = scale * numerator[j];
            }
        }

        /** Blocks of the chunked form; each row's output is its numerator, times outputScale_n. */
        private void chunked(int l, int head, float[] q, float[] k, float[] v, double[][] o) {
            int hs = cfg.headSize();
            int t = o.length;
            DiJiangDecay decay = layers[l].decay[head];
            KernelMemory s = memory[l][head];
            ChunkLinearAttention block = prefillBlocks[head];
            if (block == null || block.capacity() != blockSize) {
                block = prefillBlocks[head] = new ChunkLinearAttention(layers[l].featureMap, hs, blockSize, 1.0);
            }
            block.setMap(layers[l].featureMap, 1.0);
            double[] logDecay = new double[t];
            for (int i = 0; i < t; i++) logDecay[i] = decay.logStep(position + i);
            float[] numerator = new float[blockSize * hs];
            float[] denominator = new float[blockSize];
            for (int start = 0; start < t; start += blockSize) {
                int len = Math.min(blockSize, t - start);
                block.loadKeys(k, start * hs, hs, v, start * hs, hs, len, logDecay, start, 1);
                block.loadState(s);
                double[] rowMax = block.loadQueries(q, start * hs, hs, len, 0, true);
                Arrays.fill(numerator, 0f);
                block.accumulate(rowMax, 0, true, numerator, denominator); // numerator / exp(rowMax)
                block.commitKeys(s);
                for (int r = 0; r < len; r++) {
                    double scale = Math.exp(rowMax[r]) * decay.outputScale(position + start + r);
                    for (int j = 0; j < hs; j++) o[start + r][head * hs + j] = scale * numerator[r * hs + j];
                }
            }
        }

        /** SiLU(x W_G) o GroupNorm(o): num_groups = head_size over the hidden channels, eps 1e-5. */
        private float[] groupNormGate(Layer w, double[] o, float[] gate) {
            int h = cfg.hiddenSize();
            int groups = cfg.headSize();
            int per = h / groups;
            float[] out = new float[h];
            for (int g = 0; g < groups; g++) {
                double mean = 0;
                for (int c = g * per; c < (g + 1) * per; c++) mean += o[c];
                mean /= per;
                double var = 0;
                for (int c = g * per; c < (g + 1) * per; c++) var += (o[c] - mean) * (o[c] - mean);
                var /= per;
                double inv = 1.0 / Math.sqrt(var + 1e-5);
                for (int c = g * per; c < (g + 1) * per; c++) {
                    double gn = (o[c] - mean) * inv * w.gnW[c] + w.gnB[c];
                    out[c] = (float) (NativeOps.silu(gate[c]) * gn);
                }
            }
            return out;
        }
    }
}
