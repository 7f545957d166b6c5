package io.dijiang4j.nativemodels;

import io.dijiang4j.plugin.io.SafeTensors.Tensor;
import java.util.List;
import java.util.Map;

/**
 * Float64 reference forward passes written from the formulas (docs/MATH.md §6), in their quadratic /
 * parallel form over the whole sequence from position 0. Independent of the main code: own RoPE (HF's cat(freqs,
 * freqs) + rotate_half), own erf (series), own decay tables (D1/D2 products, exp of distances), own averages.
 */
final class NaiveReference {

    private final Map<String, Object> cfg;
    private final Map<String, Tensor> w;

    NaiveReference(SyntheticCheckpoints.Written written) {
        this.cfg = written.config();
        this.w = written.tensors();
    }

    private int i(String key) {
        return ((Number) cfg.get(key)).intValue();
    }

    private float[] t(String name) {
        Tensor tensor = w.get(name);
        if (tensor == null) throw new AssertionError("no tensor " + name);
        return tensor.data();
    }

    private float[] opt(String name) {
        Tensor tensor = w.get(name);
        return tensor == null ? null : tensor.data();
    }

    // ---------------------------------------------------------------- shared float64 pieces

    static double[] linear(float[] wt, float[] b, double[] x, int out, int in) {
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = b == null ? 0 : b[o];
            for (int k = 0; k < in; k++) s += (double) wt[o * in + k] * x[k];
            y[o] = s;
        }
        return y;
    }

    static double[] layerNorm(double[] x, float[] g, float[] b, double eps) {
        double mean = 0;
        for (double v : x) mean += v / x.length;
        double var = 0;
        for (double v : x) var += (v - mean) * (v - mean) / x.length;
        double[] y = new double[x.length];
        for (int k = 0; k < x.length; k++) y[k] = (x[k] - mean) / Math.sqrt(var + eps) * g[k] + b[k];
        return y;
    }

    static double[] rms(double[] x, float[] g, double eps) {
        double ms = 0;
        for (double v : x) ms += v * v / x.length;
        double[] y = new double[x.length];
        for (int k = 0; k < x.length; k++) y[k] = x[k] / Math.sqrt(ms + eps) * (g == null ? 1 : g[k]);
        return y;
    }

    static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }

    static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    /** erf by its Maclaurin series (|x| < 4) and 1 beyond: a different method from the main code's. */
    static double erf(double x) {
        if (Math.abs(x) >= 4) return Math.signum(x) * (1 - 1.6e-8);
        double sum = 0;
        double term = x;
        for (int n = 0; n < 200; n++) {
            sum += term / (2 * n + 1);
            term *= -x * x / (n + 1);
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }

    static double gelu(double x) {
        return 0.5 * x * (1 + erf(x / Math.sqrt(2)));
    }

    private double[][] logits(double[][] x, float[] head, int vocab) {
        double[][] out = new double[x.length][];
        for (int n = 0; n < x.length; n++) out[n] = linear(head, null, x[n], vocab, x[n].length);
        return out;
    }

    // ---------------------------------------------------------------- DiJiang (GPT-NeoX + DiJiang attention)

    double[][] dijiang(int[] tokens) {
        int h = i("hidden_size");
        int nh = i("num_attention_heads");
        int hs = h / nh;
        int inter = i("intermediate_size");
        int vocab = i("vocab_size");
        int stored = i("max_position_embeddings");
        int rd = (int) (hs * ((Number) cfg.get("rotary_pct")).doubleValue());
        double base = ((Number) cfg.get("rotary_emb_base")).doubleValue();
        boolean parallel = (Boolean) cfg.get("use_parallel_residual");
        int n = tokens.length;
        double[][] x = new double[n][h];
        for (int p = 0; p < n; p++)
            for (int k = 0; k < h; k++) x[p][k] = t("gpt_neox.embed_in.weight")[tokens[p] * h + k];
        // gamma_h = 1 - exp(linspace(ln 1/32, ln 1/512, H))
        double[] gamma = new double[nh];
        for (int hh = 0; hh < nh; hh++) {
            double frac = nh == 1 ? 0 : (double) hh / (nh - 1);
            gamma[hh] = 1 - Math.exp(Math.log(1.0 / 32) * (1 - frac) + Math.log(1.0 / 512) * frac);
        }
        for (int l = 0; l < i("num_hidden_layers"); l++) {
            String p = "gpt_neox.layers." + l + ".";
            float[] d1 = t(p + "attention.D1");
            float[] d2 = t(p + "attention.D2");
            float[] proj = t(p + "attention.proj_matrix");
            double[][] ln1 = new double[n][];
            double[][][] q = new double[nh][n][hs];
            double[][][] k = new double[nh][n][hs];
            double[][][] v = new double[nh][n][hs];
            for (int pos = 0; pos < n; pos++) {
                ln1[pos] = layerNorm(x[pos], t(p + "input_layernorm.weight"), t(p + "input_layernorm.bias"), 1e-5);
                double[] qkv = linear(
                        t(p + "attention.query_key_value.weight"),
                        t(p + "attention.query_key_value.bias"),
                        ln1[pos],
                        3 * h,
                        h);
                for (int hh = 0; hh < nh; hh++) {
                    for (int j = 0; j < hs; j++) {
                        q[hh][pos][j] = qkv[(hh * 3) * hs + j];
                        k[hh][pos][j] = qkv[(hh * 3 + 1) * hs + j];
                        v[hh][pos][j] = qkv[(hh * 3 + 2) * hs + j];
                    }
                    q[hh][pos] = hfRope(q[hh][pos], pos, rd, base);
                    k[hh][pos] = hfRope(k[hh][pos], pos, rd, base);
                }
            }
            double[][] attnOut = new double[n][h];
            for (int hh = 0; hh < nh; hh++) {
                double[] d1e = new double[n];
                double[] d2e = new double[n];
                for (int pos = 0; pos < n; pos++) {
                    if (pos < stored) {
                        d1e[pos] = d1[hh * stored + pos];
                        d2e[pos] = d2[hh * stored + pos];
                    } else {
                        d1e[pos] = d1[hh * stored + stored - 1] * Math.pow(gamma[hh], pos - stored + 1);
                        d2e[pos] = 1 / d1e[pos];
                    }
                }
                double[][] fq = new double[n][];
                double[][] fk = new double[n][];
                for (int pos = 0; pos < n; pos++) {
                    fq[pos] = softmaxFeatures(q[hh][pos], proj, hs);
                    fk[pos] = softmaxFeatures(k[hh][pos], proj, hs);
                }
                for (int a = 0; a < n; a++) {
                    for (int b = 0; b <= a; b++) {
                        double dot = 0;
                        for (int f = 0; f < hs; f++) dot += fq[a][f] * d1e[a] * fk[b][f] * d2e[b];
                        for (int j = 0; j < hs; j++) attnOut[a][hh * hs + j] += dot * v[hh][b][j];
                    }
                }
            }
            double[][] next = new double[n][];
            for (int pos = 0; pos < n; pos++) {
                // GroupNorm(num_groups = head_size, channels = hidden)
                int per = h / hs;
                double[] gn = new double[h];
                for (int g = 0; g < hs; g++) {
                    double[] grp = new double[per];
                    System.arraycopy(attnOut[pos], g * per, grp, 0, per);
                    double mean = 0;
                    for (double val : grp) mean += val / per;
                    double var = 0;
                    for (double val : grp) var += (val - mean) * (val - mean) / per;
                    for (int c = 0; c < per; c++) {
                        int ch = g * per + c;
                        gn[ch] = (grp[c] - mean) / Math.sqrt(var + 1e-5) * t(p + "attention.group_norm.weight")[ch]
                                + t(p + "attention.group_norm.bias")[ch];
                    }
                }
                float[] wg = t(p + "attention.W_G");
                double[] gated = new double[h];
                for (int c = 0; c < h; c++) {
                    double s = 0;
                    for (int r = 0; r < h; r++) s += ln1[pos][r] * wg[r * h + c];
                    gated[c] = silu(s) * gn[c];
                }
                double[] attn = linear(t(p + "attention.dense.weight"), t(p + "attention.dense.bias"), gated, h, h);
                double[] mlpIn;
                double[] y = new double[h];
                if (parallel) {
                    mlpIn = x[pos];
                } else {
                    mlpIn = new double[h];
                    for (int c = 0; c < h; c++) mlpIn[c] = x[pos][c] + attn[c];
                }
                double[] up = linear(
                        t(p + "mlp.dense_h_to_4h.weight"),
                        t(p + "mlp.dense_h_to_4h.bias"),
                        layerNorm(
                                mlpIn,
                                t(p + "post_attention_layernorm.weight"),
                                t(p + "post_attention_layernorm.bias"),
                                1e-5),
                        inter,
                        h);
                for (int c = 0; c < inter; c++) up[c] = gelu(up[c]);
                double[] down =
                        linear(t(p + "mlp.dense_4h_to_h.weight"), t(p + "mlp.dense_4h_to_h.bias"), up, h, inter);
                for (int c = 0; c < h; c++) y[c] = (parallel ? x[pos][c] + attn[c] : mlpIn[c]) + down[c];
                next[pos] = y;
            }
            x = next;
        }
        for (int pos = 0; pos < n; pos++) {
            x[pos] =
                    layerNorm(x[pos], t("gpt_neox.final_layer_norm.weight"), t("gpt_neox.final_layer_norm.bias"), 1e-5);
        }
        return logits(x, t("embed_out.weight"), vocab);
    }

    /** HF apply_rotary_pos_emb on the first rd dims: x*cos + rotate_half(x)*sin with emb = cat(freqs, freqs). */
    static double[] hfRope(double[] x, int pos, int rd, double base) {
        double[] cos = new double[rd];
        double[] sin = new double[rd];
        for (int j = 0; j < rd; j++) {
            double invFreq = 1.0 / Math.pow(base, (double) (2 * (j % (rd / 2))) / rd);
            cos[j] = Math.cos(pos * invFreq);
            sin[j] = Math.sin(pos * invFreq);
        }
        double[] out = x.clone();
        for (int j = 0; j < rd; j++) {
            double rotated = j < rd / 2 ? -x[j + rd / 2] : x[j - rd / 2];
            out[j] = x[j] * cos[j] + rotated * sin[j];
        }
        return out;
    }

    static double[] softmaxFeatures(double[] x, float[] proj, int d) {
        double[] z = new double[d];
        for (int f = 0; f < d; f++) for (int j = 0; j < d; j++) z[f] += x[j] * proj[j * d + f];
        double max = Double.NEGATIVE_INFINITY;
        for (double val : z) max = Math.max(max, val);
        double sum = 0;
        for (int f = 0; f < d; f++) sum += Math.exp(z[f] - max);
        for (int f = 0; f < d; f++) z[f] = Math.exp(z[f] - max) / sum;
        return z;
    }

    // ---------------------------------------------------------------- TransNormerLLM

    double[][] transnormer(int[] tokens) {
        int d = i("decoder_embed_dim");
        int hd = i("hidden_dim");
        int nh = i("decoder_attention_heads");
        int glu = i("glu_dim");
        int layers = i("decoder_layers");
        int vocab = i("vocab_size");
        int e = hd / nh;
        @SuppressWarnings("unchecked")
        List<Object> lrpe = (List<Object>) cfg.get("linear_use_lrpe_list");
        boolean scale = !Boolean.TRUE.equals(cfg.get("no_scale_embedding"));
        int n = tokens.length;
        double[][] x = new double[n][d];
        for (int p = 0; p < n; p++) {
            for (int k = 0; k < d; k++)
                x[p][k] = t("model.embed_tokens.weight")[tokens[p] * d + k] * (scale ? Math.sqrt(d) : 1);
        }
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            boolean useLrpe = l < lrpe.size() && ((Number) lrpe.get(l)).intValue() != 0;
            double[][] u = new double[n][];
            double[][][] q = new double[nh][n][];
            double[][][] k = new double[nh][n][];
            double[][][] v = new double[nh][n][e];
            for (int pos = 0; pos < n; pos++) {
                double[] qkvu = linear(
                        t(p + "token_mixer.qkvu_proj.weight"),
                        opt(p + "token_mixer.qkvu_proj.bias"),
                        rms(x[pos], null, 1e-6),
                        4 * hd,
                        d);
                u[pos] = java.util.Arrays.copyOfRange(qkvu, 3 * hd, 4 * hd);
                for (int hh = 0; hh < nh; hh++) {
                    double[] qh = new double[e];
                    double[] kh = new double[e];
                    for (int j = 0; j < e; j++) {
                        qh[j] = silu(qkvu[hh * e + j]);
                        kh[j] = silu(qkvu[hd + hh * e + j]);
                        v[hh][pos][j] = qkvu[2 * hd + hh * e + j];
                    }
                    if (useLrpe) {
                        float[] theta = t(p + "token_mixer.lrpe.theta");
                        double[] q2 = new double[2 * e];
                        double[] k2 = new double[2 * e];
                        for (int j = 0; j < e; j++) {
                            double ang = theta[hh * e + j] * pos;
                            q2[j] = qh[j] * Math.cos(ang);
                            q2[e + j] = qh[j] * Math.sin(ang);
                            k2[j] = kh[j] * Math.cos(ang);
                            k2[e + j] = kh[j] * Math.sin(ang);
                        }
                        qh = q2;
                        kh = k2;
                    }
                    q[hh][pos] = qh;
                    k[hh][pos] = kh;
                }
            }
            double[][] o = new double[n][hd];
            for (int hh = 0; hh < nh; hh++) {
                // power-of-two H: s_h = 2^(-8(h+1)/H); lambda = exp(-s_h (1 - l/(L-1) + 1e-5))
                double s = Math.pow(2, -8.0 * (hh + 1) / nh) * (1 - (double) l / (layers - 1) + 1e-5);
                for (int a = 0; a < n; a++) {
                    for (int b = 0; b <= a; b++) {
                        double dot = 0;
                        for (int j = 0; j < q[hh][a].length; j++) dot += q[hh][a][j] * k[hh][b][j];
                        double wgt = Math.exp(-s * (a - b)) * dot;
                        for (int j = 0; j < e; j++) o[a][hh * e + j] += wgt * v[hh][b][j];
                    }
                }
            }
            for (int pos = 0; pos < n; pos++) {
                double[] on = rms(o[pos], null, 1e-6);
                for (int j = 0; j < hd; j++) on[j] *= u[pos][j];
                double[] attn =
                        linear(t(p + "token_mixer.out_proj.weight"), opt(p + "token_mixer.out_proj.bias"), on, d, hd);
                for (int j = 0; j < d; j++) x[pos][j] += attn[j];
                double[] xn = rms(x[pos], null, 1e-6);
                double[] a1 = linear(t(p + "channel_mixer.l1.weight"), opt(p + "channel_mixer.l1.bias"), xn, glu, d);
                double[] a2 = linear(t(p + "channel_mixer.l2.weight"), opt(p + "channel_mixer.l2.bias"), xn, glu, d);
                for (int j = 0; j < glu; j++) a1[j] *= a2[j];
                double[] mlp = linear(t(p + "channel_mixer.l3.weight"), opt(p + "channel_mixer.l3.bias"), a1, d, glu);
                for (int j = 0; j < d; j++) x[pos][j] += mlp[j];
            }
        }
        for (int pos = 0; pos < n; pos++) x[pos] = rms(x[pos], null, 1e-6);
        return logits(x, t("lm_head.weight"), vocab);
    }

    // ---------------------------------------------------------------- MCSD

    double[][] mcsd(int[] tokens) {
        int d = i("hidden_size");
        int ch = i("num_channels");
        int dc = d / ch;
        int inter = i("intermediate_size");
        int vocab = i("vocab_size");
        boolean concat = "concat".equals(cfg.get("fusion"));
        boolean slopeSilu = "silu".equals(cfg.get("slope_activation"));
        boolean gateSigmoid = "sigmoid".equals(cfg.get("decay_gate"));
        double eps = ((Number) cfg.get("rms_norm_eps")).doubleValue();
        int n = tokens.length;
        double[][] x = new double[n][d];
        for (int p = 0; p < n; p++)
            for (int k = 0; k < d; k++) x[p][k] = t("model.embed_tokens.weight")[tokens[p] * d + k];
        for (int l = 0; l < i("num_hidden_layers"); l++) {
            String p = "model.layers." + l + ".";
            double[][] u = new double[n][];
            double[][] vv = new double[n][];
            double[][] ee = new double[n][];
            double[][] ff = new double[n][];
            for (int pos = 0; pos < n; pos++) {
                double[] xn = rms(x[pos], t(p + "input_norm.weight"), eps);
                u[pos] = perChannel(xn, t(p + "mcsd.w_u"), ch, dc);
                vv[pos] = perChannel(xn, t(p + "mcsd.w_v"), ch, dc);
                ee[pos] = perChannel(xn, t(p + "mcsd.w_e"), ch, dc);
                ff[pos] = perChannel(xn, t(p + "mcsd.w_f"), ch, dc);
            }
            for (int pos = 0; pos < n; pos++) {
                int width = concat ? 2 * d : d;
                double[] fused = new double[width];
                for (int j = 0; j < d; j++) {
                    int c = j / dc;
                    double beta = Math.pow(2, -8.0 * (c + 1) / ch);
                    double alpha = 1 - Math.pow(2, -5 - c);
                    double vPrime;
                    if (pos == 0) {
                        vPrime = vv[0][j];
                    } else {
                        double num = 0;
                        double den = 0;
                        for (int m = 0; m < pos; m++) {
                            double wgt = Math.exp(-beta * (pos - 1 - m));
                            num += wgt * vv[m][j];
                            den += wgt;
                        }
                        vPrime = num / den;
                    }
                    double ePrime = 0;
                    for (int jj = 1; jj <= pos; jj++) ePrime += Math.pow(alpha, jj) * ee[pos - jj][j];
                    double thetaS = (slopeSilu ? silu(vPrime) : sigmoid(vPrime)) * u[pos][j];
                    double thetaD = ePrime * (gateSigmoid ? sigmoid(ff[pos][j]) : silu(ff[pos][j]));
                    if (concat) {
                        fused[j] = thetaS;
                        fused[d + j] = thetaD;
                    } else {
                        fused[j] = thetaS + thetaD;
                    }
                }
                double[] out = linear(t(p + "mcsd.out_proj.weight"), null, fused, d, width);
                for (int j = 0; j < d; j++) x[pos][j] += out[j];
                double[] xn = rms(x[pos], t(p + "post_norm.weight"), eps);
                double[] g = linear(t(p + "mlp.gate_proj.weight"), null, xn, inter, d);
                double[] up = linear(t(p + "mlp.up_proj.weight"), null, xn, inter, d);
                for (int j = 0; j < inter; j++) g[j] = silu(g[j]) * up[j];
                double[] down = linear(t(p + "mlp.down_proj.weight"), null, g, d, inter);
                for (int j = 0; j < d; j++) x[pos][j] += down[j];
            }
        }
        for (int pos = 0; pos < n; pos++) x[pos] = rms(x[pos], t("model.norm.weight"), eps);
        return logits(x, t("lm_head.weight"), vocab);
    }

    private static double[] perChannel(double[] x, float[] wt, int ch, int dc) {
        double[] y = new double[x.length];
        for (int c = 0; c < ch; c++) {
            for (int o = 0; o < dc; o++) {
                double s = 0;
                for (int k = 0; k < dc; k++) s += x[c * dc + k] * wt[(c * dc + k) * dc + o];
                y[c * dc + o] = s;
            }
        }
        return y;
    }
}
