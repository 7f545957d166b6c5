package io.dijiang4j.tools.calibration;

import com.github.tjake.jlama.tensor.AbstractTensor;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.cpu.CpuHybridKernel;
import io.dijiang4j.attention.features.FeatureMaps;
import io.dijiang4j.attention.simd.VectorOps;
import io.dijiang4j.plugin.DiJiangModel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.IntFunction;

/**
 * The score of a candidate layer from the recording alone (docs/MATH.md §5): the layer's attention-output error
 * pushed through its output projection, per KV group,
 *
 * <pre>
 *   score = (1 / N) sum_n sum_h | W_h (o_h,n - o*_h,n) |^2
 * </pre>
 *
 * with o the candidate's output (the plugin's CPU kernel on the recorded q, k, v: exact cache, heavy hitters and
 * memory as the model would run them), o* the recorded softmax output, W_h the columns of o_proj that read the
 * query heads of KV head h, N the recorded positions. The cross terms between KV groups are left out (their errors
 * come from different keys and values), which makes the score a sum over KV heads, computed in parallel. It is the
 * squared change of the residual stream the layer writes; the budget plan adds it over layers. {@code |W_h e|^2 =
 * |L_h^T e|^2} with {@code W_h^T W_h = L_h L_h^T} (Cholesky, float64), so a token costs (group * d)^2, not hidden *
 * group * d.
 */
final class OutputErrorScore {
    private final AttentionShape shape;
    private final AttentionShape headShape;
    /** Per KV head: L_h, [group*d][group*d] row-major, lower triangular. */
    private final float[][] factors;

    /**
     * @param oProj the layer's output projection, [hidden][heads*d] (out x in, as stored)
     */
    OutputErrorScore(AttentionShape shape, double[][] oProj) {
        this.shape = shape;
        this.headShape = new AttentionShape(shape.groupSize(), 1, shape.headDim());
        int gd = shape.groupSize() * shape.headDim();
        if (oProj.length == 0 || oProj[0].length != shape.queryWidth()) {
            throw new IllegalArgumentException("o_proj must have " + shape.queryWidth() + " input columns");
        }
        factors = new float[shape.numKvHeads()][];
        for (int h = 0; h < shape.numKvHeads(); h++) {
            double[] gram = new double[gd * gd];
            int c0 = h * gd;
            for (double[] row : oProj) {
                for (int a = 0; a < gd; a++) {
                    double x = row[c0 + a];
                    if (x == 0) continue;
                    for (int b = 0; b <= a; b++) gram[a * gd + b] += x * row[c0 + b];
                }
            }
            factors[h] = cholesky(gram, gd);
        }
    }

    /** The layer's o_proj as Jlama loads it from the checkpoint (dequantized), [hidden][heads*d]. */
    static double[][] outputProjection(DiJiangModel model, int layer) {
        AbstractTensor t = model.jlama().getWeights().load("model.layers." + layer + ".self_attn.o_proj.weight");
        int rows = t.shape().dim(0), cols = t.shape().dim(1);
        double[][] w = new double[rows][cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) w[r][c] = t.get(r, c);
        return w;
    }

