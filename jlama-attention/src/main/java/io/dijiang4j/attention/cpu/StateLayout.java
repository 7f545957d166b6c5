package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;

/**
 * Which heads own a kernelized memory. The key features (and so the memory) depend only on the KV head; decay is
 * per query head. When every query head of a group has the same decay (or there is none) one memory per KV head
 * serves the whole group (the gain of the hybrid is applied at query time); otherwise each query head keeps its
 * own.
 */
record StateLayout(AttentionShape shape, boolean perKvHead) {
    static StateLayout of(AttentionShape shape, AttentionSpec spec) {
        if (spec.decay() != null && spec.decay().length != shape.numHeads()) {
            throw new IllegalArgumentException("decay has " + spec.decay().length + " values but the layer has "
                    + shape.numHeads() + " query heads");
        }
        if (spec.memoryGain() != null && spec.memoryGain().length != shape.numHeads()) {
            throw new IllegalArgumentException("memoryGain has " + spec.memoryGain().length
                    + " values but the layer has " + shape.numHeads() + " query heads");
        }
        boolean shared = true;
        if (spec.decay() != null) {
            int g = shape.groupSize();
            for (int h = 0; h < shape.numHeads(); h++) {
                if (spec.decay()[h] != spec.decay()[(h / g) * g]) shared = false;
            }
        }
        return new StateLayout(shape, shared);
    }

    int numMemories() {
        return perKvHead ? shape.numKvHeads() : shape.numHeads();
    }

    int kvHeadOf(int memory) {
        return perKvHead ? memory : shape.kvHeadOf(memory);
    }

    int firstQueryHead(int memory) {
        return perKvHead ? memory * shape.groupSize() : memory;
    }

    int queryHeadCount() {
        return perKvHead ? shape.groupSize() : 1;
    }

    /** A query head whose decay this memory uses. */
    int decayHead(int memory) {
        return firstQueryHead(memory);
    }
}
