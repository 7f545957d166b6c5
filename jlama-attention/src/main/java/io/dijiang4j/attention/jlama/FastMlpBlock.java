package io.dijiang4j.attention.jlama;

import com.github.tjake.jlama.math.ActivationFunction;
import com.github.tjake.jlama.math.VectorMath;
import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.MLPBlock;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.operations.TensorOperationsProvider;
import io.dijiang4j.attention.tensorops.ProductThreads;
import io.dijiang4j.attention.tensorops.RowKernels;
import io.dijiang4j.attention.tensorops.TensorRows;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Jlama's gated SiLU {@link MLPBlock} (llama's w2(silu(w1 x) * w3 x)) with the element-wise step between the
 * products vectorized: Jlama applies SiLU one {@code get}/{@code set} at a time, column by column over the batch, and
 * then multiplies by the up projection in a second pass; here each batch row is read once, {@link
 * RowKernels#siluMul} runs on it, and it is written back. The products are the
 * same calls as Jlama's (so they reach the project's kernels through the router). Same weights; the activation
 * rounds as float instead of through a double exponential.
 */
final class FastMlpBlock extends MLPBlock {
    private final AbstractModel model;
    private final AbstractTensor gate, up, down;
    private final AbstractTensor[] gateAndUp;
    private final ThreadLocal<float[][]> rows = ThreadLocal.withInitial(() -> new float[2][0]);

    FastMlpBlock(AbstractModel model, AbstractTensor gate, AbstractTensor down, AbstractTensor up) {
        super(model, ActivationFunction.Type.SILU, gate, down, up);
        this.model = model;
        this.gate = gate;
        this.up = up;
        this.down = down;
        this.gateAndUp = new AbstractTensor[] {gate, up};
    }

    @Override
    public AbstractTensor forward(AbstractTensor lnemb, Optional<Consumer<List<AbstractTensor>>> tensorReducer) {
        var c = model.getConfig();
        var dctx = c.dctx();
        int batch = lnemb.shape().first();
        try (AbstractTensor gated = model.makeTensor(batch, c.hiddenLength);
                AbstractTensor upped = model.makeTensor(batch, c.hiddenLength)) {
            AbstractTensor[] results = {gated, upped};
            project(lnemb, results, batch, dctx.hiddenSegmentStart, dctx.hiddenSegmentLength);
            int from = dctx.hiddenSegmentStart, n = dctx.hiddenSegmentLength;
            // on the calling thread: vectorized, it is about 1% of a prefill, and Jlama's pchunk drops rows for
            // lengths below splits squared (docs/JLAMA.md §3: 3 rows over 2 splits cover rows 0 and 1 only)
            activate(gated, upped, 0, batch, from, n);
            try (AbstractTensor quantized = JlamaInternals.maybeQuantize(model, gated)) {
                AbstractTensor result = model.makeTensor(batch, c.embeddingLength);
                ProductThreads.forWeightRows(
                        down,
                        batch,
                        0,
                        c.embeddingLength,
                        (start, size) -> TensorOperationsProvider.get()
                                .dotProductChunk(result, quantized, down, from, n, start, size));
                tensorReducer.ifPresent(f -> f.accept(Collections.singletonList(result)));
                return result;
            }
        }
    }

    /**
     * The gate and up projections. A decode pass on the project's products: one parallel region over both matrices'
     * rows laid end to end; otherwise Jlama's {@code pchunk} as in Jlama.
     */
    private void project(AbstractTensor lnemb, AbstractTensor[] results, int batch, int first, int rows) {
        int e = model.getConfig().embeddingLength;
        if (!ProductThreads.decodePass(gate, batch)) {
            VectorMath.pchunk(
                    first,
                    rows,
                    (start, size) -> TensorOperationsProvider.get()
                            .dotProductBatchChunk(results, lnemb, gateAndUp, 0, e, start, size));
            return;
        }
        var ops = TensorOperationsProvider.get();
        ProductThreads.forWeightRows(gate, batch, 0, 2 * rows, (start, size) -> {
            int end = start + size;
            if (start < rows)
                ops.dotProductChunk(results[0], lnemb, gate, 0, e, first + start, Math.min(end, rows) - start);
            if (end > rows) {
                int lo = Math.max(start, rows);
                ops.dotProductChunk(results[1], lnemb, up, 0, e, first + lo - rows, end - lo);
            }
        });
    }

    /** Rows [start, start + size) of gated: silu(gated) * upped over columns [from, from + n). */
    private void activate(AbstractTensor gated, AbstractTensor upped, int start, int size, int from, int n) {
        float[][] buf = rows.get();
        if (buf[0].length < n) {
            buf[0] = new float[n];
            buf[1] = new float[n];
        }
        for (int b = start; b < start + size; b++) {
            TensorRows.read(gated, b, from, n, buf[0], 0);
            TensorRows.read(upped, b, from, n, buf[1], 0);
            RowKernels.siluMul(buf[0], 0, buf[1], 0, n);
            TensorRows.write(gated, b, from, buf[0], 0, n);
        }
    }
}
