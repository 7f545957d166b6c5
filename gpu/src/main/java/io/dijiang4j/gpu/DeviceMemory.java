package io.dijiang4j.gpu;

import io.dijiang4j.gpu.cuda.CudaDriver;
import java.lang.ref.Cleaner;

/**
 * A device allocation freed when it becomes unreachable (sessions drop their states without closing them) or on
 * {@link #close()}. Allocate, copy and free under the runtime's lock.
 */
final class DeviceMemory implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private final long pointer;
    private final long bytes;
    private final Cleaner.Cleanable cleanable;

    private DeviceMemory(CudaRuntime runtime, long bytes) {
        this.bytes = bytes;
        this.pointer = runtime.driver().memAlloc(bytes);
        this.cleanable = CLEANER.register(this, new Free(runtime, pointer));
    }

    static DeviceMemory allocate(CudaRuntime runtime, long bytes) {
        return new DeviceMemory(runtime, bytes);
    }

    static DeviceMemory floats(CudaRuntime runtime, long count) {
        return new DeviceMemory(runtime, count * Float.BYTES);
    }

    long pointer() {
        return pointer;
    }

    long bytes() {
        return bytes;
    }

    /** Device address of float number {@code index}. */
    long at(long index) {
        return pointer + index * Float.BYTES;
    }

    @Override
    public void close() {
        cleanable.clean();
    }

    /** Frees on the cleaner thread too, where the context must be made current first. */
    private record Free(CudaRuntime runtime, long pointer) implements Runnable {
        @Override
        public void run() {
            synchronized (runtime.lock()) {
                CudaDriver driver = runtime.driver();
                try {
                    runtime.makeCurrent();
                    driver.memFree(pointer);
                } catch (RuntimeException e) {
                    // a failed free at exit or after a device error leaks device memory only; nothing to report to
                }
            }
        }
    }
}
