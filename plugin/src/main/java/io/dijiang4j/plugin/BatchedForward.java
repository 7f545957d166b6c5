package io.dijiang4j.plugin;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.functions.EmbedInput;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;
import com.github.tjake.jlama.tensor.TensorCache;
import com.github.tjake.jlama.tensor.TensorShape;
import io.dijiang4j.attention.jlama.JlamaInternals;
import io.dijiang4j.attention.jlama.KernelizedAttention;
import io.dijiang4j.attention.jlama.SequenceBatch;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * {@link DiJiangModel#advance}: several sessions' tokens in one Jlama forward pass. The rows (each session's tokens
 * at its own positions) are embedded one by one, then Jlama's blocks run over all of them: norms, projections and
 * feed-forward are one matrix product over the rows, so the weights stream from memory once for every session; the
 * kernelized layers run each session's attention on its own state ({@link SequenceBatch}). The logits of each
 * session's last row come out of one product too.
 *
 * <p>With softmax layers the sessions run one after another ({@link DiJiangModel#batchesSessions()}). Called under
 * the model's lock only.
 */
final class BatchedForward implements AutoCloseable {
    private final DiJiangModel owner;
    private final AbstractModel jlama;
    private final EmbedInput embedInput;
    private final SequenceBatch batch;

    BatchedForward(DiJiangModel owner) {
        this.owner = owner;
        this.jlama = owner.jlama();
        this.embedInput = JlamaInternals.embedInput(jlama);
        if (owner.batchesSessions()) {
            batch = new SequenceBatch(new KvBufferCache(jlama).getEphemeralKvBuffer());
            for (KernelizedAttention layer : owner.installation().kernelizedLayers()) layer.attach(batch);
        } else {
            batch = null;
        }
    }

    float[][] advance(List<Session> sessions, List<int[]> tokens) {
        int n = sessions.size();
        if (n == 0) return new float[0][];
        Set<Session> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (int i = 0; i < n; i++) {
            Session s = sessions.get(i);
            if (s.model() != owner) throw new IllegalArgumentException("session " + i + " is of another model");
            if (!seen.add(s)) throw new IllegalArgumentException("session " + i + " appears twice in one pass");
            s.checkFeed(tokens.get(i));
        }
        float[][] out = new float[n][];
        if (batch == null) {
            for (int i = 0; i < n; i++) out[i] = sessions.get(i).append(tokens.get(i));
            return out;
        }
        KvBufferCache.KvBuffer[] buffers = new KvBufferCache.KvBuffer[n];
        int[] starts = new int[n];
        int[] lengths = new int[n];
        int[] lastRows = new int[n];
        int rows = 0;
        for (int i = 0; i < n; i++) {
            buffers[i] = sessions.get(i).kvBuffer();
            starts[i] = Math.toIntExact(sessions.get(i).position());
            lengths[i] = tokens.get(i).length;
            rows += lengths[i];
            lastRows[i] = rows - 1;
        }
        batch.set(buffers, starts, lengths);
        int width = owner.config().embeddingLength;
        AbstractTensor embeddings = null;
        for (int i = 0, row = 0; i < n; i++) {
            for (int j = 0; j < lengths[i]; j++, row++) {
                try (AbstractTensor e = embedInput.inputTokenToEmbedding(tokens.get(i)[j], starts[i] + j)) {
                    // of the embedding's own type, as Jlama's batchInputsToEmbeddings allocates it
                    if (embeddings == null)
                        embeddings = TensorCache.instance.get(e.dType(), TensorShape.of(rows, width));
                    embeddings.copyFrom(e, 0, row * width, width);
                }
            }
        }
        // Jlama closes the embeddings as the first block consumes them; the position argument is unused in a batch
        try (AbstractTensor output = jlama.forward(embeddings, 0, batch.marker(), Optional.empty())) {
            float[][] logits = owner.logits(output, lastRows);
            for (int i = 0; i < n; i++) {
                sessions.get(i).advanced(lengths[i], logits[i]);
                out[i] = logits[i].clone();
            }
            return out;
        }
    }

    @Override
    public void close() {
        if (batch == null) return;
        for (KernelizedAttention layer : owner.installation().kernelizedLayers()) layer.attach(null);
        batch.marker().close();
    }
}
