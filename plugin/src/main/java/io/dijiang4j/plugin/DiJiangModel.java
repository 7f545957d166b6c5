package io.dijiang4j.plugin;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.functions.SampleOutput;
import com.github.tjake.jlama.safetensors.Config;
import com.github.tjake.jlama.safetensors.tokenizer.Tokenizer;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.operations.TensorOperationsProvider;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.jlama.AttentionObserver;
import io.dijiang4j.attention.jlama.JlamaInternals;
import io.dijiang4j.attention.tensorops.ProductThreads;
import io.dijiang4j.attention.tensorops.TensorRows;
import io.dijiang4j.plugin.generation.TokenCodec;
import io.dijiang4j.plugin.io.AtomicFiles;
import io.dijiang4j.plugin.profile.Profile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.UnaryOperator;

/**
 * A Jlama model with the profile's attention installed: opens {@link Session}s. One forward pass at a time per model
 * (Jlama keeps shared scratch buffers in the model): sessions may be used from several threads and interleaved,
 * their calls are serialized by one lock. Closing frees every open session, uninstalls the layers and, when the
 * plugin loaded the model, closes it and deletes its working directory.
 */
public final class DiJiangModel implements AutoCloseable {
    private final AbstractModel jlama;
    private final Profile profile;
    private final Installation installation;
    private final boolean ownsModel;
    private final Path workingDirectory;
    final ReentrantLock lock = new ReentrantLock();
    private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
    final SampleOutput sampleOutput;
    private final TokenCodec tokens;
    private BatchedForward batchedForward; // made on first use, under the lock
    private volatile boolean closed;

    DiJiangModel(
            AbstractModel jlama,
            Profile profile,
            boolean ownsModel,
            Path workingDirectory,
            UnaryOperator<AttentionSpec> adjust) {
        this.jlama = jlama;
        this.profile = profile;
        this.ownsModel = ownsModel;
        this.workingDirectory = workingDirectory;
        this.sampleOutput = JlamaInternals.sampleOutput(jlama);
        this.installation = Installation.install(jlama, profile, adjust);
        Config c = jlama.getConfig();
        this.tokens = new TokenCodec(jlama.getTokenizer(), c.vocabularySize, c.bosToken, c.eosTokens);
    }

    public Profile profile() {
        return profile;
    }

    /** The underlying Jlama model (its blocks patched). */
    public AbstractModel jlama() {
        return jlama;
    }

    public Installation installation() {
        return installation;
    }

    public Config config() {
        return jlama.getConfig();
    }

    public Tokenizer tokenizer() {
        return jlama.getTokenizer();
    }

    public int contextLength() {
        return jlama.getConfig().contextLength;
    }

    public int vocabularySize() {
        return jlama.getConfig().vocabularySize;
    }

    /**
     * How many positions a session can hold: unbounded (Long.MAX_VALUE) when every layer is kernelized, else what
     * Jlama's softmax layers can do: its KV cache ends at the context length, and its RoPE table is read with a
     * per-head offset of 2 positions per head (docs/JLAMA.md §4), so the last {@code 2 * (heads - 1)} positions
     * overrun it (KV heads for GQA models).
     */
    public long maxPositions() {
        if (!installation.hasSoftmaxLayers()) return Long.MAX_VALUE;
        Config c = config();
        if (c.ropeFreqs.isEmpty()) return c.contextLength;
        int lastHead = c.isGQA ? c.numberOfKeyValueHeads - 1 : c.numberOfHeads - 1;
        return c.contextLength - (long) lastHead * c.headSize / (c.headSize / 2);
    }

    /** Prompt encoding, token text, BOS and end tokens. */
    public TokenCodec tokens() {
        return tokens;
    }

    /** Token ids of {@code text}; with {@code bos} the BOS token first (see {@link TokenCodec#encode}). */
    public int[] encode(String text, boolean bos) {
        return tokens.encode(text, bos);
    }

    /** Observes post-RoPE q/k/v and the attention output of every kernelized layer (null removes it). */
    public void setObserver(AttentionObserver observer) {
        installation.setObserver(observer);
    }

    /** A new, empty session. */
    public Session newSession() {
        ensureOpen();
        Session s = new Session(this);
        sessions.add(s);
        return s;
    }

