package io.dijiang4j.attention.jlama;

import com.github.tjake.jlama.math.VectorMath;
import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.CausalSelfAttention;
import com.github.tjake.jlama.model.DistributedContext;
import com.github.tjake.jlama.safetensors.Config;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;
import com.github.tjake.jlama.tensor.operations.TensorOperations;
import com.github.tjake.jlama.tensor.operations.TensorOperationsProvider;
import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.tensorops.ProductThreads;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.WeakHashMap;
import java.util.function.Consumer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * A Jlama attention layer whose attention runs through an {@link AttentionKernel} (kernelized or hybrid) instead of
 * the softmax over a KV cache.
 *
 * <p>Projections (Q, K, V with their optional biases, and the output projection) use Jlama's own tensor operations
 * on the model's weights, so F32, BF16, I8 and Q4 weights all work. RoPE is applied here at absolute positions
 * ({@link RotaryTable}), so a layer runs past the model's context length. The rotated rows are handed to the kernel
 * as row-major float arrays.
 *
 * <p>Which sequence a call belongs to: Jlama passes its {@code KvBuffer} to every layer, one buffer per sequence,
 * so the layer keys the sequence's {@link AttentionState} on that buffer's identity (weakly: a buffer that nobody
 * holds any more drops its state). The plugin's sessions own their buffer and put, read and remove states through
 * {@link #state}, {@link #putState} and {@link #removeState}; a buffer the layer has not seen (Jlama's own {@code
 * generate} with a session UUID, as LangChain4j's adapters call it) gets a fresh state at position 0. No thread
 * locals: the buffer is an explicit argument, so interleaved sessions cannot see each other's state.
 *
 * <p>Several sequences in one pass: when Jlama passes the marker buffer of the {@link SequenceBatch} attached to this
 * layer ({@link #attach}), the rows belong to the batch's segments; the projections run over all rows as one matrix
 * product and each segment's attention runs on its own sequence's state at its own positions.
 */
public class KernelizedAttention extends CausalSelfAttention {
    private final AbstractModel model;
    private final Config c;
    private final int layerIndex;
    private final Optional<AbstractTensor> queryBias;
    private final Optional<AbstractTensor> keyBias;
    private final Optional<AbstractTensor> valueBias;
    private final Optional<AbstractTensor> outputBias;
    private final AbstractTensor queryWeights;
    private final AbstractTensor keyWeights;
    private final AbstractTensor valueWeights;
    private final AbstractTensor outputWeights;
    private final AttentionKernel kernel;
    private final RotaryTable rope;
    private final Map<KvBufferCache.KvBuffer, AttentionState> states = Collections.synchronizedMap(new WeakHashMap<>());
    private volatile AttentionObserver observer;
    private volatile SequenceBatch batch;

    public KernelizedAttention(
            AbstractModel model,
            int layerIndex,
            Optional<AbstractTensor> queryBias,
            Optional<AbstractTensor> keyBias,
            Optional<AbstractTensor> valueBias,
            AbstractTensor queryWeights,
            AbstractTensor keyWeights,
            AbstractTensor valueWeights,
            Optional<AbstractTensor> outputBias,
            AbstractTensor outputWeights,
            AttentionKernel kernel,
            RotaryTable rope) {
        super(
                model,
                layerIndex,
                queryBias,
                keyBias,
                valueBias,
                queryWeights,
                keyWeights,
                valueWeights,
                outputBias,
                outputWeights);
        this.model = model;
        this.c = model.getConfig();
        this.layerIndex = layerIndex;
        this.queryBias = queryBias;
        this.keyBias = keyBias;
        this.valueBias = valueBias;
        this.outputBias = outputBias;
        this.queryWeights = queryWeights;
        this.keyWeights = keyWeights;
        this.valueWeights = valueWeights;
        this.outputWeights = outputWeights;
        this.kernel = kernel;
        this.rope = rope;
        var shape = kernel.shape();
        if (shape.numHeads() != c.numberOfHeads
                || shape.numKvHeads() != c.numberOfKeyValueHeads
                || shape.headDim() != c.headSize) {
            throw new IllegalArgumentException("kernel shape " + shape + " does not match the model's heads ("
                    + c.numberOfHeads + " query, " + c.numberOfKeyValueHeads + " KV, head size " + c.headSize + ")");
        }
        DistributedContext d = c.dctx();
        if (d.headStart != 0 || d.headEnd != c.numberOfHeads || d.kvSegmentLength != c.kvLength) {
            throw new IllegalArgumentException("kernelized attention does not support distributed (sharded) models");
        }
        if (c.attnLogitSoftCapping != null) {
            throw new IllegalArgumentException("kernelized attention cannot reproduce attention logit soft-capping");
        }
    }

    public int layerIndex() {
        return layerIndex;
    }

    public AttentionKernel kernel() {
        return kernel;
    }

    public RotaryTable rope() {
        return rope;
    }

    /** Installs (or, with null, removes) the observer of this layer's q/k/v/out. */
    public void setObserver(AttentionObserver observer) {
        this.observer = observer;
    }

    /**
     * Attaches the batch whose marker buffer means "the rows are the batch's segments" (null detaches). One batch
     * per layer: the plugin keeps one per model.
     */
    public void attach(SequenceBatch batch) {
        this.batch = batch;
    }

    /** The state of the sequence that uses {@code buffer}; empty when the layer has not seen it. */
    public Optional<AttentionState> state(KvBufferCache.KvBuffer buffer) {
        return Optional.ofNullable(states.get(buffer));
    }

    /** Sets the state of the sequence that uses {@code buffer} (a fresh or restored one). */
    public void putState(KvBufferCache.KvBuffer buffer, AttentionState state) {
        states.put(buffer, state);
    }

    /** Forgets the state of {@code buffer} (session closed). */
    public void removeState(KvBufferCache.KvBuffer buffer) {
        states.remove(buffer);
    }

    private AttentionState stateFor(KvBufferCache.KvBuffer buffer, int startPosition) {
        AttentionState state = states.get(buffer);
        if (state == null || (startPosition == 0 && state.position() != 0)) {
            // first call for this sequence, or its owner restarted it from position 0
            state = kernel.newState();
            states.put(buffer, state);
        }
        if (state.position() != startPosition) {
            throw new IllegalStateException("layer " + layerIndex + ": the sequence is at position " + state.position()
                    + " but the call starts at position " + startPosition
                    + " (kernelized layers only append: positions must follow on)");
        }
        return state;
    }

    /** One session's rows [row, row + length) of a batched pass: RoPE, then its attention into out's rows. */
    private void attendSegment(
            AttentionState state,
            float[] q,
            float[] k,
            float[] v,
            float[] out,
            int row,
            int length,
            int startPosition,
            AttentionObserver o) {
        int queryWidth = c.numberOfHeads * c.headSize, kvWidth = c.kvLength;
        rope.rotate(q, row, length, c.numberOfHeads, startPosition);
        rope.rotate(k, row, length, c.numberOfKeyValueHeads, startPosition);
        // the kernels take whole arrays: a segment's rows are copied out and its output back
        float[] qs = Arrays.copyOfRange(q, row * queryWidth, (row + length) * queryWidth);
        float[] ks = Arrays.copyOfRange(k, row * kvWidth, (row + length) * kvWidth);
        float[] vs = Arrays.copyOfRange(v, row * kvWidth, (row + length) * kvWidth);
        float[] os = new float[qs.length];
        forward(state, qs, ks, vs, os, length, startPosition);
        System.arraycopy(os, 0, out, row * queryWidth, os.length);
        if (o != null) o.onAttention(layerIndex, startPosition, length, qs, ks, vs, os);
    }

    /** The kernel's forward; a NaN or infinity reaching it is named with this layer and the positions. */
    private void forward(
            AttentionState state, float[] q, float[] k, float[] v, float[] out, int length, int startPosition) {
        try {
            kernel.forward(state, q, k, v, out, length);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "layer " + layerIndex + " at positions " + startPosition + ".." + (startPosition + length - 1)
                            + ": " + e.getMessage(),
                    e);
        }
    }

    @Override
    public AbstractTensor forward(
            AbstractTensor input,
            int startPosition,
            KvBufferCache.KvBuffer kvMem,
            Optional<Consumer<List<AbstractTensor>>> tensorReducer) {
        if (input.dims() != 2 || input.shape().last() != c.embeddingLength) {
            throw new IllegalArgumentException("attention input must be [batch, " + c.embeddingLength + "]");
        }
        int batch = input.shape().first();
        int queryWidth = c.numberOfHeads * c.headSize;
        int kvWidth = c.kvLength;
        DistributedContext d = c.dctx();
        TensorOperations ops = TensorOperationsProvider.get();
        SequenceBatch sequences = this.batch;
        boolean batched = sequences != null && kvMem == sequences.marker();
        int segments = batched ? sequences.segments() : 1;
        if (batched && sequences.rows() != batch) {
            throw new IllegalArgumentException(
                    "layer " + layerIndex + ": " + batch + " rows for a batch of " + sequences.rows());
        }
        // every segment's state is checked before anything is computed
        AttentionState[] states = new AttentionState[segments];
        int[] starts = new int[segments];
        int[] lengths = new int[segments];
        for (int s = 0; s < segments; s++) {
            starts[s] = batched ? sequences.start(s) : startPosition;
            lengths[s] = batched ? sequences.length(s) : batch;
            states[s] = stateFor(batched ? sequences.sequence(s) : kvMem, starts[s]);
        }

        try (AbstractTensor queryBatch = model.makeDenseTensor(batch, queryWidth);
                AbstractTensor keyBatch = model.makeDenseTensor(batch, kvWidth);
                AbstractTensor valueBatch = model.makeDenseTensor(batch, kvWidth);
                AbstractTensor attended = model.makeDenseTensor(batch, queryWidth)) {
            projectQkv(ops, input, batch, queryBatch, keyBatch, valueBatch);
            queryBias.ifPresent(b -> ops.accumulate(queryBatch, b, 0, queryWidth));
            keyBias.ifPresent(b -> ops.accumulate(keyBatch, b, 0, kvWidth));
            valueBias.ifPresent(b -> ops.accumulate(valueBatch, b, 0, kvWidth));

            float[] q = toFloats(queryBatch, batch, queryWidth);
            float[] k = toFloats(keyBatch, batch, kvWidth);
            float[] v = toFloats(valueBatch, batch, kvWidth);
            float[] out = new float[batch * queryWidth];
            AttentionObserver o = observer;
            if (segments == 1) {
                rope.rotate(q, 0, batch, c.numberOfHeads, starts[0]);
                rope.rotate(k, 0, batch, c.numberOfKeyValueHeads, starts[0]);
                forward(states[0], q, k, v, out, batch, starts[0]);
                if (o != null) o.onAttention(layerIndex, starts[0], batch, q, k, v, out);
            } else {
                int[] firstRows = new int[segments];
                for (int s = 1; s < segments; s++) firstRows[s] = firstRows[s - 1] + lengths[s - 1];
                ProductThreads.Rows sessions = (from, count) -> {
                    for (int s = from; s < from + count; s++) {
                        attendSegment(states[s], q, k, v, out, firstRows[s], lengths[s], starts[s], o);
                    }
                };
                // each session's attention reads and advances its own state only: the sessions of a pass run side
                // by side (an observer, which records in call order, and a kernel that says it cannot, one by one)
                if (o == null && kernel.concurrentStates()) ProductThreads.forIndependent(segments, sessions);
                else sessions.run(0, segments);
            }
            fromFloats(out, attended, batch, queryWidth);

            AbstractTensor result = model.makeDenseTensor(batch, c.embeddingLength);
            // as Jlama's layer: the model may quantize the attention output to its working type (BF16, I8) first
            try (AbstractTensor quantized = JlamaInternals.maybeQuantize(model, attended)) {
                ProductThreads.forWeightRows(
                        outputWeights,
                        batch,
                        0,
                        c.embeddingLength,
                        (start, length) -> ops.dotProductChunk(
                                result,
                                quantized,
                                outputWeights,
                                d.attentionSegmentStart,
                                d.attentionSegmentLength,
                                start,
                                length));
            }
            tensorReducer.ifPresent(f -> f.accept(Collections.singletonList(result)));
            outputBias.ifPresent(b -> ops.accumulate(result, b, 0, c.embeddingLength));
            return result;
        }
    }

    /**
     * The Q, K and V projections. A decode pass on the project's products is one parallel region over their output
     * rows laid end to end (Q's, then K's, then V's), one hand-off instead of two; otherwise two {@code pchunk}s as in
     * Jlama's layer.
     */
    private void projectQkv(
            TensorOperations ops,
            AbstractTensor input,
            int batch,
            AbstractTensor queryBatch,
            AbstractTensor keyBatch,
            AbstractTensor valueBatch) {
        DistributedContext d = c.dctx();
        int e = c.embeddingLength;
        if (!ProductThreads.decodePass(queryWeights, batch)) {
            VectorMath.pchunk(
                    d.attentionSegmentStart,
                    d.attentionSegmentLength,
                    (start, length) -> ops.dotProductChunk(queryBatch, input, queryWeights, 0, e, start, length));
            VectorMath.pchunk(d.kvSegmentStart, d.kvSegmentLength, (start, length) -> {
                ops.dotProductChunk(keyBatch, input, keyWeights, 0, e, start, length);
                ops.dotProductChunk(valueBatch, input, valueWeights, 0, e, start, length);
            });
            return;
        }
        int qRows = d.attentionSegmentLength, kvRows = d.kvSegmentLength;
        AbstractTensor[] results = {queryBatch, keyBatch, valueBatch};
        AbstractTensor[] weights = {queryWeights, keyWeights, valueWeights};
        int[] firsts = {d.attentionSegmentStart, d.kvSegmentStart, d.kvSegmentStart};
        int[] ends = {qRows, qRows + kvRows, qRows + 2 * kvRows};
        ProductThreads.forWeightRows(queryWeights, batch, 0, ends[2], (start, length) -> {
            int end = start + length;
            for (int p = 0, from = 0; p < 3; from = ends[p], p++) {
                int lo = Math.max(start, from), hi = Math.min(end, ends[p]);
                if (lo < hi) {
                    ops.dotProductChunk(results[p], input, weights[p], 0, e, firsts[p] + lo - from, hi - lo);
                }
            }
        });
    }

    // F32 rows move 8 floats at a time through Jlama's own vector accessors (this module targets Java 21, where
    // java.lang.foreign bulk copies are still preview); other types element by element
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_256;

    @SuppressWarnings("unchecked")
    private static float[] toFloats(AbstractTensor t, int rows, int width) {
        float[] dst = new float[rows * width];
        boolean vectors = t.dType() == DType.F32 && width % SPECIES.length() == 0;
        for (int r = 0; r < rows; r++) {
            int row = r * width;
            if (vectors) {
                for (int j = 0; j < width; j += SPECIES.length()) {
                    ((FloatVector) t.getVector(SPECIES, r, j)).intoArray(dst, row + j);
                }
            } else {
                for (int j = 0; j < width; j++) dst[row + j] = t.get(r, j);
            }
        }
        return dst;
    }

    @SuppressWarnings("unchecked")
    private static void fromFloats(float[] src, AbstractTensor t, int rows, int width) {
        boolean vectors = t.dType() == DType.F32 && width % SPECIES.length() == 0;
        for (int r = 0; r < rows; r++) {
            int row = r * width;
            if (vectors) {
                for (int j = 0; j < width; j += SPECIES.length()) {
                    t.intoTensor(FloatVector.fromArray(SPECIES, src, row + j), r, j);
                }
            } else {
                for (int j = 0; j < width; j++) t.set(src[row + j], r, j);
            }
        }
    }
}
