package io.dijiang4j.attention.jlama;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.RMSNorm;
import com.github.tjake.jlama.tensor.AbstractTensor;
import io.dijiang4j.attention.tensorops.RowKernels;
import io.dijiang4j.attention.tensorops.TensorRows;

/**
 * Jlama's {@link RMSNorm} with its arithmetic vectorized ({@link RowKernels#rmsNorm}): rows are read and written in
 * whole vectors instead of one bounds-checked {@code get}/{@code set} per value. Same weights, same result up to
 * float rounding order. Used in the blocks the plugin builds for {@code tensor_ops: fast} (docs/DESIGN.md §4).
 */
final class FastRmsNorm extends RMSNorm {
    private final float[] w;
    private final float adjust;
    private final float divisor;
    private final float eps;
    private final ThreadLocal<float[][]> rows = ThreadLocal.withInitial(() -> new float[2][0]);

    FastRmsNorm(AbstractModel model, AbstractTensor weights, float adjust) {
        super(model, weights, adjust);
        var c = model.getConfig();
        this.w = new float[c.embeddingLength];
        for (int j = 0; j < w.length; j++) w[j] = weights.get(0, j);
        this.adjust = adjust;
        this.divisor = c.embeddingLength;
        this.eps = c.layerNormEps;
    }

    @Override
    public AbstractTensor forward(AbstractTensor input, int offset, int length) {
        int batch = input.shape().first();
        AbstractTensor output = m.makeDenseTensor(input.shape());
        float[][] buf = rows.get();
        if (buf[0].length < length) buf[0] = buf[1] = null;
        float[] x = buf[0] != null ? buf[0] : (buf[0] = new float[length]);
        float[] out = buf[1] != null ? buf[1] : (buf[1] = new float[length]);
        float[] weights = offset == 0 ? w : java.util.Arrays.copyOfRange(w, offset, offset + length);
        for (int b = 0; b < batch; b++) {
            TensorRows.read(input, b, offset, length, x, 0);
            RowKernels.rmsNorm(x, 0, length, weights, adjust, divisor, eps, out, 0);
            TensorRows.write(output, b, offset, out, 0, length);
        }
        return output;
    }
}
