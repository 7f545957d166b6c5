package io.dijiang4j.gpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.gpu.cuda.CudaDriver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Device-resident state of one layer for one sequence. Kernelized memory per query head (with decay each head
 * decays differently, so GQA groups do not share it): log offsets c [H][m] (-inf when empty), scaled sums
 * S~ [H][m][d], scaled normalizers z~ [H][m]. c and z~ are double-buffered ([2][H][m], {@code current} says which
 * half is live): every value slice of a head reads them while one slice writes the new ones. HYBRID adds the sink tokens [sinks][kvWidth] and the exact window
 * [window][kvWidth] (k and v, oldest first).
 */
final class CudaAttentionState implements AttentionState {
    private static final int MAGIC = 0x444a4355; // "DJCU"
    private static final int FORMAT = 2; // 2: a 64-bit value-based spec fingerprint (1 hashed enum identities)
    private static final int HEADER_BYTES = 8 * Integer.BYTES + 2 * Long.BYTES;

    private final CudaAttentionKernel kernel;
    private final DeviceMemory offsets;
    private final DeviceMemory sums;
    private final DeviceMemory norms;
    private final DeviceMemory sinkK;
    private final DeviceMemory sinkV;
    private final DeviceMemory windowK;
    private final DeviceMemory windowV;
    private long position;
    private int windowRows;
    private int current; // live half of offsets and norms

    private CudaAttentionState(CudaAttentionKernel kernel) {
        this.kernel = kernel;
        CudaRuntime rt = kernel.runtime();
        AttentionShape shape = kernel.shape();
        AttentionSpec spec = kernel.spec();
        int m = kernel.numFeatures();
        offsets = DeviceMemory.floats(rt, 2L * shape.numHeads() * m);
        sums = DeviceMemory.floats(rt, (long) shape.numHeads() * m * shape.headDim());
        norms = DeviceMemory.floats(rt, 2L * shape.numHeads() * m);
        boolean hybrid = spec.method() == AttentionSpec.Method.HYBRID;
        sinkK = DeviceMemory.floats(rt, hybrid ? (long) spec.sinks() * shape.kvWidth() : 1);
        sinkV = DeviceMemory.floats(rt, hybrid ? (long) spec.sinks() * shape.kvWidth() : 1);
        windowK = DeviceMemory.floats(rt, hybrid ? (long) spec.window() * shape.kvWidth() : 1);
        windowV = DeviceMemory.floats(rt, hybrid ? (long) spec.window() * shape.kvWidth() : 1);
    }

    /** Call with the runtime lock held and its context current. */
    static CudaAttentionState empty(CudaAttentionKernel kernel) {
        CudaAttentionState s = new CudaAttentionState(kernel);
        CudaDriver drv = kernel.runtime().driver();
        MemorySegment stream = kernel.runtime().stream();
        drv.memsetD32(
                s.offsets.pointer(), Float.floatToRawIntBits(Float.NEGATIVE_INFINITY), s.offsets.bytes() / 4, stream);
        for (DeviceMemory mem : List.of(s.sums, s.norms, s.sinkK, s.sinkV, s.windowK, s.windowV)) {
            drv.memsetD32(mem.pointer(), 0, mem.bytes() / 4, stream);
        }
        drv.streamSynchronize(stream);
        return s;
    }

    private List<DeviceMemory> buffers() {
        return List.of(offsets, sums, norms, sinkK, sinkV, windowK, windowV);
    }

    CudaAttentionKernel kernel() {
        return kernel;
    }

    DeviceMemory offsets() {
        return offsets;
    }

    private long half() {
        return (long) kernel.shape().numHeads() * kernel.numFeatures();
    }

    long offsetsIn() {
        return offsets.at(current * half());
    }

    long normsIn() {
        return norms.at(current * half());
    }

    long offsetsOut() {
        return offsets.at((1 - current) * half());
    }

    long normsOut() {
        return norms.at((1 - current) * half());
    }

    /** After a memory launch: the halves it wrote become the live ones. */
    void flipOffsets() {
        current = 1 - current;
    }

    /** The live log offsets [H][m] (tests and diagnostics). */
    float[] liveOffsets() {
        float[] both = read(offsets);
        return java.util.Arrays.copyOfRange(both, (int) (current * half()), (int) ((current + 1) * half()));
    }

    DeviceMemory sums() {
        return sums;
    }

    DeviceMemory norms() {
        return norms;
    }

    DeviceMemory sinkK() {
        return sinkK;
    }

    DeviceMemory sinkV() {
        return sinkV;
    }

    DeviceMemory windowK() {
        return windowK;
    }

    DeviceMemory windowV() {
        return windowV;
    }

    int windowRows() {
        return windowRows;
    }

    void setWindowRows(int rows) {
        windowRows = rows;
    }

    void advance(int tokens) {
        position += tokens;
    }

    @Override
    public long position() {
        return position;
    }

    @Override
    public long sizeBytes() {
        return buffers().stream().mapToLong(DeviceMemory::bytes).sum();
    }

