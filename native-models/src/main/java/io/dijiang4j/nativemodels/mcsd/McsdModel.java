package io.dijiang4j.nativemodels.mcsd;

import io.dijiang4j.nativemodels.JsonConfig;
import io.dijiang4j.nativemodels.Linear;
import io.dijiang4j.nativemodels.NativeModel;
import io.dijiang4j.nativemodels.NativeOps;
import io.dijiang4j.nativemodels.NativeSession;
import io.dijiang4j.nativemodels.NativeTokenizer;
import io.dijiang4j.plugin.generation.TokenCodec;
import io.dijiang4j.plugin.io.SafeTensors;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.DoubleUnaryOperator;

/**
 * An MCSD model (arXiv 2406.12230), run natively with its recurrent form. No weights or code were published, so
 * the block layout is this project's reading of the paper (documented in {@link Names} and {@link McsdConfig}):
 *
 * <p>Block: {@code x += out_proj(fuse(Theta_s, Theta_d))} on RMSNorm(x), then {@code x += SwiGLU(RMSNorm x)}.
 * The hidden size D splits into C channels of Dc; per channel c: {@code U, V, E, F = X_c W_U[c], X_c W_V[c],
 * X_c W_E[c], X_c W_F[c]} (weights [C][Dc][Dc], used as {@code x @ W}).
 *
 * <ul>
 *   <li>Slope section, {@code beta_c = 2^(-8(c+1)/C)}: V'_n is the exponential average (weights e^(-beta (n-1-j)),
 *       normalised) of the strictly previous V_j, V'_0 = V_0; {@code Theta_s = act(V') o U}.
 *   <li>Decay section, {@code alpha_c = 1 - 2^(-5-c)}: {@code E'_n = sum_(j>=1) alpha^j E_(n-j)}; {@code Theta_d =
 *       E' o gate(F)}.
 * </ul>
 *
 * Recurrent state per layer (constant in the sequence length): {@code A_n = 1 + e^-beta A_(n-1)}, {@code S_slope =
 * (1 - 1/A_n) S_slope + V_n / A_n}, {@code R = alpha (R + E_n)}; V'_n reads S_slope and E'_n reads R before they
 * take token n. Both sections are element-wise recurrences, so prefill runs the batched projections and the same
 * linear-time scan (there is no quadratic product to block); the quadratic forms are the tests' reference. Not on
 * {@code io.dijiang4j.attention.ops.linear}: there is no query-key product, each hidden element is its own scalar
 * recurrence (the decay section is {@code S = lambda S + phi(k) v^T} only with phi = 1 and a read that leaves out
 * the current token), so the kernel would add feature maps and blocks to a scan of two values per element.
 */
public final class McsdModel implements NativeModel {

    /** Tensor names (this project's layout; MCSD has no released checkpoints). */
    public static final class Names {
        private Names() {}

        public static final String EMBED = "model.embed_tokens.weight";
        public static final String FINAL_NORM = "model.norm.weight";
        public static final String LM_HEAD = "lm_head.weight";

        public static String layer(int l, String suffix) {
            return "model.layers." + l + "." + suffix;
        }

        public static final String INPUT_NORM = "input_norm.weight";
        public static final String POST_NORM = "post_norm.weight";
        public static final String W_U = "mcsd.w_u";
        public static final String W_V = "mcsd.w_v";
        public static final String W_E = "mcsd.w_e";
        public static final String W_F = "mcsd.w_f";
        public static final String OUT = "mcsd.out_proj.weight";
        public static final String GATE = "mlp.gate_proj.weight";
        public static final String UP = "mlp.up_proj.weight";
        public static final String DOWN = "mlp.down_proj.weight";
    }

    private record Layer(
            float[] inNorm,
            float[] postNorm,
            float[] wu,
            float[] wv,
            float[] we,
            float[] wf,
            Linear out,
            Linear gate,
            Linear up,
            Linear down) {}

    private final McsdConfig cfg;
    private final float[] embed;
    private final float[] finalNorm;
    private final Linear lmHead;
    private final Layer[] layers;
    private final double[] slopeDecay; // e^-beta_c
    private final double[] alpha;
    private final DoubleUnaryOperator slopeAct;
    private final DoubleUnaryOperator decayGate;
    private final Optional<TokenCodec> tokenizer;

