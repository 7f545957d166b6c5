package io.dijiang4j.plugin;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.safetensors.Config;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.jlama.KernelizedAttention;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.dijiang4j.plugin.generation.Generator;
import io.dijiang4j.plugin.generation.Sampler;
import io.dijiang4j.plugin.generation.StepModel;
import io.dijiang4j.plugin.io.AtomicFiles;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * One sequence on a {@link DiJiangModel}: its attention state (the recurrent state and exact window of each
 * kernelized layer, the KV cache of each softmax layer), the logits of its last position and its sampling stream.
 * Tokens only append. A session can be snapshotted ({@link #snapshot()}, {@link #snapshotTo(Path)}) and restored on
 * the same model and profile ({@link DiJiangModel#restoreSession}); a restored session continues exactly as the
 * original would have.
 *
 * <p>The session owns a Jlama {@code KvBuffer} of its own, in memory (never page files on disk): Jlama's softmax
 * layers keep their KV there, and the kernelized layers key this session's states on that buffer's identity (see
 * {@link KernelizedAttention}). Close it to free both.
 */
public final class Session implements StepModel, AutoCloseable {
    private static final int MAGIC = 0x444a5353; // "DJSS"
    /** 2: a CRC-32 of everything before it ends the snapshot, so a damaged file is refused before it is parsed. */
    private static final int VERSION = 2;

    private static final int PREFILL_CHUNK = 256;

    private final DiJiangModel owner;
    private final AbstractModel jlama;
    private final Config c;
    private final KvBufferCache.KvBuffer kvBuffer;
    private long position;
    private float[] lastLogits;
    private long samplingState;
    private boolean closed;

    Session(DiJiangModel owner) {
        this.owner = owner;
        this.jlama = owner.jlama();
        this.c = jlama.getConfig();
        this.kvBuffer = new KvBufferCache(jlama).getEphemeralKvBuffer();
        this.samplingState = owner.profile().samplingSeed();
        for (KernelizedAttention layer : owner.installation().kernelizedLayers()) {
            layer.putState(kvBuffer, layer.kernel().newState());
        }
    }

    /**
     * Benchmarks only: puts this session at {@code depth} positions of synthetic state without running the model
     * (the decode cost at a depth too long to prefill). {@code writer} gets the session's Jlama KV buffer and writes
     * the softmax layers' rows and the kernelized layers' states ({@link KernelizedAttention#putState}) for
     * positions below {@code depth}; the session then continues from {@code depth}.
     */
    public void writeSyntheticState(long depth, Consumer<KvBufferCache.KvBuffer> writer) {
        if (depth < 0) throw new IllegalArgumentException("depth must be >= 0: " + depth);
        owner.lock.lock();
        try {
            writer.accept(kvBuffer);
            position = depth;
        } finally {
            owner.lock.unlock();
        }
    }

    /** The absolute position of the next token (tokens consumed so far). */
    @Override
    public long position() {
        return position;
    }

    @Override
    public long positionLimit() {
        return owner.maxPositions();
    }

    /** {@link #append}; no tokens: the logits after the last token fed (continue from there). */
    @Override
    public float[] prefill(int[] tokens) {
        if (tokens.length > 0) return append(tokens);
        if (lastLogits == null) {
            throw new IllegalArgumentException("nothing to continue from: the session is empty and the prompt too");
        }
        return lastLogits.clone();
    }

    @Override
    public float[] step(int token) {
        return append(token);
    }

    public DiJiangModel model() {
        return owner;
    }

    /** The logits after the last token fed, or empty before the first one. */
    public Optional<float[]> lastLogits() {
        return Optional.ofNullable(lastLogits).map(float[]::clone);
    }

    /**
     * Bytes of attention state this session holds: the kernelized layers' states (constant in the position) plus the
     * KV rows of the softmax layers (growing by 2 * kvLength * element size per layer and token).
     */
    public long stateBytes() {
        long bytes = 0;
        long kvRow = 2L * c.kvLength * jlama.getWorkingDType().size();
        for (int layer = 0; layer < owner.installation().numberOfLayers(); layer++) {
            Optional<KernelizedAttention> k = owner.installation().kernelizedLayer(layer);
            if (k.isPresent()) bytes += state(k.get()).sizeBytes();
            else bytes += position * kvRow;
        }
        return bytes;
    }

    /** Feeds {@code tokens} and returns the logits after the last one. */
    public float[] append(int... tokens) {
        return feed(tokens, false)[0];
    }

    /**
     * Feeds {@code tokens} (teacher forcing) and returns the logits at each of their positions: row i predicts the
     * token after {@code tokens[i]}.
     */
    public float[][] appendAll(int... tokens) {
        return feed(tokens, true);
    }

    /** Checks that {@code tokens} can be fed now (call under the model's lock): ids, an open session, room. */
    void checkFeed(int[] tokens) {
        if (tokens.length == 0) throw new IllegalArgumentException("no tokens to feed");
        for (int t : tokens) {
            if (t < 0 || t >= c.vocabularySize) {
                throw new IllegalArgumentException(
                        "token id " + t + " outside the vocabulary (0.." + (c.vocabularySize - 1) + ")");
            }
        }
        ensureOpen();
        long limit = owner.maxPositions();
        if (position + tokens.length > limit) {
            throw new IllegalStateException("context limit reached: " + position + " + " + tokens.length
                    + " tokens exceed the " + limit + " positions Jlama's softmax attention can hold in this model"
                    + " (context length " + c.contextLength + "); use mode dijiang or hybrid on every layer to go"
                    + " further");
        }
    }

    /** The Jlama buffer this session's layers key its state on (see {@link KernelizedAttention}). */
    KvBufferCache.KvBuffer kvBuffer() {
        return kvBuffer;
    }

    /** Records a batched pass that fed this session {@code tokens} tokens (call under the model's lock). */
    void advanced(int tokens, float[] logits) {
        position += tokens;
        lastLogits = logits;
    }

    private float[][] feed(int[] tokens, boolean everyPosition) {
        owner.lock.lock();
        try {
            checkFeed(tokens);
            float[][] out = new float[everyPosition ? tokens.length : 1][];
            for (int start = 0; start < tokens.length; start += PREFILL_CHUNK) {
                int[] chunk = Arrays.copyOfRange(tokens, start, Math.min(tokens.length, start + PREFILL_CHUNK));
                int pos = Math.toIntExact(position);
                AbstractTensor output = chunk.length == 1
                        ? jlama.forward(chunk[0], pos, kvBuffer, Optional.empty())
                        : jlama.batchForward(chunk, pos, kvBuffer);
                try {
                    position += chunk.length;
                    if (everyPosition) {
                        // every row of the chunk through the logits matrix as one product: row by row would stream
                        // the whole matrix once per position
                        int[] rows = new int[chunk.length];
                        for (int i = 0; i < rows.length; i++) rows[i] = i;
                        float[][] chunkLogits = owner.logits(output, rows);
                        System.arraycopy(chunkLogits, 0, out, start, chunk.length);
                        lastLogits = out[start + chunk.length - 1];
                    } else if (start + chunk.length == tokens.length) {
                        lastLogits = logits(output, chunk.length - 1);
                        out[0] = lastLogits;
                    }
                } finally {
                    output.close();
                }
            }
            if (everyPosition) {
                float[][] copy = new float[out.length][];
                for (int i = 0; i < out.length; i++) copy[i] = out[i].clone();
                return copy;
            }
            return new float[][] {lastLogits.clone()};
        } finally {
            owner.lock.unlock();
        }
    }

    private float[] logits(AbstractTensor output, int row) {
        return owner.logits(output, row)[0];
    }

    /**
     * Generates after {@code prompt}: the prompt is encoded (with BOS when the session is empty) and fed, then up to
     * {@code options.maxTokens()} tokens are sampled; every generated token is fed, so that the next call continues
     * after them. An empty prompt on a non-empty session continues from its last position. Each piece of text goes to
     * {@code onText} as it is produced.
     */
    public GenerationResult generate(String prompt, GenerationOptions options, Consumer<String> onText) {
        return generate(owner.tokens().encode(prompt, position == 0), options, onText);
    }

    /**
     * {@link #generate(String, GenerationOptions, Consumer)} with prompt tokens given (no BOS added). Options without
     * a seed continue the session's random stream (started from the profile's seed).
     */
    public GenerationResult generate(int[] promptTokens, GenerationOptions options, Consumer<String> onText) {
        owner.lock.lock();
        try {
            ensureOpen();
            Sampler sampler = new Sampler(options, options.seed() != null ? options.seed() : samplingState);
            GenerationResult result = Generator.generate(
                    this, owner.tokens(), promptTokens, options, sampler, Generator.LastToken.FED, onText);
            samplingState = sampler.state();
            return result;
        } finally {
            owner.lock.unlock();
        }
    }

    private AttentionState state(KernelizedAttention layer) {
        return layer.state(kvBuffer)
                .orElseThrow(
                        () -> new IllegalStateException("layer " + layer.layerIndex() + " lost this session's state"));
    }

    /** The whole session as bytes (layer states, softmax KV rows, last logits, sampling stream). */
    public byte[] snapshot() {
        owner.lock.lock();
        try {
            ensureOpen();
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                out.writeInt(MAGIC);
                out.writeInt(VERSION);
                out.writeUTF(fingerprint());
                out.writeLong(position);
                out.writeLong(samplingState);
                out.writeBoolean(lastLogits != null);
                if (lastLogits != null) for (float f : lastLogits) out.writeFloat(f);
                for (int layer = 0; layer < owner.installation().numberOfLayers(); layer++) {
                    Optional<KernelizedAttention> k = owner.installation().kernelizedLayer(layer);
                    if (k.isPresent()) {
                        byte[] state = state(k.get()).toBytes();
                        out.writeInt(state.length);
                        out.write(state);
                    } else {
                        for (int p = 0; p < position; p++) {
                            writeRow(out, kvBuffer.getKeyTensorForPosition(layer, p));
                            writeRow(out, kvBuffer.getValTensorForPosition(layer, p));
                        }
                    }
                }
            }
            return withChecksum(bytes.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            owner.lock.unlock();
        }
    }

    /** Writes {@link #snapshot()} to {@code file} atomically (a temporary file in the same directory, then a rename). */
    public void snapshotTo(Path file) {
        AtomicFiles.write(file, snapshot());
    }

    void restore(byte[] snapshot) {
        int body = checkedLength(snapshot);
        owner.lock.lock();
        try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(snapshot, 0, body))) {
            if (in.readInt() != MAGIC) throw new IllegalArgumentException("not a dijiang4j session snapshot");
            int version = in.readInt();
            if (version != VERSION) throw new IllegalArgumentException("unsupported snapshot version " + version);
            String fingerprint = in.readUTF();
            if (!fingerprint.equals(fingerprint())) {
                throw new IllegalArgumentException("the snapshot was taken on another model or profile (" + fingerprint
                        + ", this one is " + fingerprint() + ")");
            }
            long pos = in.readLong();
            long rngState = in.readLong();
            float[] logits = null;
            if (in.readBoolean()) {
                logits = new float[c.vocabularySize];
                for (int i = 0; i < logits.length; i++) logits[i] = in.readFloat();
            }
            for (int layer = 0; layer < owner.installation().numberOfLayers(); layer++) {
                Optional<KernelizedAttention> k = owner.installation().kernelizedLayer(layer);
                if (k.isPresent()) {
                    int length = in.readInt();
                    if (length < 0 || length > in.available()) {
                        throw new IllegalArgumentException("corrupt snapshot: layer " + layer + " state of " + length
                                + " bytes, " + in.available() + " left");
                    }
                    byte[] state = new byte[length];
                    in.readFully(state);
                    AttentionState restored = k.get().kernel().restore(state);
                    if (restored.position() != pos) {
                        throw new IllegalArgumentException("corrupt snapshot: layer " + layer + " is at position "
                                + restored.position() + ", the session at " + pos);
                    }
                    k.get().putState(kvBuffer, restored);
                } else {
                    for (int p = 0; p < pos; p++) {
                        readRow(in, kvBuffer.getKeyTensorForPosition(layer, p));
                        readRow(in, kvBuffer.getValTensorForPosition(layer, p));
                    }
                }
            }
            if (in.read() != -1) throw new IllegalArgumentException("corrupt snapshot: trailing bytes");
            position = pos;
            samplingState = rngState;
            lastLogits = logits;
        } catch (IOException e) {
            throw new IllegalArgumentException("corrupt or truncated session snapshot: " + e.getMessage(), e);
        } finally {
            owner.lock.unlock();
        }
    }

    /** {@code bytes} followed by their CRC-32 (4 bytes, big-endian). */
    private static byte[] withChecksum(byte[] bytes) {
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(bytes);
        byte[] out = java.util.Arrays.copyOf(bytes, bytes.length + 4);
        java.nio.ByteBuffer.wrap(out, bytes.length, 4).putInt((int) crc.getValue());
        return out;
    }

    /**
     * The length of a snapshot without its checksum, after checking the checksum: a truncated or bit-flipped file
     * is refused here, before anything is parsed or changed (a damaged length field could otherwise ask for
     * gigabytes, or restore different numbers silently).
     */
    private static int checkedLength(byte[] snapshot) {
        if (snapshot.length < 12) {
            throw new IllegalArgumentException("not a dijiang4j session snapshot (" + snapshot.length + " bytes)");
        }
        java.nio.ByteBuffer head = java.nio.ByteBuffer.wrap(snapshot);
        if (head.getInt(0) != MAGIC) throw new IllegalArgumentException("not a dijiang4j session snapshot");
        if (head.getInt(4) != VERSION) {
            throw new IllegalArgumentException(
                    "unsupported snapshot version " + head.getInt(4) + " (this build reads " + VERSION + ")");
        }
        int body = snapshot.length - 4;
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(snapshot, 0, body);
        if ((int) crc.getValue() != head.getInt(body)) {
            throw new IllegalArgumentException(
                    "corrupt or truncated session snapshot (checksum mismatch over " + body + " bytes)");
        }
        return body;
    }

    private void writeRow(DataOutputStream out, AbstractTensor row) throws IOException {
        boolean twoDims = row.dims() == 2;
        for (int j = 0; j < c.kvLength; j++) out.writeFloat(twoDims ? row.get(0, j) : row.get(j));
    }

    private void readRow(DataInputStream in, AbstractTensor row) throws IOException {
        boolean twoDims = row.dims() == 2;
        for (int j = 0; j < c.kvLength; j++) {
            float v = in.readFloat();
            if (twoDims) row.set(v, 0, j);
            else row.set(v, j);
        }
    }

    /** What must match between a snapshot and the session it is restored into. */
    private String fingerprint() {
        StringBuilder s = new StringBuilder();
        s.append("layers=")
                .append(c.numberOfLayers)
                .append(" kv=")
                .append(c.kvLength)
                .append(" vocab=")
                .append(c.vocabularySize)
                .append(" mode=")
                .append(owner.profile().mode().key())
                .append(" kinds=");
        for (int layer = 0; layer < owner.installation().numberOfLayers(); layer++) {
            s.append(owner.installation().kernelizedLayer(layer).isPresent() ? 'K' : 'S');
        }
        return new String(s.toString().getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8);
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("the session is closed");
        owner.ensureOpen();
    }

    /** Frees the session's states and KV buffer. Idempotent. */
    @Override
    public void close() {
        owner.lock.lock();
        try {
            if (closed) return;
            closed = true;
            for (KernelizedAttention layer : owner.installation().kernelizedLayers()) layer.removeState(kvBuffer);
            kvBuffer.close();
            owner.forget(this);
        } finally {
            owner.lock.unlock();
        }
    }
}
