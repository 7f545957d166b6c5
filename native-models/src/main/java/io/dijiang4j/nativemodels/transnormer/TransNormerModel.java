package io.dijiang4j.nativemodels.transnormer;

import io.dijiang4j.nativemodels.JsonConfig;
import io.dijiang4j.nativemodels.Linear;
import io.dijiang4j.nativemodels.NativeModel;
import io.dijiang4j.nativemodels.NativeOps;
import io.dijiang4j.nativemodels.NativeSession;
import io.dijiang4j.nativemodels.NativeTokenizer;
import io.dijiang4j.plugin.generation.TokenCodec;
import io.dijiang4j.plugin.io.SafeTensors;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.function.DoubleUnaryOperator;

/**
 * A TransNormerLLM checkpoint in OpenNLPLab's HF layout, run natively.
 *
 * <p>Block: {@code x += GLA(SRMSNorm x); x += SGLU(SRMSNorm x)}, SRMSNorm without a scale (eps 1e-6). GLA: {@code
 * q, k, v, u = chunk4(x W_qkvu)}, {@code q, k = act(q), act(k)} (SiLU in the released models), LRPE on the layers
 * {@code linear_use_lrpe_list} names ({@code [x cos(theta n), x sin(theta n)]} with the stored {@code theta}),
 * {@code o_n = sum_{j<=n} lambda^(n-j) (q_n.k_j) v_j} per head (no softmax, no scale, no denominator), SRMSNorm
 * over the merged heads, times u, out_proj. SGLU: {@code l3((l1 x) o (l2 x))}. The embedding is scaled by
 * sqrt(d) unless {@code no_scale_embedding}. Decay per head and layer as the released code builds it: ALiBi
 * slopes {@code s_h} (2^(-8(h+1)/H) for a power-of-two H), {@code lambda_(h,l) = exp(-s_h (1 - l/(L-1) +
 * 1e-5))}; powers are formed as {@code exp(-s d)} for d >= 0 only.
 *
 * <p>Prefill: Lightning blocks (intra-block masked product + inter-block state). Decode: {@code kv = lambda kv +
 * k v^T, o = q^T kv}, state in float64. Not on {@code io.dijiang4j.attention.ops.linear}: its memory keeps
 * non-negative features as logarithms (that is how it never overflows), and q, k here are signed (SiLU's negative
 * lobe, LRPE's cos and sin); this is flash-linear-attention's other method, identity features without a denominator
 * (lightning attention).
 */
public final class TransNormerModel implements NativeModel {

    public static final int DEFAULT_BLOCK = 64;

    /** Tensor names of the released HF code. */
    public static final class Names {
        private Names() {}

        public static final String EMBED = "model.embed_tokens.weight";
        public static final String LM_HEAD = "lm_head.weight";

        public static String layer(int l, String suffix) {
            return "model.layers." + l + "." + suffix;
        }

        public static final String QKVU = "token_mixer.qkvu_proj";
        public static final String OUT = "token_mixer.out_proj";
        public static final String THETA = "token_mixer.lrpe.theta";
        public static final String GLU1 = "channel_mixer.l1";
        public static final String GLU2 = "channel_mixer.l2";
        public static final String GLU3 = "channel_mixer.l3";
    }

    private record Layer(Linear qkvu, Linear out, double[] theta, Linear l1, Linear l2, Linear l3, double[] rate) {}

    private final TransNormerConfig cfg;
    private final float[] embed;
    private final Linear lmHead;
    private final Layer[] layers;
    private final DoubleUnaryOperator act;
    private final Optional<TokenCodec> tokenizer;
    private int blockSize = DEFAULT_BLOCK;