    private McsdModel(McsdConfig cfg, SafeTensors.Reader st, Optional<TokenCodec> tokenizer) {
        this.cfg = cfg;
        this.tokenizer = tokenizer;
        int d = cfg.hiddenSize();
        int c = cfg.numChannels();
        int dc = cfg.channelSize();
        int inter = cfg.intermediateSize();
        embed = st.get(Names.EMBED, cfg.vocabSize(), d).data();
        finalNorm = st.get(Names.FINAL_NORM, d).data();
        lmHead = Linear.fromOutIn(
                st.has(Names.LM_HEAD)
                        ? st.get(Names.LM_HEAD, cfg.vocabSize(), d).data()
                        : embed,
                null,
                cfg.vocabSize(),
                d);
        slopeDecay = new double[c];
        alpha = new double[c];
        for (int i = 0; i < c; i++) {
            slopeDecay[i] = Math.exp(-slope(i, c));
            alpha[i] = decay(i);
        }
        slopeAct = NativeOps.activation(cfg.slopeActivation());
        decayGate = NativeOps.activation(cfg.decayGate());
        layers = new Layer[cfg.numLayers()];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new Layer(
                    st.get(Names.layer(l, Names.INPUT_NORM), d).data(),
                    st.get(Names.layer(l, Names.POST_NORM), d).data(),
                    st.get(Names.layer(l, Names.W_U), c, dc, dc).data(),
                    st.get(Names.layer(l, Names.W_V), c, dc, dc).data(),
                    st.get(Names.layer(l, Names.W_E), c, dc, dc).data(),
                    st.get(Names.layer(l, Names.W_F), c, dc, dc).data(),
                    Linear.fromOutIn(
                            st.get(Names.layer(l, Names.OUT), d, cfg.fusedWidth())
                                    .data(),
                            null,
                            d,
                            cfg.fusedWidth()),
                    Linear.fromOutIn(
                            st.get(Names.layer(l, Names.GATE), inter, d).data(), null, inter, d),
                    Linear.fromOutIn(st.get(Names.layer(l, Names.UP), inter, d).data(), null, inter, d),
                    Linear.fromOutIn(
                            st.get(Names.layer(l, Names.DOWN), d, inter).data(), null, d, inter));
        }
    }

    public static McsdModel load(Path dir) {
        McsdConfig cfg = McsdConfig.from(JsonConfig.read(dir));
        return new McsdModel(cfg, SafeTensors.openModel(dir), NativeTokenizer.open(dir, cfg.vocabSize()));
    }

    /** beta_c = 2^(-8(c+1)/C). */
    public static double slope(int channel, int channels) {
        return Math.pow(2, -8.0 * (channel + 1) / channels);
    }

    /** alpha_c = 1 - 2^(-5-c). */
    public static double decay(int channel) {
        return 1 - Math.pow(2, -5 - channel);
    }

    public McsdConfig config() {
        return cfg;
    }

    @Override
    public String architecture() {
        return "mcsd";
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

    /** Per channel block-diagonal product: y[c] = x[c] @ W[c]. */
    private float[] channelProject(float[] x, float[] w) {
        int c = cfg.numChannels();
        int dc = cfg.channelSize();
        float[] y = new float[x.length];
        for (int ch = 0; ch < c; ch++) {
            for (int i = 0; i < dc; i++) {
                float xi = x[ch * dc + i];
                int row = (ch * dc + i) * dc;
                for (int j = 0; j < dc; j++) y[ch * dc + j] += xi * w[row + j];
            }
        }
        return y;
    }

    private final class Session implements NativeSession {
        private final double[][] norm; // [layer][channel] A_(n-1)
        private final double[][] slopeState; // [layer][D] S_slope
        private final double[][] decayState; // [layer][D] R
        private int position;

        Session() {
            int l = cfg.numLayers();
            norm = new double[l][cfg.numChannels()];
            slopeState = new double[l][cfg.hiddenSize()];
            decayState = new double[l][cfg.hiddenSize()];
        }

        @Override
        public long position() {
            return position;
        }

        @Override
        public long stateSize() {
            return (long) cfg.numLayers() * (cfg.numChannels() + 2L * cfg.hiddenSize());
        }

        @Override
        public float[][] prefill(int[] tokens, boolean allLogits) {
            return forward(tokens, allLogits);
        }

        @Override
        public float[] step(int token) {
            return forward(new int[] {token}, false)[0];
        }

        private float[][] forward(int[] tokens, boolean allLogits) {
            if (tokens.length == 0) throw new IllegalArgumentException("no tokens to process");
            int d = cfg.hiddenSize();
            int t = tokens.length;
            float[][] x = new float[t][];
            for (int i = 0; i < t; i++) {
                int tok = tokens[i];
                if (tok < 0 || tok >= cfg.vocabSize()) {
                    throw new IllegalArgumentException("token id " + tok + " outside vocabulary " + cfg.vocabSize());
                }
                x[i] = java.util.Arrays.copyOfRange(embed, tok * d, (tok + 1) * d);
            }
            for (int l = 0; l < layers.length; l++) layer(l, x);
            position += t;
            int first = allLogits ? 0 : t - 1;
            float[][] normed = new float[t - first][];
            for (int i = first; i < t; i++) normed[i - first] = NativeOps.rmsNorm(x[i], finalNorm, cfg.rmsNormEps());
            float[][] logits = lmHead.apply(normed);
            for (float[] row : logits) NativeOps.requireFinite(row, "MCSD logits");
            return logits;
        }

        private void layer(int l, float[][] x) {
            Layer w = layers[l];
            int d = cfg.hiddenSize();
            int dc = cfg.channelSize();
            int width = cfg.fusedWidth();
            boolean concat = cfg.fusion().equals("concat");
            double[] a = norm[l];
            double[] s = slopeState[l];
            double[] r = decayState[l];
            int t = x.length;
            float[][] u = new float[t][];
            float[][] v = new float[t][];
            float[][] e = new float[t][];
            float[][] f = new float[t][];
            NativeOps.forEachIndex(t, i -> {
                float[] xn = NativeOps.rmsNorm(x[i], w.inNorm, cfg.rmsNormEps());
                u[i] = channelProject(xn, w.wu);
                v[i] = channelProject(xn, w.wv);
                e[i] = channelProject(xn, w.we);
                f[i] = channelProject(xn, w.wf);
            });
            // the scan: element-wise, linear in t
            float[][] fused = new float[t][width];
            for (int i = 0; i < t; i++) {
                boolean first = position + i == 0;
                for (int j = 0; j < d; j++) {
                    int ch = j / dc;
                    double vPrev = first ? v[i][j] : s[j]; // V'_0 = V_0; else the average of V_0..V_(n-1)
                    double thetaS = slopeAct.applyAsDouble(vPrev) * u[i][j];
                    double thetaD = r[j] * decayGate.applyAsDouble(f[i][j]); // E'_n = R_(n-1), R_(-1) = 0
                    if (concat) {
                        fused[i][j] = (float) thetaS;
                        fused[i][d + j] = (float) thetaD;
                    } else {
                        fused[i][j] = (float) (thetaS + thetaD);
                    }
                    // take token n into the states
                    double an = 1 + slopeDecay[ch] * a[ch];
                    s[j] = (1 - 1 / an) * s[j] + v[i][j] / an;
                    r[j] = alpha[ch] * (r[j] + e[i][j]);
                    if (j % dc == dc - 1) a[ch] = an;
                }
            }
            float[][] out = w.out.apply(fused);
            float[][] xn2 = new float[t][];
            NativeOps.forEachIndex(t, i -> {
                for (int j = 0; j < d; j++) x[i][j] += out[i][j];
                xn2[i] = NativeOps.rmsNorm(x[i], w.postNorm, cfg.rmsNormEps());
            });
            float[][] g = w.gate.apply(xn2);
            float[][] up = w.up.apply(xn2);
            NativeOps.forEachIndex(t, i -> {
                for (int j = 0; j < g[i].length; j++) g[i][j] = (float) (NativeOps.silu(g[i][j]) * up[i][j]);
            });
            float[][] down = w.down.apply(g);
            NativeOps.forEachIndex(t, i -> {
                for (int j = 0; j < d; j++) x[i][j] += down[i][j];
            });
        }
    }
}
