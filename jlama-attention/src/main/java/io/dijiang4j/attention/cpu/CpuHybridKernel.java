package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.attention.features.OnlineCentroidMap;
import io.dijiang4j.attention.ops.hybrid.ChunkHybridAttention;
import io.dijiang4j.attention.ops.hybrid.EvictedMemory;
import io.dijiang4j.attention.ops.hybrid.ExactCache;
import io.dijiang4j.attention.ops.hybrid.ExactTokens;
import io.dijiang4j.attention.ops.hybrid.FusedRecurrentHybridAttention;
import io.dijiang4j.attention.ops.hybrid.OnlineCentroidMemory;
import io.dijiang4j.attention.ops.linear.KernelMemory;
import io.dijiang4j.attention.tensorops.ProductThreads;

/**
 * The hybrid layer of docs/MATH.md §4 on the CPU (the math: {@link io.dijiang4j.attention.ops.hybrid}; its definition, exact cache
 * included: {@link io.dijiang4j.attention.ops.hybrid.NaiveHybridAttention}). This class schedules: a call of several
 * tokens runs {@link ChunkHybridAttention} block by block, memory heads in parallel; one token runs {@link
 * FusedRecurrentHybridAttention}; with an exact cache ({@code spec.exactCache() > 0}) every decision depends on
 * earlier queries, so then every token runs the recurrent form in turn. The online centroid memory ({@link
 * OnlineCentroidMap}) clusters the evicted tokens in order: its blocks ({@link ChunkHybridAttention#loadOnline}) fold
 * row by row and batch only the exact part. It keeps the state layout ({@link CpuState}: sinks
 * and a ring buffer of the window per KV head, read through {@link Tokens}) and rejects what the ops cannot run (decay
 * together with a cache: a token folded late would need the lambda^(n-w-j) it missed). Each KV head's memory uses
 * that head's feature map ({@link AttentionSpec#featureMapOf}).
 */
public final class CpuHybridKernel implements AttentionKernel {
    private final AttentionShape shape;
    private final AttentionSpec spec;
    private final StateLayout layout;
    private final double[] logGains;
    private final boolean heavyHitter;
    private final boolean online;

    public CpuHybridKernel(AttentionShape shape, AttentionSpec spec) {
        if (spec.method() != AttentionSpec.Method.HYBRID) {
            throw new IllegalArgumentException("CpuHybridKernel runs HYBRID specs, got " + spec.method());
        }
        if (!spec.causal()) {
            throw new IllegalArgumentException("the hybrid layer is causal only (its window is the recent past)");
        }
        CpuKernels.checkMap(shape, spec);
        this.shape = shape;
        this.spec = spec;
        this.layout = StateLayout.of(shape, spec);
        this.logGains = new double[shape.numHeads()];
        for (int h = 0; h < logGains.length; h++) {
            double g = spec.memoryGainOf(h);
            if (!(g >= 0) || Double.isInfinite(g)) {
                throw new IllegalArgumentException("memory gain of head " + h + " must be finite and >= 0: " + g);
            }
            logGains[h] = Math.log(g); // -infinity switches the memory off
        }
        if (spec.sinks() + spec.window() == 0) {
            throw new IllegalArgumentException("a hybrid layer needs sinks + window >= 1 (else use LINEAR)");
        }
        if (spec.exactCache() > 0 && spec.decay() != null) {
            throw new IllegalArgumentException("an exact cache needs decay == null: a token folded into the memory"
                    + " after its time in the cache would need the decay it missed (use decay 1 or no cache)");
        }
        this.heavyHitter = spec.cachePolicy() == ExactCachePolicy.HEAVY_HITTER;
        this.online = spec.featureMap() instanceof OnlineCentroidMap;
        if (online && (spec.decay() != null || spec.kvHeadMaps() != null)) {
            throw new IllegalArgumentException("the online centroid memory takes neither decay nor per-KV-head maps"
                    + " (it fits itself to each KV head's evicted tokens)");
        }
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
        if (spec.exactCache() > 0 || (online && length == 1)) {
            tokenByToken(s, q, k, v, out, length);
            return;
        }
        Tokens tokens = s.tokens(k, v);
        if (online) { // one memory per KV head (no decay)
            CpuKernels.forEachMemory(layout, length, kvh -> chunkedOnline(s, tokens, kvh, q, out, length));
        } else if (length == 1) { // decode: no thread hand-off, no allocation
            for (int m = 0; m < layout.numMemories(); m++) recurrent(s, tokens, m, q, out);
        } else {
            CpuKernels.forEachMemory(layout, length, m -> chunked(s, tokens, m, q, out, length));
        }
        storeTokens(s, k, v, length);
        s.position += length;
    }