    private TransNormerModel(TransNormerConfig cfg, SafeTensors.Reader st, Optional<TokenCodec> tokenizer) {
        this.cfg = cfg;
        this.tokenizer = tokenizer;
        this.act = NativeOps.activation(cfg.activation());
        int d = cfg.embedDim();
        int hd = cfg.hiddenDim();
        int g = cfg.gluDim();
        int nh = cfg.numHeads();
        embed = st.get(Names.EMBED, cfg.vocabSize(), d).data();
        lmHead = Linear.fromOutIn(
                st.has(Names.LM_HEAD)
                        ? st.get(Names.LM_HEAD, cfg.vocabSize(), d).data()
                        : embed,
                null,
                cfg.vocabSize(),
                d);
        double[] slopes = slopes(nh);
        layers = new Layer[cfg.numLayers()];
        for (int l = 0; l < layers.length; l++) {
            double[] theta = null;
            if (cfg.lrpeLayers()[l]) {
                String name = Names.layer(l, Names.THETA);
                int e = cfg.headDim();
                theta = new double[nh * e];
                if (st.has(name)) {
                    float[] t = st.get(name, nh, 1, e).data();
                    for (int i = 0; i < t.length; i++) theta[i] = t[i];
                } else {
                    theta = defaultTheta(nh, e);
                }
            }
            double[] rate = new double[nh];
            for (int h = 0; h < nh; h++) rate[h] = decayRate(slopes[h], l, cfg.numLayers());
            layers[l] = new Layer(
                    linear(st, l, Names.QKVU, 4 * hd, d),
                    linear(st, l, Names.OUT, d, hd),
                    theta,
                    linear(st, l, Names.GLU1, g, d),
                    linear(st, l, Names.GLU2, g, d),
                    linear(st, l, Names.GLU3, d, g),
                    rate);
        }
    }

    private Linear linear(SafeTensors.Reader st, int l, String module, int out, int in) {
        return Linear.fromOutIn(
                st.get(Names.layer(l, module + ".weight"), out, in).data(), bias(st, l, module, out), out, in);
    }

    private float[] bias(SafeTensors.Reader st, int l, String module, int n) {
        String name = Names.layer(l, module + ".bias");
        if (!cfg.bias()) return null;
        return st.get(name, n).data();
    }

    public static TransNormerModel load(Path dir) {
        TransNormerConfig cfg = TransNormerConfig.from(JsonConfig.read(dir));
        return new TransNormerModel(cfg, SafeTensors.openModel(dir), NativeTokenizer.open(dir, cfg.vocabSize()));
    }

    /** The released code's slopes: ALiBi's get_slopes (2^(-8(h+1)/H) for a power-of-two H). */
    public static double[] slopes(int n) {
        double log2 = Math.log(n) / Math.log(2);
        if (Math.abs(log2 - Math.rint(log2)) < 1e-12) {
            double start = Math.pow(2, -Math.pow(2, -(log2 - 3)));
            double[] s = new double[n];
            for (int i = 0; i < n; i++) s[i] = start * Math.pow(start, i);
            return s;
        }
        int closest = 1 << (int) Math.floor(log2);
        double[] base = slopes(closest);
        double[] extra = slopes(2 * closest);
        double[] s = Arrays.copyOf(base, n);
        for (int i = 0; i < n - closest; i++) s[closest + i] = extra[2 * i];
        return s;
    }

    /** s_h (1 - l/(L-1) + 1e-5): the per-layer decay rate, lambda = exp(-rate). */
    public static double decayRate(double slope, int layer, int layers) {
        return slope * (1 - (double) layer / (layers - 1) + 1e-5);
    }

    /** The Lrpe initialisation: theta = 10000^(-2 j / (H e)) over the flattened [H][e] index j. */
    public static double[] defaultTheta(int heads, int headDim) {
        int d = heads * headDim;
        double[] t = new double[d];
        for (int j = 0; j < d; j++) t[j] = Math.pow(10000, -2.0 / d * j);
        return t;
    }

    public TransNormerModel withBlockSize(int block) {
        if (block < 1) throw new IllegalArgumentException("block size must be >= 1");
        this.blockSize = block;
        return this;
    }