    @Override
    public byte[] toBytes() {
        CudaRuntime rt = kernel.runtime();
        synchronized (rt.lock()) {
            rt.makeCurrent();
            long payload = sizeBytes();
            if (HEADER_BYTES + payload > Integer.MAX_VALUE - 16) {
                throw new IllegalStateException("state of " + payload + " bytes is too large for a byte array");
            }
            byte[] bytes = new byte[(int) (HEADER_BYTES + payload)];
            ByteBuffer header = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
            writeHeader(header, kernel, position, windowRows, current);
            MemorySegment target = MemorySegment.ofArray(bytes);
            long at = HEADER_BYTES;
            try (Arena arena = Arena.ofConfined()) {
                for (DeviceMemory mem : buffers()) {
                    MemorySegment host = arena.allocate(mem.bytes(), 16);
                    rt.driver().copyDeviceToHost(host, mem.pointer(), mem.bytes(), rt.stream());
                    rt.driver().streamSynchronize(rt.stream());
                    MemorySegment.copy(host, 0, target, at, mem.bytes());
                    at += mem.bytes();
                }
            }
            return bytes;
        }
    }

    /** Call with the runtime lock held and its context current. */
    static CudaAttentionState fromBytes(CudaAttentionKernel kernel, byte[] bytes) {
        if (bytes == null || bytes.length < HEADER_BYTES) {
            throw new IllegalArgumentException("not a cuda attention state: too short");
        }
        ByteBuffer header = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (header.getInt() != MAGIC) throw new IllegalArgumentException("not a cuda attention state (bad magic)");
        int format = header.getInt();
        if (format != FORMAT) throw new IllegalArgumentException("unsupported cuda state format " + format);
        AttentionShape shape = new AttentionShape(header.getInt(), header.getInt(), header.getInt());
        long specHash = header.getLong();
        long position = header.getLong();
        int windowRows = header.getInt();
        int features = header.getInt();
        if (!shape.equals(kernel.shape()) || features != kernel.numFeatures()) {
            throw new IllegalArgumentException("state bytes belong to another layer: " + shape + " with " + features
                    + " features, this kernel is " + kernel.shape() + " with " + kernel.numFeatures());
        }
        if (specHash != kernel.fingerprint()) {
            throw new IllegalArgumentException(
                    "state bytes belong to another layer: the same shape and features, another"
                            + " attention spec (feature map, decay, scale, sinks, window, gains or causality differ)");
        }
        int live = header.getInt();
        CudaAttentionState s = new CudaAttentionState(kernel);
        if (bytes.length != HEADER_BYTES + s.sizeBytes()
                || (live != 0 && live != 1)
                || position < 0
                || windowRows < 0
                || windowRows > kernel.spec().window()) {
            s.buffers().forEach(DeviceMemory::close);
            throw new IllegalArgumentException("cuda state bytes are truncated or corrupt");
        }
        s.position = position;
        s.windowRows = windowRows;
        s.current = live;
        CudaRuntime rt = kernel.runtime();
        MemorySegment source = MemorySegment.ofArray(bytes);
        long at = HEADER_BYTES;
        try (Arena arena = Arena.ofConfined()) {
            for (DeviceMemory mem : s.buffers()) {
                MemorySegment host = arena.allocate(mem.bytes(), 16);
                MemorySegment.copy(source, at, host, 0, mem.bytes());
                rt.driver().copyHostToDevice(mem.pointer(), host, mem.bytes(), rt.stream());
                at += mem.bytes();
            }
            rt.driver().streamSynchronize(rt.stream());
        }
        return s;
    }

    private static void writeHeader(
            ByteBuffer header, CudaAttentionKernel kernel, long position, int windowRows, int live) {
        AttentionShape shape = kernel.shape();
        header.putInt(MAGIC).putInt(FORMAT);
        header.putInt(shape.numHeads()).putInt(shape.numKvHeads()).putInt(shape.headDim());
        header.putLong(kernel.fingerprint());
        header.putLong(position).putInt(windowRows).putInt(kernel.numFeatures()).putInt(live);
    }

    @Override
    public AttentionState copy() {
        CudaRuntime rt = kernel.runtime();
        synchronized (rt.lock()) {
            rt.makeCurrent();
            CudaAttentionState c = new CudaAttentionState(kernel);
            List<DeviceMemory> from = buffers(), to = c.buffers();
            for (int i = 0; i < from.size(); i++) {
                rt.driver()
                        .copyDeviceToDevice(
                                to.get(i).pointer(),
                                from.get(i).pointer(),
                                from.get(i).bytes(),
                                rt.stream());
            }
            rt.driver().streamSynchronize(rt.stream());
            c.position = position;
            c.windowRows = windowRows;
            c.current = current;
            return c;
        }
    }

    /** Reads the float buffers back (tests and diagnostics). */
    float[] read(DeviceMemory mem) {
        CudaRuntime rt = kernel.runtime();
        synchronized (rt.lock()) {
            rt.makeCurrent();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment host = arena.allocate(mem.bytes(), 16);
                rt.driver().copyDeviceToHost(host, mem.pointer(), mem.bytes(), rt.stream());
                rt.driver().streamSynchronize(rt.stream());
                return host.toArray(JAVA_FLOAT);
            }
        }
    }
}
