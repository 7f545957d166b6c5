package io.dijiang4j.attention.ops.hybrid;

import io.dijiang4j.attention.ops.linear.FusedRecurrentLinearAttention;
import io.dijiang4j.attention.ops.linear.KernelMemory;

/**
 * The kernelized memory of a fixed feature map as an {@link EvictedMemory}: the linear ops' recurrent form ({@link
 * FusedRecurrentLinearAttention}, which holds the map, the scale and the decay) over a {@link KernelMemory}.
 */
public record FeatureMemory(FusedRecurrentLinearAttention step, KernelMemory memory) implements EvictedMemory {
    @Override
    public void fold(float[] k, int kOff, float[] v, int vOff) {
        step.addKey(memory, k, kOff, v, vOff);
    }

    @Override
    public double loadQuery(float[] q, int qOff, double logGain) {
        return step.loadQuery(memory, q, qOff, logGain);
    }

    @Override
    public double accumulate(double rowMax, double logGain, double[] num) {
        return step.accumulate(memory, rowMax, logGain, num);
    }
}
