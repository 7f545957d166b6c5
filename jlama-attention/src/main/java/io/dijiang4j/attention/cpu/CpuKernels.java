package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/** Helpers shared by the CPU kernels. */
final class CpuKernels {
    /**
     * Below this many multiply-adds (tokens x query heads x features x head size) a call runs on the caller's
     * thread: a decode token of a 16-head, d = m = 64 layer is ~65K and costs less than waking a pool thread.
     */
    static final long PARALLEL_WORK = 1L << 20;

    private CpuKernels() {}

    static void checkMap(AttentionShape shape, AttentionSpec spec) {
        if (spec.featureMap().inputDim() != shape.headDim()) {
            throw new IllegalArgumentException(
                    "feature map '" + spec.featureMap().name() + "' takes inputs of size "
                            + spec.featureMap().inputDim() + " but the head size is " + shape.headDim());
        }
        if (spec.kvHeadMaps() != null && spec.kvHeadMaps().length != shape.numKvHeads()) {
            throw new IllegalArgumentException("the spec has " + spec.kvHeadMaps().length
                    + " per-KV-head feature maps but the layer has " + shape.numKvHeads() + " KV heads");
        }
    }

    static CpuState ownState(AttentionState state, AttentionShape shape, AttentionSpec spec) {
        if (!(state instanceof CpuState s)) {
            throw new IllegalArgumentException(
                    "state " + (state == null ? "null" : state.getClass().getName()) + " was not made by a CPU kernel");
        }
        if (s.spec != spec && !(s.shape.equals(shape) && s.spec.equals(spec))) {
            throw new IllegalArgumentException("state belongs to a kernel of another shape or spec");
        }
        return s;
    }

    static void forEachMemory(StateLayout layout, int length, IntConsumer body) {
        AttentionShape shape = layout.shape();
        int memories = layout.numMemories();
        long work = (long) length * shape.numHeads() * shape.headDim() * 64;
        if (memories > 1 && work >= PARALLEL_WORK) {
            IntStream.range(0, memories).parallel().forEach(body);
        } else {
            for (int i = 0; i < memories; i++) body.accept(i);
        }
    }
}
