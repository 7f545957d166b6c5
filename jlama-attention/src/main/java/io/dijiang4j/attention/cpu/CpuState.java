package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.OnlineCentroidMap;
import io.dijiang4j.attention.ops.hybrid.EvictedMemory;
import io.dijiang4j.attention.ops.hybrid.ExactCache;
import io.dijiang4j.attention.ops.hybrid.FeatureMemory;
import io.dijiang4j.attention.ops.hybrid.FusedRecurrentHybridAttention;
import io.dijiang4j.attention.ops.hybrid.OnlineCentroidMemory;
import io.dijiang4j.attention.ops.linear.FusedRecurrentLinearAttention;
import io.dijiang4j.attention.ops.linear.KernelMemory;
import java.nio.ByteBuffer;

/**
 * The state of one layer for one sequence on the CPU: a {@link KernelMemory} per memory head (see {@link
 * StateLayout}) and, for the hybrid, the exact sink and window keys/values per KV head (raw, before scaling; the
 * window is a ring buffer of positions >= sinks, its keys stored transposed [headDim][window]). With an exact cache
 * ({@code spec.exactCache() = C > 0}) also an {@link ExactCache} per KV head (C evicted tokens kept exact, the
 * window tokens' accumulated attention). With the online centroid memory ({@link OnlineCentroidMap}) an {@link
 * OnlineCentroidMemory} per KV head takes the place of the kernel memories. Constant size in the position. Scratch for the kernels lives beside it (not
 * serialized) so decoding allocates nothing.
 */
public final class CpuState implements AttentionState {
    final AttentionShape shape;
    final AttentionSpec spec;
    final StateLayout layout;
    long position;
    final KernelMemory[] memories; // none with the online centroid memory
    final OnlineCentroidMemory[] onlineMemories; // per KV head with the online centroid memory, else none
    final float[][] sinkKeys;
    final float[][] sinkValues;
    final float[][] windowKeys;
    final float[][] windowValues;
    private final FusedRecurrentLinearAttention[] steppers; // decode scratch per memory, made on first use
    private final FeatureMemory[] featureMemories; // the steppers bound to their memories, made with them
    // decode scratch (hybrid), per KV head: the KV heads of one token run side by side (CpuHybridKernel)
    final FusedRecurrentHybridAttention[] hybridSteps;
    final float[][] windowLogits; // decode (hybrid), per KV head: q . k of every ring slot
    final ExactCache[] caches; // exact cache (hybrid, C > 0), per KV head
    final float[] queryRow; // prefill with a cache (token by token): one token's rows
    final float[] keyRowIn;
    final float[] valueRowIn;
    final float[] outRow;
    private Tokens tokens;
    final CpuHybridKernel.KvHeadSteps kvHeadSteps = new CpuHybridKernel.KvHeadSteps(this);

    CpuState(AttentionShape shape, AttentionSpec spec, StateLayout layout) {
        this.shape = shape;
        this.spec = spec;
        this.layout = layout;
        int m = spec.featureMap().numFeatures(), d = shape.headDim();
        boolean hybrid = spec.method() == AttentionSpec.Method.HYBRID;
        boolean online = spec.featureMap() instanceof OnlineCentroidMap;
        int kvh = shape.numKvHeads();
        memories = new KernelMemory[online ? 0 : layout.numMemories()];
        for (int i = 0; i < memories.length; i++) memories[i] = new KernelMemory(m, d);
        onlineMemories = new OnlineCentroidMemory[online ? kvh : 0];
        for (int i = 0; i < onlineMemories.length; i++) {
            onlineMemories[i] = new OnlineCentroidMemory(m, d, spec.scale());
        }
        sinkKeys = new float[hybrid ? kvh : 0][spec.sinks() * d];
        sinkValues = new float[hybrid ? kvh : 0][spec.sinks() * d];
        windowKeys = new float[hybrid ? kvh : 0][spec.window() * d];
        windowValues = new float[hybrid ? kvh : 0][spec.window() * d];
        steppers = new FusedRecurrentLinearAttention[memories.length];
        featureMemories = new FeatureMemory[memories.length];
        int cache = spec.exactCache(), cacheHeads = cache > 0 ? kvh : 0;
        hybridSteps = new FusedRecurrentHybridAttention[hybrid ? kvh : 0];
        for (int h = 0; h < hybridSteps.length; h++) {
            hybridSteps[h] = new FusedRecurrentHybridAttention(d, spec.scale(), spec.sinks(), spec.window(), cache);
        }
        windowLogits = new float[hybrid ? kvh : 0][spec.window()];
        caches = new ExactCache[cacheHeads];
        for (int h = 0; h < cacheHeads; h++) caches[h] = new ExactCache(cache, d, spec.sinks(), spec.window());
        boolean tokenByToken = cache > 0;
        queryRow = new float[tokenByToken ? shape.queryWidth() : 0];
        keyRowIn = new float[tokenByToken ? shape.kvWidth() : 0];
        valueRowIn = new float[tokenByToken ? shape.kvWidth() : 0];
        outRow = new float[tokenByToken ? shape.queryWidth() : 0];
    }

