package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.ops.linear.ChunkLinearAttention;
import io.dijiang4j.attention.ops.linear.FusedRecurrentLinearAttention;
import io.dijiang4j.attention.ops.linear.KernelMemory;

/**
 * Kernelized (linear) attention on the CPU: chunked Lightning blocks for {@code length > 1}, the recurrent form for
 * one token, a non-causal two-pass form for encoders ({@code spec.causal() == false}: every query sees every key
 * of the call and of the state). Memory heads run in parallel when the call is big enough to pay for the hand-off.
 *
 * <p>The math is {@link io.dijiang4j.attention.ops.linear}'s; this class schedules it over the state's memories.
 * Normalizer: {@code o = num / max(den, FLT_MIN)} in the scale where the row's largest log-term is 0, i.e. an
 * epsilon of {@code FLT_MIN * exp(c)} relative to the largest term: it only guards against a zero denominator and
 * changes no finite result.
 */
public final class CpuLinearKernel implements AttentionKernel {
    private final AttentionShape shape;
    private final AttentionSpec spec;
    private final StateLayout layout;

    public CpuLinearKernel(AttentionShape shape, AttentionSpec spec) {
        if (spec.method() != AttentionSpec.Method.LINEAR) {
            throw new IllegalArgumentException("CpuLinearKernel runs LINEAR specs, got " + spec.method());
        }
        CpuKernels.checkMap(shape, spec);
        if (spec.featureMap() instanceof io.dijiang4j.attention.features.OnlineCentroidMap) {
            throw new IllegalArgumentException("the online centroid memory runs in the hybrid layer only");
        }
        if (!spec.causal() && spec.decay() != null) {
            throw new IllegalArgumentException("decay needs causal attention (non-causal with decay is undefined)");
        }
        this.shape = shape;
        this.spec = spec;
        this.layout = StateLayout.of(shape, spec);
    }

    /** Everything a call writes lives in its state (scratch included); the kernel holds only its configuration. */
    @Override
    public boolean concurrentStates() {
        return true;
    }

    @Override
    public AttentionShape shape() {
        return shape;
    }

    @Override
    public AttentionSpec spec() {
        return spec;
    }

    @Override
    public CpuState newState() {
        return new CpuState(shape, spec, layout);
    }

    @Override
    public CpuState restore(byte[] bytes) {
        return CpuState.fromBytes(shape, spec, layout, bytes);
    }

    @Override
    public void forward(AttentionState state, float[] q, float[] k, float[] v, float[] out, int length) {
        CpuState s = CpuKernels.ownState(state, shape, spec);
        Inputs.check(shape, q, k, v, out, length);
        if (length == 0) return;
        if (!spec.causal()) {
            CpuKernels.forEachMemory(layout, length, m -> nonCausal(s, m, q, k, v, out, length));
        } else if (length == 1) { // decode: no thread hand-off, no allocation
            for (int m = 0; m < layout.numMemories(); m++) recurrent(s, m, q, k, v, out);
        } else {
            CpuKernels.forEachMemory(layout, length, m -> chunked(s, m, q, k, v, out, length));
        }
        s.position += length;
    }

    private void recurrent(CpuState s, int memory, float[] q, float[] k, float[] v, float[] out) {
        int d = shape.headDim(), kvh = layout.kvHeadOf(memory);
        FusedRecurrentLinearAttention step = s.stepper(memory);
        KernelMemory mem = s.memories[memory];
        step.addKey(mem, k, kvh * d, v, kvh * d);
        int h0 = layout.firstQueryHead(memory);
        for (int h = h0; h < h0 + layout.queryHeadCount(); h++) step.query(mem, q, h * d, out, h * d);
    }

    private void chunked(CpuState s, int memory, float[] q, float[] k, float[] v, float[] out, int length) {
        int d = shape.headDim(), kvh = layout.kvHeadOf(memory);
        int qw = shape.queryWidth(), kw = shape.kvWidth();
        ChunkLinearAttention block =
                Workspace.forThread(shape, spec).linear(spec.featureMapOf(kvh), spec.decayOf(layout.decayHead(memory)));
        KernelMemory mem = s.memories[memory];
        int b = block.capacity();
        int h0 = layout.firstQueryHead(memory);
        for (int t0 = 0; t0 < length; t0 += b) {
            int rows = Math.min(b, length - t0);
            int kvOff = t0 * kw + kvh * d;
            block.loadKeys(k, kvOff, kw, v, kvOff, kw, rows, 0);
            block.loadState(mem);
            for (int h = h0; h < h0 + layout.queryHeadCount(); h++) {
                block.attend(q, t0 * qw + h * d, qw, rows, true, out);
            }
            block.commitKeys(mem);
        }
    }

    private void nonCausal(CpuState s, int memory, float[] q, float[] k, float[] v, float[] out, int length) {
        int d = shape.headDim(), kvh = layout.kvHeadOf(memory);
        int qw = shape.queryWidth(), kw = shape.kvWidth();
        ChunkLinearAttention block =
                Workspace.forThread(shape, spec).linear(spec.featureMapOf(kvh), spec.decayOf(layout.decayHead(memory)));
        KernelMemory mem = s.memories[memory];
        int b = block.capacity();
        for (int t0 = 0; t0 < length; t0 += b) {
            int rows = Math.min(b, length - t0);
            block.loadKeys(k, t0 * kw + kvh * d, kw, v, t0 * kw + kvh * d, kw, rows, 0);
            block.commitKeys(mem);
        }
        block.loadState(mem);
        int h0 = layout.firstQueryHead(memory);
        for (int t0 = 0; t0 < length; t0 += b) {
            int rows = Math.min(b, length - t0);
            for (int h = h0; h < h0 + layout.queryHeadCount(); h++) {
                block.attend(q, t0 * qw + h * d, qw, rows, false, out);
            }
        }
    }
}