    private void recurrent(CpuState s, Tokens tokens, int memory, float[] q, float[] out) {
        int d = shape.headDim();
        long n = s.position;
        EvictedMemory mem = s.evicted(memory);
        ExactTokens exact = tokens.head(layout.kvHeadOf(memory));
        long evicted = n - spec.window();
        FusedRecurrentHybridAttention op = s.hybridSteps[layout.kvHeadOf(memory)];
        if (evicted >= spec.sinks()) op.fold(mem, exact, evicted);
        int h0 = layout.firstQueryHead(memory);
        for (int h = h0; h < h0 + layout.queryHeadCount(); h++) {
            op.attend(mem, exact, null, n, q, h * d, logGains[h], out);
        }
    }

    private void chunked(CpuState s, Tokens tokens, int memory, float[] q, float[] out, int length) {
        int d = shape.headDim(), kvh = layout.kvHeadOf(memory), qw = shape.queryWidth();
        ChunkHybridAttention block =
                Workspace.forThread(shape, spec).hybrid(spec.featureMapOf(kvh), spec.decayOf(layout.decayHead(memory)));
        KernelMemory mem = s.memories[memory];
        ExactTokens exact = tokens.head(kvh);
        int b = block.capacity();
        int h0 = layout.firstQueryHead(memory);
        for (int t0 = 0; t0 < length; t0 += b) {
            int rows = Math.min(b, length - t0);
            block.load(exact, mem, tokens.start + t0, rows, spec.sinks(), spec.window());
            for (int h = h0; h < h0 + layout.queryHeadCount(); h++) {
                block.attend(q, t0 * qw + h * d, qw, logGains[h], out);
            }
            block.commit(mem);
        }
    }

    /** The online memory of KV head {@code kvh} over a call of several tokens, block by block. */
    private void chunkedOnline(CpuState s, Tokens tokens, int kvh, float[] q, float[] out, int length) {
        int d = shape.headDim(), qw = shape.queryWidth(), group = shape.groupSize();
        // the block's kernel-memory half is unused here: the online map only sizes it
        ChunkHybridAttention block = Workspace.forThread(shape, spec).hybrid(spec.featureMap(), 1.0);
        OnlineCentroidMemory mem = s.onlineMemories[kvh];
        ExactTokens exact = tokens.head(kvh);
        int b = block.capacity(), h0 = kvh * group;
        for (int t0 = 0; t0 < length; t0 += b) {
            int rows = Math.min(b, length - t0);
            block.loadOnline(
                    exact,
                    mem,
                    tokens.start + t0,
                    rows,
                    spec.sinks(),
                    spec.window(),
                    q,
                    t0 * qw + h0 * d,
                    qw,
                    group,
                    logGains,
                    h0);
            for (int hh = 0; hh < group; hh++) block.attendOnline(q, t0 * qw + (h0 + hh) * d, qw, hh, out);
        }
    }

    /**
     * With an exact cache, or the online memory at decode: the recurrent form one token at a time (one memory per KV head: both
     * reject decay).
     */
    private void tokenByToken(CpuState s, float[] q, float[] k, float[] v, float[] out, int length) {
        if (length == 1) { // decode: no copies, no allocation
            sequentialToken(s, q, k, v, out);
            return;
        }
        int qw = shape.queryWidth(), kw = shape.kvWidth();
        for (int t = 0; t < length; t++) {
            System.arraycopy(q, t * qw, s.queryRow, 0, qw);
            System.arraycopy(k, t * kw, s.keyRowIn, 0, kw);
            System.arraycopy(v, t * kw, s.valueRowIn, 0, kw);
            sequentialToken(s, s.queryRow, s.keyRowIn, s.valueRowIn, s.outRow);
            System.arraycopy(s.outRow, 0, out, t * qw, qw);
        }
    }

