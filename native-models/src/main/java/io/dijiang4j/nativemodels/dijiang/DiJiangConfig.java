package io.dijiang4j.nativemodels.dijiang;

import io.dijiang4j.nativemodels.JsonConfig;

/**
 * The GPT-NeoX config.json fields a DiJiang (Pythia + DiJiang attention) checkpoint uses.
 *
 * @param maxPositions number of stored D1/D2 positions ({@code max_position_embeddings}, 2048 for Pythia)
 */
public record DiJiangConfig(
        int hiddenSize,
        int numHeads,
        int numLayers,
        int intermediateSize,
        int vocabSize,
        int rotaryDims,
        double rotaryBase,
        double layerNormEps,
        boolean parallelResidual,
        String hiddenAct,
        int maxPositions,
        boolean tieWordEmbeddings) {

    public int headSize() {
        return hiddenSize / numHeads;
    }

    public static DiJiangConfig from(JsonConfig c) {
        int hidden = c.positive("hidden_size");
        int heads = c.positive("num_attention_heads");
        if (hidden % heads != 0) {
            throw new IllegalArgumentException(
                    "hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads);
        }
        int headSize = hidden / heads;
        double pct = c.number("rotary_pct", 0.25);
        if (!(pct >= 0 && pct <= 1)) throw new IllegalArgumentException("rotary_pct must be in [0, 1]: " + pct);
        int rotary = (int) (headSize * pct); // as GPT-NeoX: int(head_size * rotary_pct)
        if (rotary % 2 != 0) throw new IllegalArgumentException("rotary dims " + rotary + " must be even");
        if (c.has("rope_scaling") && !c.root().get("rope_scaling").isNull()) {
            throw new IllegalArgumentException("rope_scaling is not supported for DiJiang checkpoints");
        }
        return new DiJiangConfig(
                hidden,
                heads,
                c.positive("num_hidden_layers"),
                c.positive("intermediate_size"),
                c.positive("vocab_size"),
                rotary,
                c.number("rotary_emb_base", c.number("rope_theta", 10000)),
                c.number("layer_norm_eps", 1e-5),
                c.bool("use_parallel_residual", true),
                c.text("hidden_act", "gelu"),
                c.integer("max_position_embeddings", 2048),
                c.bool("tie_word_embeddings", false));
    }
}