    /** A session restored from {@link Session#snapshot()} bytes. */
    public Session restoreSession(byte[] snapshot) {
        Session s = newSession();
        try {
            s.restore(snapshot);
            return s;
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** A session restored from a file written by {@link Session#snapshotTo(Path)}. */
    public Session restoreSession(Path file) {
        try {
            return restoreSession(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read snapshot " + file, e);
        }
    }

    /**
     * Whether {@link #advance} runs its sessions in one forward pass: every layer kernelized. Jlama's softmax layer
     * knows one sequence per pass, so a model with softmax layers (mode softmax, or a profile that keeps some) runs
     * them one after another (docs/DESIGN.md §5).
     */
    public boolean batchesSessions() {
        return !installation.hasSoftmaxLayers();
    }

    /**
     * Feeds {@code tokens.get(i)} to {@code sessions.get(i)} for every i and returns each session's logits after its
     * last token, as {@link Session#append} would: one forward pass for all of them where {@link #batchesSessions()}
     * (projections and feed-forward as one matrix product over all their rows, attention per session), else one
     * session after another. Everything is checked (ids, open sessions of this model, room) before any session moves.
     */
    public float[][] advance(List<Session> sessions, List<int[]> tokens) {
        if (sessions.size() != tokens.size()) {
            throw new IllegalArgumentException(sessions.size() + " sessions but " + tokens.size() + " token lists");
        }
        lock.lock();
        try {
            ensureOpen();
            if (batchedForward == null) batchedForward = new BatchedForward(this);
            return batchedForward.advance(sessions, tokens);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Raw logits of rows {@code rows} of a forward output (the hidden states before the output norm), computed as
     * Jlama's sampler does: output norm, logits matrix, logit multiplier and soft-capping. Several rows go through
     * the logits matrix as one product.
     */
    float[][] logits(AbstractTensor output, int... rows) {
        Config c = config();
        int e = c.embeddingLength;
        AbstractTensor hidden;
        if (rows.length == 1) {
            hidden = output.shape().first() == 1 && rows[0] == 0 ? output : output.slice(rows[0]);
        } else {
            hidden = jlama.makeDenseTensor(rows.length, e);
            for (int i = 0; i < rows.length; i++) hidden.copyFrom(output, rows[i] * e, i * e, e);
        }
        var ops = TensorOperationsProvider.get();
        try (AbstractTensor embedding = sampleOutput.getOutputLayerNorm().forward(hidden);
                AbstractTensor logits = jlama.makeDenseTensor(rows.length, c.vocabularySize)) {
            AbstractTensor weights = sampleOutput.getOutputLogitsWeights();
            ProductThreads.forWeightRows(
                    weights,
                    rows.length,
                    0,
                    c.vocabularySize,
                    (chunkStart, chunkSize) ->
                            ops.dotProductChunk(logits, embedding, weights, 0, e, chunkStart, chunkSize));
            // one float multiply per logit, as Jlama's ops.scale does it
            float scale = c.logitMultiplier != null ? 1.0f / c.logitMultiplier : 1.0f;
            float[][] out = new float[rows.length][c.vocabularySize];
            for (int r = 0; r < rows.length; r++) {
                // the whole row in vector reads (one bounds-checked get per logit was 128k calls a token on llama-1b)
                TensorRows.read(logits, r, 0, c.vocabularySize, out[r], 0);
                if (c.logitMultiplier == null && c.finalLogitSoftCapping == null) continue;
                for (int i = 0; i < c.vocabularySize; i++) {
                    float v = out[r][i];
                    if (c.logitMultiplier != null) v *= scale;
                    if (c.finalLogitSoftCapping != null) {
                        v = (float) (Math.tanh(v / c.finalLogitSoftCapping) * c.finalLogitSoftCapping);
                    }
                    out[r][i] = v;
                }
            }
            return out;
        } finally {
            if (rows.length > 1) hidden.close();
        }
    }

    /** Number of sessions not yet closed. */
    public int openSessions() {
        return sessions.size();
    }

    void forget(Session s) {
        sessions.remove(s);
    }

    void ensureOpen() {
        if (closed) throw new IllegalStateException("the model is closed");
    }

    @Override
    public void close() {
        if (closed) return;
        lock.lock();
        try {
            closed = true;
            for (Session s : sessions.toArray(Session[]::new)) s.close();
            if (batchedForward != null) batchedForward.close();
            installation.uninstall();
            if (ownsModel) jlama.close();
        } finally {
            lock.unlock();
            AtomicFiles.deleteTree(workingDirectory);
        }
    }

    @Override
    public String toString() {
        return "DiJiangModel[" + profile.model() + ", mode " + profile.mode().key() + ", kernelized layers "
                + Arrays.toString(installation.kernelizedLayers().stream()
                        .mapToInt(a -> a.layerIndex())
                        .toArray()) + "]";
    }
}
