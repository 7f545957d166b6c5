package io.dijiang4j.gpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.SpecFingerprint;
import io.dijiang4j.gpu.cuda.CudaDriver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * LINEAR and HYBRID attention on a CUDA device. The session state ({@link CudaAttentionState}) lives on the device
 * between calls; per call only q, k, v go in and the output comes back.
 *
 * <p>Per call: (1) q, k, v to the device; (2) {@code dj_log_features} for queries and keys; (3)
 * {@code dj_memory_chunk} (or {@code dj_memory_step} for one token) runs the kernelized part over the device state;
 * (4) for HYBRID, {@code dj_hybrid_window} adds the exact sinks and window and merges the memory; (5) out to the host.
 * The GPU uses its own tile (32 rows) whatever {@link AttentionSpec#blockSize()} says: the chunked form gives the same
 * result for any block size.
 */
public final class CudaAttentionKernel implements AttentionKernel {
    static final int CHUNK_ROWS = 32;
    static final int VALUE_SLICE = 32;
    private static final int MODE_NORMALIZED = 0;
    private static final int MODE_RAW = 1;

    private final CudaRuntime runtime;
    private final AttentionShape shape;
    private final AttentionSpec spec;
    private final FeatureMapParameters map;
    private final boolean hybrid;
    private final int m;
    private final float prescale;
    private final long fingerprint;

    // Read-only device copies of the map and per-head parameters.
    private final DeviceMemory queryProjection;
    private final DeviceMemory keyProjection;
    private final DeviceMemory queryLogWeights;
    private final DeviceMemory keyLogWeights;
    private final DeviceMemory logDecay;
    private final DeviceMemory memoryGain;

    // Per-call scratch, grown on demand (kernel calls are serialized by the runtime lock).
    private int scratchRows = -1;
    private DeviceMemory q;
    private DeviceMemory k;
    private DeviceMemory v;
    private DeviceMemory out;
    private DeviceMemory logQ;
    private DeviceMemory logK;
    private DeviceMemory extK;
    private DeviceMemory extV;
    private DeviceMemory memNum;
    private DeviceMemory memDen;
    private DeviceMemory memLogScale;
    private MemorySegment staging;
    private MemorySegment startEvent;
    private MemorySegment endEvent;
    private float lastDeviceMillis = Float.NaN;
    private boolean closed;

    CudaAttentionKernel(CudaRuntime runtime, AttentionShape shape, AttentionSpec spec, FeatureMapParameters map) {
        this.runtime = runtime;
        this.shape = shape;
        this.spec = spec;
        this.map = map;
        this.hybrid = spec.method() == AttentionSpec.Method.HYBRID;
        this.m = map.numFeatures();
        if (!spec.causal()) {
            throw new IllegalArgumentException("the cuda backend runs causal attention only (spec.causal() is false)");
        }
        if (map.inputDim() != shape.headDim()) {
            throw new IllegalArgumentException(
                    "feature map input size " + map.inputDim() + " != head size " + shape.headDim());
        }
        long chunkShared = memorySharedBytes(CHUNK_ROWS, m);
        if (chunkShared > runtime.maxSharedBytes()) {
            throw new IllegalArgumentException(m + " features need " + chunkShared
                    + " bytes of shared memory per block;" + " this device allows " + runtime.maxSharedBytes());
        }
        if (hybrid && windowSharedBytes() > runtime.maxSharedBytes()) {
            throw new IllegalArgumentException("sinks + window = " + (spec.sinks() + spec.window())
                    + " exact tokens exceed this device's shared memory per block");
        }
        this.prescale = (float) Math.sqrt(spec.scale());
        this.fingerprint =
                map.addTo(new SpecFingerprint().add(spec.fingerprint())).value();
        synchronized (runtime.lock()) {
            runtime.makeCurrent();
            queryProjection = upload(map.queryProjection());
            keyProjection =
                    map.keyProjection() == map.queryProjection() ? queryProjection : upload(map.keyProjection());
            queryLogWeights = upload(map.queryLogWeights());
            keyLogWeights = upload(map.keyLogWeights());
            float[] decay = new float[shape.numHeads()];
            float[] gain = new float[shape.numHeads()];
            for (int h = 0; h < decay.length; h++) {
                decay[h] = (float) Math.log(spec.decayOf(h)); // a log offset per step: lambda^n is never formed
                gain[h] = (float) spec.memoryGainOf(h);
                if (!(gain[h] >= 0) || Float.isInfinite(gain[h])) {
                    throw new IllegalArgumentException("memory gain of head " + h + " must be finite and >= 0");
                }
            }
            logDecay = upload(decay);
            memoryGain = upload(gain);
            startEvent = runtime.driver().eventCreate();
            endEvent = runtime.driver().eventCreate();
            runtime.driver().streamSynchronize(runtime.stream());
        }
    }

    /** Shared memory of dj_memory_chunk / dj_memory_step, mirroring the layout in memory.cu. */
    static long memorySharedBytes(int blockRows, int features) {
        long floats = 4L * features
                + (long) features * VALUE_SLICE
                + 3L * blockRows * features
                + (long) blockRows * VALUE_SLICE
                + (long) blockRows * blockRows
                + blockRows;
        return floats * Float.BYTES;
    }

    private long windowSharedBytes() {
        return (long) (shape.headDim() + spec.sinks() + spec.window() + 32) * Float.BYTES;
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
    public String backend() {
        return runtime.backendName();
    }

    /** Device time of the last forward's kernels (transfers excluded), from CUDA events; NaN before the first. */
    public float lastDeviceMillis() {
        return lastDeviceMillis;
    }

    CudaRuntime runtime() {
        return runtime;
    }

    int numFeatures() {
        return m;
    }

    /**
     * What a state belongs to, the same in every process: the spec's value-based fingerprint and the numbers of the
     * map this kernel runs (it may be given apart from the spec's map).
     */
    long fingerprint() {
        return fingerprint;
    }

    @Override
    public AttentionState newState() {
        synchronized (runtime.lock()) {
            requireOpen();
            runtime.makeCurrent();
            return CudaAttentionState.empty(this);
        }
    }

    @Override
    public AttentionState restore(byte[] bytes) {
        synchronized (runtime.lock()) {
            runtime.makeCurrent();
            return CudaAttentionState.fromBytes(this, bytes);
        }
    }

    @Override
    public void forward(AttentionState state, float[] qIn, float[] kIn, float[] vIn, float[] outHost, int length) {
        if (!(state instanceof CudaAttentionState s) || s.kernel() != this) {
            throw new IllegalArgumentException("state was not created by this cuda kernel");
        }
        if (length < 0) throw new IllegalArgumentException("length must be >= 0, got " + length);
        int qw = shape.queryWidth(), kw = shape.kvWidth();
        checkLength(qIn, (long) length * qw, "q");
        checkLength(kIn, (long) length * kw, "k");
        checkLength(vIn, (long) length * kw, "v");
        checkLength(outHost, (long) length * qw, "out");
        // A NaN would spread through the device state to every later token: refuse it here, as the CPU kernels do.
        checkFinite(qIn, length * qw, "q");
        checkFinite(kIn, length * kw, "k");
        checkFinite(vIn, length * kw, "v");
        if (length == 0) return;
        synchronized (runtime.lock()) {
            requireOpen();
            runtime.makeCurrent();
            ensureScratch(length);
            CudaDriver drv = runtime.driver();
            MemorySegment stream = runtime.stream();
            toDevice(qIn, (long) length * qw, q);
            toDevice(kIn, (long) length * kw, k);
            toDevice(vIn, (long) length * kw, v);
            drv.eventRecord(startEvent, stream);
            if (hybrid) {
                forwardHybrid(s, length);
            } else {
                logFeatures(q, length, shape.numHeads(), map, true, logQ);
                logFeatures(k, length, shape.numKvHeads(), map, false, logK);
                memory(s, logQ, logK, v, length, length, 0, 0, MODE_NORMALIZED, out);
            }
            drv.eventRecord(endEvent, stream);
            MemorySegment host = staging.asSlice(0, (long) length * qw * Float.BYTES);
            drv.copyDeviceToHost(host, out.pointer(), host.byteSize(), stream);
            drv.streamSynchronize(stream);
            lastDeviceMillis = drv.eventElapsedMillis(startEvent, endEvent);
            MemorySegment.copy(host, JAVA_FLOAT, 0, outHost, 0, length * qw);
            s.advance(length);
        }
    }

    /**
     * Runs dj_log_features alone: log phi(sqrt(scale) x) of {@code rows} query (or key) rows, as [heads][rows][m]. For
     * tests that check the feature kernel by itself.
     */
    float[] logFeaturesOnDevice(float[] x, int rows, boolean queries) {
        int heads = queries ? shape.numHeads() : shape.numKvHeads();
        int width = heads * shape.headDim();
        checkLength(x, (long) rows * width, "x");
        synchronized (runtime.lock()) {
            runtime.makeCurrent();
            ensureScratch(rows);
            DeviceMemory input = queries ? q : k;
            DeviceMemory output = queries ? logQ : logK;
            toDevice(x, (long) rows * width, input);
            logFeatures(input, rows, heads, map, queries, output);
            long count = (long) heads * rows * m;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment host = arena.allocate(count * Float.BYTES, 16);
                runtime.driver().copyDeviceToHost(host, output.pointer(), host.byteSize(), runtime.stream());
                runtime.driver().streamSynchronize(runtime.stream());
                return host.toArray(JAVA_FLOAT);
            }
        }
    }

    private void forwardHybrid(CudaAttentionState s, int length) {
        CudaDriver drv = runtime.driver();
        MemorySegment stream = runtime.stream();
        int kw = shape.kvWidth();
        long p = s.position();
        int sinks = spec.sinks(), window = spec.window();
        long rowBytes = (long) kw * Float.BYTES;

        // Sink tokens of this chunk go to the sink buffer, never to the window or the memory.
        int sinkRows = (int) Math.max(0, Math.min(p + length, sinks) - p);
        if (sinkRows > 0) {
            drv.copyDeviceToDevice(s.sinkK().at(p * kw), k.pointer(), sinkRows * rowBytes, stream);
            drv.copyDeviceToDevice(s.sinkV().at(p * kw), v.pointer(), sinkRows * rowBytes, stream);
        }
        // The extended sequence: the old window (positions >= sinks) followed by this chunk's non-sink tokens.
        int windowRows = s.windowRows();
        long extStart = windowRows > 0 ? p - windowRows : Math.max(p, sinks);
        int chunkRows = length - sinkRows;
        int extRows = windowRows + chunkRows;
        if (windowRows > 0) {
            drv.copyDeviceToDevice(extK.pointer(), s.windowK().pointer(), windowRows * rowBytes, stream);
            drv.copyDeviceToDevice(extV.pointer(), s.windowV().pointer(), windowRows * rowBytes, stream);
        }
        if (chunkRows > 0) {
            drv.copyDeviceToDevice(
                    extK.at((long) windowRows * kw), k.at((long) sinkRows * kw), chunkRows * rowBytes, stream);
            drv.copyDeviceToDevice(
                    extV.at((long) windowRows * kw), v.at((long) sinkRows * kw), chunkRows * rowBytes, stream);
        }
        logFeatures(q, length, shape.numHeads(), map, true, logQ);
        logFeatures(extK, extRows, shape.numKvHeads(), map, false, logK);
        // Query n's memory holds the keys at positions <= n - window: key index <= i + (p - window - extStart). A key
        // decays from the step it left the window: lambda^(n - window - j), as NaiveHybridAttention defines it.
        int keyOffset = Math.toIntExact(p - window - extStart);
        memory(s, logQ, logK, extV, length, extRows, keyOffset, 0, MODE_RAW, memNum);
        launch(
                CudaKernelFunction.HYBRID_WINDOW,
                length,
                shape.numHeads(),
                1,
                CudaKernelFunction.HYBRID_WINDOW.blockThreads(),
                1,
                1,
                (int) windowSharedBytes(),
                stream,
                q.pointer(),
                s.sinkK().pointer(),
                s.sinkV().pointer(),
                (int) Math.min(sinks, p + length),
                extK.pointer(),
                extV.pointer(),
                extStart,
                extRows,
                shape.numHeads(),
                shape.numKvHeads(),
                shape.headDim(),
                p,
                sinks,
                window,
                (float) spec.scale(),
                memoryGain.pointer(),
                memNum.pointer(),
                memDen.pointer(),
                memLogScale.pointer(),
                length,
                out.pointer());
        // The new window: the last min(window, extRows) rows of the extended sequence.
        int keep = Math.min(window, extRows);
        if (keep > 0) {
            long from = (long) (extRows - keep) * kw;
            drv.copyDeviceToDevice(s.windowK().pointer(), extK.at(from), keep * rowBytes, stream);
            drv.copyDeviceToDevice(s.windowV().pointer(), extV.at(from), keep * rowBytes, stream);
        }
        s.setWindowRows(keep);
    }

    private void logFeatures(
            DeviceMemory x, int rows, int heads, FeatureMapParameters params, boolean queries, DeviceMemory logOut) {
        if (rows == 0) return;
        int d = shape.headDim();
        launch(
                CudaKernelFunction.LOG_FEATURES,
                rows,
                heads,
                1,
                CudaKernelFunction.LOG_FEATURES.blockThreads(),
                1,
                1,
                (d + m + 32) * Float.BYTES,
                runtime.stream(),
                x.pointer(),
                rows,
                heads,
                heads * d,
                d,
                m,
                (queries ? queryProjection : keyProjection).pointer(),
                (queries ? queryLogWeights : keyLogWeights).pointer(),
                normalizationCode(params.normalization()),
                prescale,
                logOut.pointer());
    }

    private void launch(
            CudaKernelFunction f,
            int gridX,
            int gridY,
            int gridZ,
            int blockX,
            int blockY,
            int blockZ,
            int sharedBytes,
            MemorySegment stream,
            Object... args) {
        f.checkArguments(args);
        runtime.driver()
                .launch(runtime.function(f), gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes, stream, args);
    }

    static int normalizationCode(FeatureMap.Normalization normalization) {
        return switch (normalization) {
            case NONE -> 0;
            case GAUSSIAN -> 1;
            case SOFTMAX -> 2;
        };
    }

    private void memory(
            CudaAttentionState s,
            DeviceMemory lq,
            DeviceMemory lk,
            DeviceMemory values,
            int queries,
            int keys,
            int keyOffset,
            int extraDecaySteps,
            int mode,
            DeviceMemory target) {
        boolean step = queries == 1;
        int rows = step ? 1 : CHUNK_ROWS;
        int d = shape.headDim();
        launch(
                step ? CudaKernelFunction.MEMORY_STEP : CudaKernelFunction.MEMORY_CHUNK,
                shape.numHeads(),
                (d + VALUE_SLICE - 1) / VALUE_SLICE,
                1,
                (step ? CudaKernelFunction.MEMORY_STEP : CudaKernelFunction.MEMORY_CHUNK).blockThreads(),
                1,
                1,
                (int) memorySharedBytes(rows, m),
                runtime.stream(),
                lq.pointer(),
                lk.pointer(),
                values.pointer(),
                logDecay.pointer(),
                s.offsetsIn(),
                s.normsIn(),
                s.offsetsOut(),
                s.normsOut(),
                s.sums().pointer(),
                target.pointer(),
                memDen == null ? 0L : memDen.pointer(),
                memLogScale == null ? 0L : memLogScale.pointer(),
                queries,
                keys,
                shape.numHeads(),
                shape.numKvHeads(),
                d,
                m,
                shape.kvWidth(),
                keyOffset,
                extraDecaySteps,
                mode);
        s.flipOffsets();
    }

    private void ensureScratch(int length) {
        if (length <= scratchRows) return;
        int rows = Math.max(length, Math.max(1, scratchRows * 2)); // amortize growth over rising chunk sizes
        freeScratch();
        int qw = shape.queryWidth(), kw = shape.kvWidth();
        int extRows = rows + (hybrid ? spec.window() : 0);
        q = DeviceMemory.floats(runtime, (long) rows * qw);
        k = DeviceMemory.floats(runtime, (long) rows * kw);
        v = DeviceMemory.floats(runtime, (long) rows * kw);
        out = DeviceMemory.floats(runtime, (long) rows * qw);
        logQ = DeviceMemory.floats(runtime, (long) shape.numHeads() * rows * m);
        logK = DeviceMemory.floats(runtime, (long) shape.numKvHeads() * extRows * m);
        if (hybrid) {
            extK = DeviceMemory.floats(runtime, (long) extRows * kw);
            extV = DeviceMemory.floats(runtime, (long) extRows * kw);
            memNum = DeviceMemory.floats(runtime, (long) rows * qw);
            memDen = DeviceMemory.floats(runtime, (long) shape.numHeads() * rows);
            memLogScale = DeviceMemory.floats(runtime, (long) shape.numHeads() * rows);
        }
        staging = Arena.ofAuto().allocate((long) rows * Math.max(qw, kw) * Float.BYTES, 64);
        scratchRows = rows;
    }

    private void freeScratch() {
        for (DeviceMemory mem :
                new DeviceMemory[] {q, k, v, out, logQ, logK, extK, extV, memNum, memDen, memLogScale}) {
            if (mem != null) mem.close();
        }
        q = k = v = out = logQ = logK = extK = extV = memNum = memDen = memLogScale = null;
        scratchRows = -1;
    }

    private DeviceMemory upload(float[] values) {
        DeviceMemory mem = DeviceMemory.floats(runtime, values.length);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocateFrom(JAVA_FLOAT, values);
            runtime.driver().copyHostToDevice(mem.pointer(), host, host.byteSize(), runtime.stream());
            runtime.driver().streamSynchronize(runtime.stream()); // the host copy dies with the arena
        }
        return mem;
    }

    /** Host array to device through the staging buffer; synchronous so the staging buffer can be reused. */
    private void toDevice(float[] values, long count, DeviceMemory target) {
        MemorySegment host = staging.asSlice(0, count * Float.BYTES);
        MemorySegment.copy(values, 0, host, JAVA_FLOAT, 0, (int) count);
        runtime.driver().copyHostToDevice(target.pointer(), host, host.byteSize(), runtime.stream());
        runtime.driver().streamSynchronize(runtime.stream());
    }

    private static void checkFinite(float[] array, int count, String name) {
        for (int i = 0; i < count; i++) {
            if (!Float.isFinite(array[i])) {
                throw new IllegalArgumentException(name + " holds a NaN or infinite value at index " + i);
            }
        }
    }

    private static void checkLength(float[] array, long needed, String name) {
        if (array == null || array.length < needed) {
            throw new IllegalArgumentException(
                    name + " must hold at least " + needed + " floats, got " + (array == null ? "null" : array.length));
        }
    }

    private void requireOpen() {
        if (closed) throw new IllegalStateException("this cuda attention kernel is closed");
    }

    @Override
    public void close() {
        synchronized (runtime.lock()) {
            if (closed) return;
            closed = true;
            runtime.makeCurrent();
            freeScratch();
            runtime.driver().eventDestroy(startEvent);
            runtime.driver().eventDestroy(endEvent);
            for (DeviceMemory mem : new DeviceMemory[] {
                queryProjection, keyProjection, queryLogWeights, keyLogWeights, logDecay, memoryGain
            }) {
                mem.close();
            }
        }
    }
}
