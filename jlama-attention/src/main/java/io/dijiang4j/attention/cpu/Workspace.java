package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.ops.linear.ChunkLinearAttention;
import java.util.HashMap;
import java.util.Map;

/**
 * Prefill scratch of one thread: the Lightning block and its output buffers. Kept off the states, so a session's
 * memory is its state and not its scratch, and shared by every kernel (layer) of the same sizes on the thread: a
 * model with many layers holds one set per thread, not one per layer. Reconfigured per head (map, scale, decay).
 */
final class Workspace {
    private record Sizes(int headDim, int features, int blockSize, int exactColumns) {}

    private static final ThreadLocal<Map<Sizes, Workspace>> PER_THREAD = ThreadLocal.withInitial(HashMap::new);

    final ChunkLinearAttention block;
    final float[] blockOut;
    final float[] blockDen;
    final double[] rowMax;
    final float[] evictedKeys;
    final float[] evictedValues;
    final float[] exactKeysT; // hybrid: [d][sinks + window + B] keys of the block's exact columns, transposed
    final float[] exactValues; // [sinks + window + B][d]
    final float[] exactQueries; // [B][d], scaled by tau
    final float[] exactScores; // [B][sinks + window + B]
    private double scale;

    private Workspace(AttentionSpec spec, Sizes sizes) {
        int b = sizes.blockSize(), d = sizes.headDim(), cols = sizes.exactColumns();
        block = new ChunkLinearAttention(spec.featureMap(), d, b, spec.scale());
        blockOut = new float[b * d];
        blockDen = new float[b];
        rowMax = new double[b];
        boolean hybrid = cols > 0;
        evictedKeys = hybrid ? new float[b * d] : null;
        evictedValues = hybrid ? new float[b * d] : null;
        exactKeysT = new float[cols * d];
        exactValues = new float[cols * d];
        exactQueries = new float[hybrid ? b * d : 0];
        exactScores = new float[b * cols];
    }

    /** This thread's scratch for a kernel of this shape and spec; {@link #block} points it at a memory's map. */
    static Workspace forThread(AttentionShape shape, AttentionSpec spec) {
        int cols = spec.method() == AttentionSpec.Method.HYBRID ? spec.sinks() + spec.window() + spec.blockSize() : 0;
        Sizes sizes = new Sizes(shape.headDim(), spec.featureMap().numFeatures(), spec.blockSize(), cols);
        Workspace w = PER_THREAD.get().computeIfAbsent(sizes, s -> new Workspace(spec, s));
        w.scale = spec.scale();
        return w;
    }

    /** The block, set to the feature map (of the memory's KV head), the spec's scale and the memory's decay. */
    ChunkLinearAttention block(FeatureMap map, double decay) {
        block.setMap(map, scale);
        block.setDecay(decay);
        return block;
    }
}