    public TransNormerConfig config() {
        return cfg;
    }

    @Override
    public String architecture() {
        return "transnormer";
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

    private int keyDim(int l) {
        return layers[l].theta == null ? cfg.headDim() : 2 * cfg.headDim();
    }

    private final class Session implements NativeSession {
        private final double[][][] kv; // [layer][head][dk * e]
        private int position;

        Session() {
            kv = new double[cfg.numLayers()][cfg.numHeads()][];
            for (int l = 0; l < kv.length; l++) {
                for (int h = 0; h < cfg.numHeads(); h++) kv[l][h] = new double[keyDim(l) * cfg.headDim()];
            }
        }

        @Override
        public long position() {
            return position;
        }

        @Override
        public long stateSize() {
            long n = 0;
            for (double[][] l : kv) for (double[] h : l) n += h.length;
            return n;
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
            int d = cfg.embedDim();
            int t = tokens.length;
            float scale = cfg.scaleEmbedding() ? (float) Math.sqrt(d) : 1f;
            float[][] x = new float[t][d];
            for (int i = 0; i < t; i++) {
                int tok = tokens[i];
                if (tok < 0 || tok >= cfg.vocabSize()) {
                    throw new IllegalArgumentException("token id " + tok + " outside vocabulary " + cfg.vocabSize());
                }
                for (int j = 0; j < d; j++) x[i][j] = scale * embed[tok * d + j];
            }
            for (int l = 0; l < layers.length; l++) layer(l, x, recurrent);
            position += t;
            int first = allLogits ? 0 : t - 1;
            float[][] normed = new float[t - first][];
            for (int i = first; i < t; i++) normed[i - first] = NativeOps.rmsNorm(x[i], null, 1e-6);
            float[][] logits = lmHead.apply(normed);
            for (float[] row : logits) NativeOps.requireFinite(row, "TransNormer logits");
            return logits;
        }

        private void layer(int l, float[][] x, boolean recurrent) {
            Layer w = layers[l];
            int d = cfg.embedDim();
            int hd = cfg.hiddenDim();
            int nh = cfg.numHeads();
            int e = cfg.headDim();
            int dk = keyDim(l);
            int t = x.length;
            double[][][] q = new double[nh][t][dk];
            double[][][] k = new double[nh][t][dk];
            double[][][] v = new double[nh][t][e];
            float[][] u = new float[t][];
            final int base0 = position;
            float[][] normed = new float[t][];
            NativeOps.forEachIndex(t, i -> normed[i] = NativeOps.rmsNorm(x[i], null, 1e-6));
            float[][] qkvuAll = w.qkvu.apply(normed);
            NativeOps.forEachIndex(t, i -> {
                float[] qkvu = qkvuAll[i];
                u[i] = Arrays.copyOfRange(qkvu, 3 * hd, 4 * hd);
                for (int h = 0; h < nh; h++) {
                    for (int j = 0; j < e; j++) {
                        double qa = act.applyAsDouble(qkvu[h * e + j]);
                        double ka = act.applyAsDouble(qkvu[hd + h * e + j]);
                        v[h][i][j] = qkvu[2 * hd + h * e + j];
                        if (w.theta == null) {
                            q[h][i][j] = qa;
                            k[h][i][j] = ka;
                        } else {
                            double ang = w.theta[h * e + j] * (base0 + i);
                            double c = Math.cos(ang);
                            double s = Math.sin(ang);
                            q[h][i][j] = qa * c;
                            q[h][i][e + j] = qa * s;
                            k[h][i][j] = ka * c;
                            k[h][i][e + j] = ka * s;
                        }
                    }
                }
            });
            float[][] o = new float[t][hd];
            // heads write disjoint columns of o and own their state
            NativeOps.forEachIndex(nh, h -> {
                double[][] oh = recurrent
                        ? recurrent(kv[l][h], w.rate[h], q[h], k[h], v[h])
                        : lightning(kv[l][h], w.rate[h], q[h], k[h], v[h]);
                for (int i = 0; i < t; i++) {
                    for (int j = 0; j < e; j++) o[i][h * e + j] = (float) oh[i][j];
                }
            });
            float[][] gatedO = new float[t][];
            NativeOps.forEachIndex(t, i -> {
                float[] n = NativeOps.rmsNorm(o[i], null, 1e-6);
                for (int j = 0; j < hd; j++) n[j] *= u[i][j];
                gatedO[i] = n;
            });
            float[][] attn = w.out.apply(gatedO);
            float[][] xn = new float[t][];
            NativeOps.forEachIndex(t, i -> {
                for (int j = 0; j < d; j++) x[i][j] += attn[i][j];
                xn[i] = NativeOps.rmsNorm(x[i], null, 1e-6);
            });
            float[][] a = w.l1.apply(xn);
            float[][] b = w.l2.apply(xn);
            NativeOps.forEachIndex(t, i -> {
                for (int j = 0; j < a[i].length; j++) a[i][j] *= b[i][j];
            });
            float[][] mlp = w.l3.apply(a);
            NativeOps.forEachIndex(t, i -> {
                for (int j = 0; j < d; j++) x[i][j] += mlp[i][j];
            });
        }

        /** kv = lambda kv + k v^T; o = q^T kv. */
        private double[][] recurrent(double[] state, double rate, double[][] q, double[][] k, double[][] v) {
            int dk = q[0].length;
            int e = v[0].length;
            double lambda = Math.exp(-rate);
            double[][] o = new double[q.length][e];
            for (int i = 0; i < q.length; i++) {
                for (int a = 0; a < dk; a++) {
                    for (int j = 0; j < e; j++) state[a * e + j] = lambda * state[a * e + j] + k[i][a] * v[i][j];
                }
                for (int a = 0; a < dk; a++) {
                    for (int j = 0; j < e; j++) o[i][j] += q[i][a] * state[a * e + j];
                }
            }
            return o;
        }

        /**
         * Lightning blocks: O_r = sum_{c<=r} lambda^(r-c) (q_r.k_c) v_c + lambda^(r+1) q_r^T KV; KV = lambda^len KV +
         * sum_c lambda^(len-1-c) k_c v_c^T.
         */
        private double[][] lightning(double[] state, double rate, double[][] q, double[][] k, double[][] v) {
            int dk = q[0].length;
            int e = v[0].length;
            int t = q.length;
            double[][] o = new double[t][e];
            double[] pow = new double[blockSize + 1];
            for (int i = 0; i <= blockSize; i++) pow[i] = Math.exp(-rate * i);
            for (int start = 0; start < t; start += blockSize) {
                int len = Math.min(blockSize, t - start);
                for (int r = 0; r < len; r++) {
                    double[] qr = q[start + r];
                    double[] orow = o[start + r];
                    for (int a = 0; a < dk; a++) {
                        double qa = qr[a] * pow[r + 1];
                        for (int j = 0; j < e; j++) orow[j] += qa * state[a * e + j];
                    }
                    for (int c = 0; c <= r; c++) {
                        double dot = 0;
                        double[] kc = k[start + c];
                        for (int a = 0; a < dk; a++) dot += qr[a] * kc[a];
                        double coef = pow[r - c] * dot;
                        double[] vc = v[start + c];
                        for (int j = 0; j < e; j++) orow[j] += coef * vc[j];
                    }
                }
                for (int idx = 0; idx < state.length; idx++) state[idx] *= pow[len];
                for (int c = 0; c < len; c++) {
                    double[] kc = k[start + c];
                    double[] vc = v[start + c];
                    double wgt = pow[len - 1 - c];
                    for (int a = 0; a < dk; a++) {
                        double ka = wgt * kc[a];
                        for (int j = 0; j < e; j++) state[a * e + j] += ka * vc[j];
                    }
                }
            }
            return o;
        }
    }
}
