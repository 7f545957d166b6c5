package io.dijiang4j.nativemodels.mcsd;

import io.dijiang4j.nativemodels.JsonConfig;

/**
 * config.json of an MCSD checkpoint ({@code model_type: mcsd}). MCSD (arXiv 2406.12230) has no public weights or
 * code, so the layout is this project's; the paper's contradictions are config choices:
 *
 * @param fusion {@code concat} (Eq. 13: out_proj of [Theta_s, Theta_d], width 2D) or {@code add} (Eq. 20: out_proj
 *     of Theta_s + Theta_d, width D)
 * @param slopeActivation activation on the slope average V' ({@code silu} or {@code sigmoid})
 * @param decayGate gate activation on F in the decay section ({@code sigmoid} or {@code silu})
 */
public record McsdConfig(
        int hiddenSize,
        int numChannels,
        int numLayers,
        int intermediateSize,
        int vocabSize,
        double rmsNormEps,
        String fusion,
        String slopeActivation,
        String decayGate) {

    public int channelSize() {
        return hiddenSize / numChannels;
    }

    public int fusedWidth() {
        return fusion.equals("concat") ? 2 * hiddenSize : hiddenSize;
    }

    public static McsdConfig from(JsonConfig c) {
        int hidden = c.positive("hidden_size");
        int channels = c.positive("num_channels");
        if (hidden % channels != 0) {
            throw new IllegalArgumentException(
                    "hidden_size " + hidden + " is not a multiple of num_channels " + channels);
        }
        String fusion = c.text("fusion", "concat");
        if (!fusion.equals("concat") && !fusion.equals("add")) {
            throw new IllegalArgumentException("fusion must be 'concat' or 'add', got '" + fusion + "'");
        }
        String slope = c.text("slope_activation", "silu");
        String gate = c.text("decay_gate", "sigmoid");
        for (String a : new String[] {slope, gate}) {
            if (!a.equals("silu") && !a.equals("sigmoid")) {
                throw new IllegalArgumentException(
                        "slope_activation / decay_gate must be 'silu' or 'sigmoid', got '" + a + "'");
            }
        }
        return new McsdConfig(
                hidden,
                channels,
                c.positive("num_hidden_layers"),
                c.positive("intermediate_size"),
                c.positive("vocab_size"),
                c.number("rms_norm_eps", 1e-6),
                fusion,
                slope,
                gate);
    }
}