    /**
     * One token: the KV heads side by side on the product threads (each reads and writes its own memory, cache and
     * scratch, and its own query heads' slices of out), then the token is stored. At decode the caller ran them in
     * turn while the other cores waited for the next product. A prefill with an exact cache, token by token, takes
     * the same path.
     */
    private void sequentialToken(CpuState s, float[] q, float[] k, float[] v, float[] out) {
        Tokens tokens = s.tokens(k, v);
        s.kvHeadSteps.run(this, tokens, q, out);
        storeTokens(s, k, v, 1);
        s.position++;
    }

    /** The reusable body of {@link #sequentialToken}'s region (held by the state: a decode step allocates nothing). */
    static final class KvHeadSteps implements ProductThreads.Rows {
        private final CpuState s;
        private CpuHybridKernel kernel;
        private Tokens tokens;
        private float[] q;
        private float[] out;

        KvHeadSteps(CpuState s) {
            this.s = s;
        }

        void run(CpuHybridKernel kernel, Tokens tokens, float[] q, float[] out) {
            this.kernel = kernel;
            this.tokens = tokens;
            this.q = q;
            this.out = out;
            try {
                ProductThreads.forIndependent(s.shape.numKvHeads(), this);
            } finally {
                this.q = this.out = null; // the caller's arrays are not kept past the call
            }
        }

        @Override
        public void run(int start, int length) {
            for (int kvh = start; kvh < start + length; kvh++) kernel.sequentialStep(s, tokens, kvh, q, out);
        }
    }

    /** Query n = s.position of the heads of one KV group (memory kvh: no decay, so one memory per KV head). */
    private void sequentialStep(CpuState s, Tokens tokens, int kvh, float[] q, float[] out) {
        int d = shape.headDim();
        long n = s.position;
        EvictedMemory mem = s.evicted(kvh);
        ExactTokens exact = tokens.head(kvh);
        ExactCache cache = s.caches.length == 0 ? null : s.caches[kvh];
        boolean track = cache != null && heavyHitter;
        FusedRecurrentHybridAttention op = s.hybridSteps[kvh];
        long leaving = n - spec.window();
        if (leaving >= spec.sinks()) {
            if (cache != null) op.admit(mem, exact, cache, leaving, heavyHitter);
            else op.fold(mem, exact, leaving);
        }
        if (track) op.enterWindow(cache, n);
        int h0 = kvh * shape.groupSize();
        for (int h = h0; h < h0 + shape.groupSize(); h++) {
            double inv = op.attend(mem, exact, cache, n, q, h * d, logGains[h], out);
            if (track) op.accumulatePriorities(cache, n, inv);
        }
    }

    /** Writes the call's tokens into the sinks and the ring buffer (after every head has read the old ones). */
    private void storeTokens(CpuState s, float[] k, float[] v, int length) {
        int d = shape.headDim(), kw = shape.kvWidth();
        int sinks = spec.sinks(), window = spec.window();
        long start = s.position;
        for (int kvh = 0; kvh < shape.numKvHeads(); kvh++) {
            for (int t = 0; t < length; t++) {
                long pos = start + t;
                int src = t * kw + kvh * d;
                if (pos < sinks) {
                    System.arraycopy(k, src, s.sinkKeys[kvh], (int) pos * d, d);
                    System.arraycopy(v, src, s.sinkValues[kvh], (int) pos * d, d);
                } else if (window > 0 && t >= length - window) {
                    int slot = (int) ((pos - sinks) % window);
                    float[] ring = s.windowKeys[kvh];
                    for (int i = 0; i < d; i++) ring[i * window + slot] = k[src + i];
                    System.arraycopy(v, src, s.windowValues[kvh], slot * d, d);
                }
            }
        }
    }
}
