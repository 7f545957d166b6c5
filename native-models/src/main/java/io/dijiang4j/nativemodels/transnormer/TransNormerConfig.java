package io.dijiang4j.nativemodels.transnormer;

import com.fasterxml.jackson.databind.JsonNode;
import io.dijiang4j.nativemodels.JsonConfig;

/** The config.json fields of OpenNLPLab's HF TransNormerLLM checkpoints ({@code model_type: transnormer}). */
public record TransNormerConfig(
        int embedDim,
        int numLayers,
        int numHeads,
        int hiddenDim,
        int gluDim,
        int vocabSize,
        boolean bias,
        String activation,
        boolean scaleEmbedding,
        boolean[] lrpeLayers) {

    public int headDim() {
        return hiddenDim / numHeads;
    }

    public static TransNormerConfig from(JsonConfig c) {
        int embed = c.positive("decoder_embed_dim");
        int layers = c.positive("decoder_layers");
        int heads = c.positive("decoder_attention_heads");
        int hidden = c.integer("hidden_dim", embed);
        int glu = c.integer("glu_dim", embed);
        if (glu == -1) glu = embed;
        if (hidden % heads != 0) {
            throw new IllegalArgumentException("hidden_dim " + hidden + " is not a multiple of heads " + heads);
        }
        if (layers < 2) {
            // the released decay divides by (layers - 1)
            throw new IllegalArgumentException(
                    "decoder_layers must be >= 2 (the decay schedule divides by layers - 1)");
        }
        String norm = c.text("norm_type", "simplermsnorm");
        if (!norm.equals("simplermsnorm")) {
            throw new IllegalArgumentException("norm_type '" + norm + "' is not supported (simplermsnorm only)");
        }
        boolean[] lrpe = new boolean[layers];
        JsonNode list = c.root().get("linear_use_lrpe_list");
        if (list != null && list.isArray() && list.size() > 0) {
            if (list.size() != layers) {
                throw new IllegalArgumentException(
                        "linear_use_lrpe_list has " + list.size() + " entries for " + layers + " layers");
            }
            for (int i = 0; i < layers; i++)
                lrpe[i] = list.get(i).asInt() != 0 || list.get(i).asBoolean();
        } else if (c.bool("linear_use_lrpe", false)) {
            java.util.Arrays.fill(lrpe, true);
        }
        boolean anyLrpe = false;
        for (boolean b : lrpe) anyLrpe |= b;
        if (anyLrpe && hidden != embed) {
            throw new IllegalArgumentException("LRPE needs hidden_dim == decoder_embed_dim (the released Lrpe sizes "
                    + "theta from decoder_embed_dim)");
        }
        return new TransNormerConfig(
                embed,
                layers,
                heads,
                hidden,
                glu,
                c.positive("vocab_size"),
                c.bool("bias", false),
                c.text("linear_act_fun", "silu"),
                !c.bool("no_scale_embedding", false),
                lrpe);
    }
}
