package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.linear.MemoryBlock;

/**
 * Prefill scratch of one thread for one kernel (a ThreadLocal of the kernel): the Lightning block and its output
 * buffers. Kept off the states so a session's memory is its state, not its scratch; reused across heads (the block
 * is told each head's decay).
 */
final class Workspace {
    final MemoryBlock block;
    final float[] blockOut;
    final float[] blockDen;
    final double[] rowMax;
    final float[] evictedKeys;
    final float[] evictedValues;
    final float[] exactKeysT; // hybrid: [d][sinks + window + B] keys of the block's exact columns, transposed
    final float[] exactValues; // [sinks + window + B][d]
    final float[] exactQueries; // [B][d], scaled by tau
    final float[] exactScores; // [B][sinks + window + B]

    Workspace(AttentionShape shape, AttentionSpec spec) {
        int b = spec.blockSize(), d = shape.headDim();
        block = new MemoryBlock(spec.featureMap(), d, b, spec.scale());
        blockOut = new float[b * d];
        blockDen = new float[b];
        rowMax = new double[b];
        boolean hybrid = spec.method() == AttentionSpec.Method.HYBRID;
        evictedKeys = hybrid ? new float[b * d] : null;
        evictedValues = hybrid ? new float[b * d] : null;
        int cols = hybrid ? spec.sinks() + spec.window() + b : 0;
        exactKeysT = new float[cols * d];
        exactValues = new float[cols * d];
        exactQueries = new float[hybrid ? b * d : 0];
        exactScores = new float[b * cols];
    }

    MemoryBlock block(double decay) {
        block.setDecay(decay);
        return block;
    }
}
