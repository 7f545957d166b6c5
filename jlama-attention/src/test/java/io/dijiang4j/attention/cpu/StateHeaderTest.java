package io.dijiang4j.attention.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.features.FeatureMaps;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class StateHeaderTest {
    @Test
    void stateContinuesUnderAnotherBlockSize() {
        AttentionShape shape = new AttentionShape(2, 1, 8);
        AttentionSpec spec = AttentionSpec.linear(FeatureMaps.create("wdcf", 8, 8, 1), 8);
        AttentionKernel a = new CpuKernelProvider().create(shape, spec.withBlockSize(16));
        AttentionKernel b = new CpuKernelProvider().create(shape, spec.withBlockSize(32));
        SplittableRandom random = new SplittableRandom(4);
        float[] q = KernelEquivalenceTest.random(random, 40 * 16, 1);
        float[] k = KernelEquivalenceTest.random(random, 40 * 8, 1);
        float[] v = KernelEquivalenceTest.random(random, 40 * 8, 1);
        AttentionState state = a.newState();
        a.forward(state, q, k, v, new float[40 * 16], 40);
        AttentionState moved = b.restore(state.toBytes());
        assertArrayEquals(state.toBytes(), moved.toBytes());
    }
}
