package io.dijiang4j.attention.tensorops;

import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.FloatBufferTensor;
import com.github.tjake.jlama.tensor.Q4ByteBufferTensor;
import com.github.tjake.jlama.tensor.operations.TensorOperations;
import io.dijiang4j.attention.jlama.JlamaInternals;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The {@code TensorOperations} Jlama runs once a model asked for other matrix products than Jlama's own. Jlama picks
 * its operations once per process ({@code TensorOperationsProvider}) and every model class asks it for each
 * product, so a backend cannot be given to one model directly; instead this router takes the provider's place and
 * sends each product to the {@link MatrixProducts} registered for its weight tensor (by identity), and every other
 * call, and every product of an unregistered weight (vanilla models in the same JVM), to Jlama's own operations,
 * unchanged; one exception, for every model alike: F32 += Q4 ({@link #accumulateQ4}), computed here with Jlama's
 * arithmetic (the same bits) because Jlama's ran in the Vector API's slow fallback. The choice is therefore per model: the weights of a model installed with {@code tensor_ops: fast} are
 * registered, a model without the plugin keeps Jlama's products.
 */
public final class TensorOpsRouter implements TensorOperations {
    private static final System.Logger LOG = System.getLogger(TensorOpsRouter.class.getName());
    private static TensorOpsRouter installed;

    private final TensorOperations jlama;
    /** Copy on write: looked up on every product, changed when a model loads or closes. */
    private volatile Map<AbstractTensor, MatrixProducts> routes = new IdentityHashMap<>();
    /** How many registrations hold each weight (a model may be installed into more than once at a time). */
    private final Map<AbstractTensor, Integer> holds = new IdentityHashMap<>();

    private TensorOpsRouter(TensorOperations jlama) {
        this.jlama = jlama;
    }

    /** The router, put in Jlama's provider the first time (logged once). */
    public static synchronized TensorOpsRouter install() {
        if (installed == null) {
            TensorOperations previous = JlamaInternals.replaceTensorOperations(
                    ops -> ops instanceof TensorOpsRouter r ? r : new TensorOpsRouter(ops));
            installed = (TensorOpsRouter) JlamaInternals.tensorOperations();
            LOG.log(
                    System.Logger.Level.INFO,
                    "matrix products of models loaded with tensor_ops fast run on dijiang4j's kernels; every other"
                            + " Jlama product in this JVM stays on " + previous.name());
        }
        return installed;
    }

    /** Sends the products of {@code weights} to {@code products} (the latest registration wins). */
    public synchronized void route(Collection<? extends AbstractTensor> weights, MatrixProducts products) {
        Map<AbstractTensor, MatrixProducts> next = new IdentityHashMap<>(routes);
        for (AbstractTensor w : weights) {
            next.put(w, products);
            holds.merge(w, 1, Integer::sum);
        }
        routes = next;
    }

    /** Drops one registration of {@code weights}; a weight nobody holds goes back to Jlama's operations. */
    public synchronized void unroute(Collection<? extends AbstractTensor> weights) {
        Map<AbstractTensor, MatrixProducts> next = new IdentityHashMap<>(routes);
        for (AbstractTensor w : weights) {
            Integer n = holds.get(w);
            if (n == null) continue;
            if (n > 1) {
                holds.put(w, n - 1);
            } else {
                holds.remove(w);
                next.remove(w);
            }
        }
        routes = next;
    }

    /** The backend registered for {@code weight}, or null (Jlama's). */
    public MatrixProducts routeOf(AbstractTensor weight) {
        return routes.get(weight);
    }

    /** Jlama's own operations, which this router delegates to. */
    public TensorOperations jlama() {
        return jlama;
    }

    private MatrixProducts backend(AbstractTensor a, AbstractTensor b) {
        MatrixProducts p = routes.get(b);
        if (p == null) return null;
        DType at = a.dType(), bt = b.dType();
        return p.supports(at, bt) ? p : null;
    }

    @Override
    public String name() {
        return "dijiang4j router over " + jlama.name();
    }

    @Override
    public int parallelSplitSize() {
        return jlama.parallelSplitSize();
    }

    @Override
    public void batchDotProduct(
            AbstractTensor result,
            AbstractTensor a,
            AbstractTensor b,
            int aColumnOffset,
            int bColumnOffset,
            int columnLimit,
            int rRowOffset,
            int bRowOffset,
            int rowChunkSize) {
        MatrixProducts p = backend(a, b);
        if (p != null) {
            p.product(result, a, b, aColumnOffset, bColumnOffset, columnLimit, rRowOffset, bRowOffset, rowChunkSize);
        } else {
            jlama.batchDotProduct(
                    result, a, b, aColumnOffset, bColumnOffset, columnLimit, rRowOffset, bRowOffset, rowChunkSize);
        }
    }

    @Override
    public void batchDotProduct(
            AbstractTensor result,
            AbstractTensor a,
            AbstractTensor b,
            int aColumnOffset,
            int bColumnOffset,
            int columnLimit) {
        if (backend(a, b) != null) {
            batchDotProduct(
                    result,
                    a,
                    b,
                    aColumnOffset,
                    bColumnOffset,
                    columnLimit,
                    0,
                    0,
                    b.shape().first());
        } else {
            jlama.batchDotProduct(result, a, b, aColumnOffset, bColumnOffset, columnLimit);
        }
    }

    @Override
    public void dotProductChunk(
            AbstractTensor result,
            AbstractTensor a,
            AbstractTensor b,
            int columnOffset,
            int columnLimit,
            int rowOffset,
            int rowChunkSize) {
        MatrixProducts p = backend(a, b);
        if (p != null) {
            p.product(result, a, b, columnOffset, columnOffset, columnLimit, 0, rowOffset, rowChunkSize);
        } else {
            jlama.dotProductChunk(result, a, b, columnOffset, columnLimit, rowOffset, rowChunkSize);
        }
    }

    @Override
    public void dotProductBatchChunk(
            AbstractTensor[] result,
            AbstractTensor a,
            AbstractTensor[] b,
            int offset,
            int limit,
            int chunkStart,
            int chunkSize) {
        if (b.length == 0 || backend(a, b[0]) == null) {
            jlama.dotProductBatchChunk(result, a, b, offset, limit, chunkStart, chunkSize);
            return;
        }
        for (int j = 0; j < result.length; j++) {
            dotProductChunk(result[j], a, b[j], offset, limit, chunkStart, chunkSize);
        }
    }

    @Override
    public float dotProduct(AbstractTensor a, AbstractTensor b, int aoffset, int boffset, int limit) {
        return jlama.dotProduct(a, b, aoffset, boffset, limit);
    }

    @Override
    public float dotProduct(AbstractTensor a, AbstractTensor b, int limit) {
        return jlama.dotProduct(a, b, limit);
    }

    @Override
    public void accumulate(AbstractTensor a, AbstractTensor b, int offset, int length) {
        if (a instanceof FloatBufferTensor fa
                && b instanceof Q4ByteBufferTensor qb
                && offset % Q4ByteBufferTensor.BLOCK_SIZE == 0
                && length % Q4ByteBufferTensor.BLOCK_SIZE == 0) {
            accumulateQ4(fa, qb, offset, length);
        } else {
            jlama.accumulate(a, b, offset, length);
        }
    }

    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * a[i, offset .. offset + length) += b[i, same columns] (b[0, ..] for every i when b is one row): the residual add
     * of layer 0 when a model's embedding stays Q4. Jlama's accumulateF32Q4_256 shifts bytes, which C2 left to the
     * Vector API's per-lane fallback here (4-6% of a small Q4 model's decode token in a profile). The same arithmetic
     * as Jlama's, (q - 8) * scale added to a, so the same bits; a change to every model's call, vanilla ones included,
     * that changes no result.
     */
    static void accumulateQ4(FloatBufferTensor a, Q4ByteBufferTensor b, int offset, int length) {
        float[] row = ROW.get();
        if (row.length < length) ROW.set(row = new float[length]);
        TensorRows.Q4Row q = TensorRows.Q4Row.of(b, length);
        boolean perRow = b.shape().first() > 1;
        for (int i = 0, rows = a.shape().first(); i < rows; i++) {
            if (i == 0 || perRow) q.copyRows(perRow ? i : 0, offset, length, 1, q.packed, length / 2, q.scales, 0);
            TensorRows.read(a, i, offset, length, row, 0);
            for (int blk = 0; blk < length / Q4ByteBufferTensor.BLOCK_SIZE; blk++) {
                float scale = q.scales[blk];
                int p = blk * Q4ByteBufferTensor.BLOCK_SIZE / 2, d = blk * Q4ByteBufferTensor.BLOCK_SIZE;
                for (int k = 0; k < Q4ByteBufferTensor.HALF_BLOCK; k++) {
                    int packed = q.packed[p + k];
                    row[d + k] += (float) ((packed & 0xF) - 8) * scale;
                    row[d + Q4ByteBufferTensor.HALF_BLOCK + k] += (float) (((packed >> 4) & 0xF) - 8) * scale;
                }
            }
            TensorRows.write(a, i, offset, row, 0, length);
        }
    }

    @Override
    public void maccumulate(AbstractTensor a, AbstractTensor b, int offset, int length) {
        jlama.maccumulate(a, b, offset, length);
    }

    @Override
    public void saxpy(float alpha, AbstractTensor x, AbstractTensor y, int xoffset, int yoffset, int limit) {
        jlama.saxpy(alpha, x, y, xoffset, yoffset, limit);
    }

    @Override
    public void saxpy(
            AbstractTensor alpha,
            AbstractTensor x,
            AbstractTensor y,
            int xoffset,
            int yoffset,
            int limit,
            int aOffset,
            int xRowOffset,
            int batchSize) {
        jlama.saxpy(alpha, x, y, xoffset, yoffset, limit, aOffset, xRowOffset, batchSize);
    }

    @Override
    public void scale(float factor, AbstractTensor x, int offset, int length) {
        jlama.scale(factor, x, offset, length);
    }

    @Override
    public AbstractTensor quantize(AbstractTensor t, DType qtype, int offset, int length) {
        return jlama.quantize(t, qtype, offset, length);
    }

    @Override
    public float sum(AbstractTensor a) {
        return jlama.sum(a);
    }
}
