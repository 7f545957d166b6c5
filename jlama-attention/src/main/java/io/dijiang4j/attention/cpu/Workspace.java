package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.ops.hybrid.ChunkHybridAttention;
import io.dijiang4j.attention.ops.linear.ChunkLinearAttention;
import java.util.HashMap;
import java.util.Map;

/**
 * Prefill scratch of one thread: the chunked op of the method with its buffers. Kept off the states, so a session's
 * memory is its state and not its scratch, and shared by every kernel (layer) of the same sizes on the thread: a
 * model with many layers holds one set per thread, not one per layer. Reconfigured per head (map, scale, decay).
 */
final class Workspace {
    private record Sizes(int headDim, int features, int blockSize, int exactColumns) {}

    private static final ThreadLocal<Map<Sizes, Workspace>> PER_THREAD = ThreadLocal.withInitial(HashMap::new);

    private final ChunkLinearAttention linear; // LINEAR
    private final ChunkHybridAttention hybrid; // HYBRID (exactColumns > 0)
    private double scale;

    private Workspace(AttentionSpec spec, Sizes sizes) {
        int b = sizes.blockSize(), d = sizes.headDim(), cols = sizes.exactColumns();
        boolean isHybrid = cols > 0;
        linear = isHybrid ? null : new ChunkLinearAttention(spec.featureMap(), d, b, spec.scale());
        hybrid = isHybrid ? new ChunkHybridAttention(spec.featureMap(), d, b, cols, spec.scale()) : null;
    }

    /** This thread's scratch for a kernel of this shape and spec. */
    static Workspace forThread(AttentionShape shape, AttentionSpec spec) {
        int cols = spec.method() == AttentionSpec.Method.HYBRID ? spec.sinks() + spec.window() + spec.blockSize() : 0;
        Sizes sizes = new Sizes(shape.headDim(), spec.featureMap().numFeatures(), spec.blockSize(), cols);
        Workspace w = PER_THREAD.get().computeIfAbsent(sizes, s -> new Workspace(spec, s));
        w.scale = spec.scale();
        return w;
    }

    /** The linear block, set to the feature map (of the memory's KV head), the spec's scale and the memory's decay. */
    ChunkLinearAttention linear(FeatureMap map, double decay) {
        linear.setMap(map, scale);
        linear.setDecay(decay);
        return linear;
    }

    /** The hybrid block, set likewise. */
    ChunkHybridAttention hybrid(FeatureMap map, double decay) {
        return hybrid.configure(map, scale, decay);
    }
}