    /**
     * Lower-triangular L with L L^T = G (G symmetric positive semidefinite, lower triangle given); a pivot at or
     * below 1e-12 of the largest diagonal entry gives a zero column (the direction carries no weight).
     */
    static float[] cholesky(double[] g, int n) {
        double[] l = new double[n * n];
        double largest = 0;
        for (int i = 0; i < n; i++) largest = Math.max(largest, g[i * n + i]);
        double floor = 1e-12 * largest;
        for (int j = 0; j < n; j++) {
            double diag = g[j * n + j];
            for (int k = 0; k < j; k++) diag -= l[j * n + k] * l[j * n + k];
            if (!(diag > floor)) continue; // column j stays 0
            double root = Math.sqrt(diag);
            l[j * n + j] = root;
            for (int i = j + 1; i < n; i++) {
                double s = g[i * n + j];
                for (int k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
                l[i * n + j] = s / root;
            }
        }
        float[] out = new float[n * n];
        for (int i = 0; i < out.length; i++) out[i] = (float) l[i];
        return out;
    }

    /**
     * The part of a layer's spec ({@code full}, every KV head) that KV head {@code kvHead} runs: its map, its query
     * heads' gains, the same sinks, window, exact cache, scale and block size, over one KV head.
     */
    static AttentionSpec kvHeadSpec(AttentionSpec full, AttentionShape shape, int kvHead) {
        int group = shape.groupSize();
        FeatureMap map = full.featureMapOf(kvHead);
        double[] gains = new double[group];
        for (int g = 0; g < group; g++) gains[g] = full.memoryGainOf(kvHead * group + g);
        AttentionSpec spec = AttentionSpec.hybrid(map, shape.headDim(), full.sinks(), full.window())
                .withScale(full.scale())
                .withBlockSize(full.blockSize())
                .withMemoryGain(gains);
        // per-KV-head maps only where the layer has them (the online memory has none: it fits itself)
        if (full.kvHeadMaps() != null) spec = spec.withKvHeadMaps(new FeatureMap[] {map});
        return full.exactCache() > 0 ? spec.withExactCache(full.exactCache(), full.cachePolicy()) : spec;
    }

    /**
     * A KV head's spec (from {@link #kvHeadSpec}, {@code group} query heads) with its memory off: every gain 0 and a
     * one-feature map. A memory whose gains are all 0 is never read, so the output equals that of the spec with any
     * map, and the folds cost next to nothing.
     */
    static AttentionSpec withoutMemory(AttentionSpec kvHeadSpec, int group) {
        int d = kvHeadSpec.featureMap().inputDim();
        AttentionSpec spec = AttentionSpec.hybrid(
                        FeatureMaps.create("performer", d, 1, 0), d, kvHeadSpec.sinks(), kvHeadSpec.window())
                .withScale(kvHeadSpec.scale())
                .withBlockSize(kvHeadSpec.blockSize())
                .withMemoryGain(new double[group]);
        return kvHeadSpec.exactCache() > 0
                ? spec.withExactCache(kvHeadSpec.exactCache(), kvHeadSpec.cachePolicy())
                : spec;
    }

    /**
     * The score of a candidate over every recorded text.
     *
     * @param kvHeadSpec the candidate's spec for one KV head (shape: the group's query heads, one KV head)
     * @param pool runs the KV heads in parallel
     */
    double score(AttentionRecorder.LayerRows rows, IntFunction<AttentionSpec> kvHeadSpec, ExecutorService pool) {
        List<Future<Double>> parts = new ArrayList<>();
        for (int h = 0; h < shape.numKvHeads(); h++) {
            int kvHead = h;
            parts.add(pool.submit(() -> headScore(rows, kvHead, kvHeadSpec.apply(kvHead))));
        }
        double sum = 0;
        try {
            for (Future<Double> f : parts) sum += f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e.getCause());
        }
        return sum / rows.positions();
    }

    /** Sum over positions of |L_h^T (o - o*)|^2 for KV head h. */
    double headScore(AttentionRecorder.LayerRows rows, int h, AttentionSpec spec) {
        int d = shape.headDim(), gd = shape.groupSize() * d, qw = shape.queryWidth(), kw = shape.kvWidth();
        float[] factor = factors[h];
        double sum = 0;
        try (CpuHybridKernel kernel = new CpuHybridKernel(headShape, spec)) {
            for (int t = 0; t < rows.texts(); t++) {
                int length = rows.length(t);
                float[] q = new float[length * gd], k = new float[length * d], v = new float[length * d];
                float[] ref = new float[length * gd];
                float[] qs = rows.q().get(t),
                        ks = rows.k().get(t),
                        vs = rows.v().get(t),
                        os = rows.out().get(t);
                for (int n = 0; n < length; n++) {
                    System.arraycopy(qs, n * qw + h * gd, q, n * gd, gd);
                    System.arraycopy(os, n * qw + h * gd, ref, n * gd, gd);
                    System.arraycopy(ks, n * kw + h * d, k, n * d, d);
                    System.arraycopy(vs, n * kw + h * d, v, n * d, d);
                }
                float[] out = new float[length * gd];
                AttentionState state = kernel.newState();
                kernel.forward(state, q, k, v, out, length);
                for (int i = 0; i < out.length; i++) out[i] -= ref[i];
                float[] projected = new float[length * gd];
                VectorOps.gemm(out, 0, gd, factor, 0, gd, projected, 0, gd, length, gd, gd);
                for (float x : projected) sum += (double) x * x;
            }
        }
        return sum;
    }
}
