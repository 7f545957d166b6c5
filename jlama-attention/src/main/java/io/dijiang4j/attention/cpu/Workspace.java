package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.linear.MemoryBlock;
import io.dijiang4j.attention.linear.RecurrentLinearAttention;

/** Scratch of one memory head: the block and recurrent workers and their output buffers (never serialized). */
final class Workspace {
    final RecurrentLinearAttention recurrent;
    final double[] numerator;
    final float[] logits; // hybrid: exact logits of one query (sinks + window)
    private final AttentionShape shape;
    private final AttentionSpec spec;
    private final double decay;
    private MemoryBlock block;
    float[] blockOut;
    float[] blockDen;
    double[] rowMax;
    private float[] evictedKeys;
    private float[] evictedValues;

    Workspace(AttentionShape shape, AttentionSpec spec, StateLayout layout, int memory) {
        this.shape = shape;
        this.spec = spec;
        this.decay = spec.decayOf(layout.decayHead(memory));
        this.recurrent = new RecurrentLinearAttention(spec.featureMap(), shape.headDim(), spec.scale(), decay);
        this.numerator = new double[shape.headDim()];
        this.logits = new float[spec.sinks() + spec.window() + 1];
    }

    float[] evictedKeys() {
        if (evictedKeys == null) evictedKeys = new float[spec.blockSize() * shape.headDim()];
        return evictedKeys;
    }

    float[] evictedValues() {
        if (evictedValues == null) evictedValues = new float[spec.blockSize() * shape.headDim()];
        return evictedValues;
    }

    MemoryBlock block() {
        if (block == null) {
            int b = spec.blockSize();
            block = new MemoryBlock(spec.featureMap(), shape.headDim(), b, spec.scale(), decay);
            blockOut = new float[b * shape.headDim()];
            blockDen = new float[b];
            rowMax = new double[b];
        }
        return block;
    }
}
