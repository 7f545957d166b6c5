package io.dijiang4j.gpu;

import io.dijiang4j.gpu.cuda.CudaDriver;
import io.dijiang4j.gpu.cuda.CudaException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * One CUDA device made ready for the kernels: driver initialized, primary context retained, the PTX modules for its
 * architecture loaded, the kernel functions looked up, one stream. Shared by every kernel of the process; calls
 * that touch the device hold {@link #lock()} (one stream, and CUDA contexts are per thread).
 */
public final class CudaRuntime {
    /** System property naming the driver library, e.g. a full path; default {@link CudaDriver#DEFAULT_LIBRARY}. */
    public static final String LIBRARY_PROPERTY = "dijiang.cuda.library";

    /** System property choosing the device ordinal (default 0). */
    public static final String DEVICE_PROPERTY = "dijiang.cuda.device";

    private static final Object SHARED_LOCK = new Object();
    private static Availability shared;

    private final CudaDriver driver;
    private final int device;
    private final String deviceName;
    private final int computeCapability;
    private final int maxSharedBytes;
    private final MemorySegment context;
    private final MemorySegment stream;
    private final Map<CudaKernelFunction, MemorySegment> functions = new EnumMap<>(CudaKernelFunction.class);
    private final Object lock = new Object();

    /** The runtime, or why there is none. */
    public record Availability(Optional<CudaRuntime> runtime, Optional<String> reason) {
        static Availability of(CudaRuntime runtime) {
            return new Availability(Optional.of(runtime), Optional.empty());
        }

        static Availability unavailable(String reason) {
            return new Availability(Optional.empty(), Optional.of(reason));
        }
    }

    private CudaRuntime(CudaDriver driver, int ordinal) {
        this.driver = driver;
        driver.init();
        int count = driver.deviceCount();
        if (count <= ordinal) {
            throw new IllegalStateException(
                    count == 0
                            ? "no CUDA device found"
                            : "CUDA device " + ordinal + " requested but only " + count + " found");
        }
        this.device = driver.device(ordinal);
        this.deviceName = driver.deviceName(device);
        this.computeCapability = driver.computeCapability(device);
        requireSupported(computeCapability);
        this.maxSharedBytes = driver.maxSharedMemoryPerBlockOptin(device);
        this.context = driver.primaryContextRetain(device);
        driver.setCurrentContext(context);
        Map<String, MemorySegment> modules = new HashMap<>();
        for (CudaKernelFunction f : CudaKernelFunction.values()) {
            MemorySegment module = modules.computeIfAbsent(f.module(), name -> driver.moduleLoadData(readPtx(name)));
            MemorySegment function = driver.moduleFunction(module, f.entry());
            driver.setMaxDynamicSharedMemory(function, maxSharedBytes);
            functions.put(f, function);
        }
        this.stream = driver.streamCreate();
    }

    /**
     * The process-wide runtime on the library of {@link #LIBRARY_PROPERTY} and device {@link #DEVICE_PROPERTY},
     * opened on first use; its failure is remembered (one probe per process).
     */
    public static Availability shared() {
        synchronized (SHARED_LOCK) {
            if (shared == null) {
                shared = probe(
                        System.getProperty(LIBRARY_PROPERTY, CudaDriver.DEFAULT_LIBRARY),
                        Integer.getInteger(DEVICE_PROPERTY, 0));
            }
            return shared;
        }
    }

    /** Opens a runtime on {@code library}; never throws: every failure becomes the reason. */
    public static Availability probe(String library, int ordinal) {
        try {
            return Availability.of(new CudaRuntime(CudaDriver.load(library), ordinal));
        } catch (CudaException e) {
            return Availability.unavailable(e.getMessage());
        } catch (RuntimeException | LinkageError e) {
            // no driver library, missing entry point, native access denied, no device, unsupported device
            String message = e.getMessage();
            return Availability.unavailable(message == null ? e.toString() : message);
        }
    }

    /** PTX runs on its own architecture and newer ones (JIT-compiled forward), never on older ones. */
    static void requireSupported(int computeCapability) {
        int oldest = CudaKernelFunction.PTX_ARCHITECTURE;
        if (computeCapability < oldest) {
            throw new IllegalStateException("CUDA device of compute capability " + computeCapability / 10 + "."
                    + computeCapability % 10 + " is older than the oldest supported (" + oldest / 10 + "."
                    + oldest % 10 + ")");
        }
    }

    static byte[] readPtx(String module) {
        String resource = CudaKernelFunction.ptxResource(module);
        try (InputStream in = CudaRuntime.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("PTX resource " + resource + " missing from the gpu jar");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read PTX resource " + resource, e);
        }
    }

    public CudaDriver driver() {
        return driver;
    }

    public MemorySegment stream() {
        return stream;
    }

    public MemorySegment function(CudaKernelFunction f) {
        return functions.get(f);
    }

    /** Makes this runtime's context current on the calling thread; call under {@link #lock()}. */
    public void makeCurrent() {
        driver.setCurrentContext(context);
    }

    public Object lock() {
        return lock;
    }

    public int maxSharedBytes() {
        return maxSharedBytes;
    }

    /** "cuda:0 (NVIDIA H100 80GB HBM3, sm_90)". */
    public String describe() {
        return "cuda:" + device + " (" + deviceName + ", sm_" + computeCapability + ")";
    }

    public String backendName() {
        return "cuda:" + device;
    }

    public int computeCapability() {
        return computeCapability;
    }

    MemorySegment context() {
        return context;
    }
}