    /** How many evicted tokens the exact cache of KV head {@code kvHead} holds now (0 without a cache). */
    public int cacheCount(int kvHead) {
        return caches.length == 0 ? 0 : caches[kvHead].count();
    }

    Tokens tokens(float[] k, float[] v) {
        if (tokens == null) tokens = new Tokens(this);
        return tokens.reset(k, v);
    }

    FusedRecurrentLinearAttention stepper(int memory) {
        FusedRecurrentLinearAttention r = steppers[memory];
        if (r == null) {
            double decay = spec.decayOf(layout.decayHead(memory));
            FeatureMap map = spec.featureMapOf(layout.kvHeadOf(memory));
            r = new FusedRecurrentLinearAttention(map, shape.headDim(), spec.scale(), decay);
            steppers[memory] = r;
            featureMemories[memory] = new FeatureMemory(r, memories[memory]);
        }
        return r;
    }

    /** The hybrid's memory term of memory head {@code memory}: the online centroid memory or the kernel memory. */
    EvictedMemory evicted(int memory) {
        if (onlineMemories.length > 0) return onlineMemories[memory];
        stepper(memory);
        return featureMemories[memory];
    }

    @Override
    public long position() {
        return position;
    }

    private int payloadBytes() {
        int m = spec.featureMap().numFeatures(), d = shape.headDim();
        long bytes = (long) memories.length * KernelMemory.serializedBytes(m, d);
        bytes += onlineMemories.length * OnlineCentroidMemory.serializedBytes(m, d);
        bytes += 4L * 2 * sinkKeys.length * (spec.sinks() + spec.window()) * d;
        int c = spec.exactCache();
        bytes += caches.length * ExactCache.serializedBytes(c, d, spec.window());
        if (bytes > Integer.MAX_VALUE - StateHeader.BYTES) throw new IllegalStateException("state too large");
        return (int) bytes;
    }

    @Override
    public long sizeBytes() {
        return StateHeader.BYTES + (long) payloadBytes();
    }

    @Override
    public byte[] toBytes() {
        ByteBuffer out = StateHeader.allocate(payloadBytes());
        StateHeader.write(out, shape, spec, position);
        for (KernelMemory memory : memories) memory.write(out);
        for (OnlineCentroidMemory memory : onlineMemories) memory.write(out);
        for (float[][] buffers : new float[][][] {sinkKeys, sinkValues, windowKeys, windowValues}) {
            for (float[] buffer : buffers) {
                out.asFloatBuffer().put(buffer);
                out.position(out.position() + 4 * buffer.length);
            }
        }
        for (ExactCache cache : caches) cache.write(out);
        return out.array();
    }

    static CpuState fromBytes(AttentionShape shape, AttentionSpec spec, StateLayout layout, byte[] bytes) {
        if (bytes == null) throw new IllegalArgumentException("state bytes are null");
        CpuState state = new CpuState(shape, spec, layout);
        ByteBuffer in = ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        state.position = StateHeader.read(in, shape, spec, state.payloadBytes());
        for (KernelMemory memory : state.memories) memory.read(in);
        for (int h = 0; h < state.onlineMemories.length; h++) state.onlineMemories[h].read(in, h);
        for (float[][] buffers :
                new float[][][] {state.sinkKeys, state.sinkValues, state.windowKeys, state.windowValues}) {
            for (float[] buffer : buffers) {
                in.asFloatBuffer().get(buffer);
                in.position(in.position() + 4 * buffer.length);
            }
        }
        for (int h = 0; h < state.caches.length; h++) state.caches[h].read(in, h);
        return state;
    }

    @Override
    public CpuState copy() {
        CpuState c = new CpuState(shape, spec, layout);
        c.position = position;
        for (int i = 0; i < memories.length; i++) c.memories[i].copyFrom(memories[i]);
        for (int i = 0; i < onlineMemories.length; i++) c.onlineMemories[i].copyFrom(onlineMemories[i]);
        for (int i = 0; i < sinkKeys.length; i++) {
            System.arraycopy(sinkKeys[i], 0, c.sinkKeys[i], 0, sinkKeys[i].length);
            System.arraycopy(sinkValues[i], 0, c.sinkValues[i], 0, sinkValues[i].length);
            System.arraycopy(windowKeys[i], 0, c.windowKeys[i], 0, windowKeys[i].length);
            System.arraycopy(windowValues[i], 0, c.windowValues[i], 0, windowValues[i].length);
        }
        for (int h = 0; h < caches.length; h++) c.caches[h].copyFrom(caches[h]);
        return c;
    }
}
