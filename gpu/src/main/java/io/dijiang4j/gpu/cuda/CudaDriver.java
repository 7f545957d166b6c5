package io.dijiang4j.gpu.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * The subset of the CUDA driver API (libcuda) this module uses, bound with java.lang.foreign: no JNI, no native
 * library of our own. Every call checks its CUresult and throws a {@link CudaException} naming the call and the CUDA
 * error. Handles (CUcontext, CUmodule, CUfunction, CUstream, CUevent) are zero-length {@link MemorySegment}s;
 * device pointers (CUdeviceptr) are longs.
 */
public final class CudaDriver {
    /** The driver library every CUDA installation on Linux provides (the unversioned name is a dev-package link). */
    public static final String DEFAULT_LIBRARY = "libcuda.so.1";

    private static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    private static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    private static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    private static final int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
    private static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
    private static final int CU_JIT_ERROR_LOG_BUFFER = 5;
    private static final int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
    private static final int JIT_LOG_BYTES = 8192;

    private final String libraryName;
    private final MethodHandle cuInit;
    private final MethodHandle cuGetErrorName;
    private final MethodHandle cuDeviceGetCount;
    private final MethodHandle cuDeviceGet;
    private final MethodHandle cuDeviceGetName;
    private final MethodHandle cuDeviceGetAttribute;
    private final MethodHandle cuDevicePrimaryCtxRetain;
    private final MethodHandle cuDevicePrimaryCtxRelease;
    private final MethodHandle cuCtxSetCurrent;
    private final MethodHandle cuCtxSynchronize;
    private final MethodHandle cuModuleLoadDataEx;
    private final MethodHandle cuModuleUnload;
    private final MethodHandle cuModuleGetFunction;
    private final MethodHandle cuLaunchKernel;
    private final MethodHandle cuFuncSetAttribute;
    private final MethodHandle cuMemAlloc;
    private final MethodHandle cuMemFree;
    private final MethodHandle cuMemsetD32Async;
    private final MethodHandle cuMemcpyHtoDAsync;
    private final MethodHandle cuMemcpyDtoHAsync;
    private final MethodHandle cuMemcpyDtoDAsync;
    private final MethodHandle cuStreamCreate;
    private final MethodHandle cuStreamSynchronize;
    private final MethodHandle cuStreamDestroy;
    private final MethodHandle cuEventCreate;
    private final MethodHandle cuEventRecord;
    private final MethodHandle cuEventSynchronize;
    private final MethodHandle cuEventElapsedTime;
    private final MethodHandle cuEventDestroy;

    private CudaDriver(String libraryName, SymbolLookup lib) {
        this.libraryName = libraryName;
        Linker linker = Linker.nativeLinker();
        Binder b = new Binder(linker, lib, libraryName);
        cuInit = b.bind("cuInit", JAVA_INT);
        cuGetErrorName = b.bind("cuGetErrorName", JAVA_INT, ADDRESS);
        cuDeviceGetCount = b.bind("cuDeviceGetCount", ADDRESS);
        cuDeviceGet = b.bind("cuDeviceGet", ADDRESS, JAVA_INT);
        cuDeviceGetName = b.bind("cuDeviceGetName", ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceGetAttribute = b.bind("cuDeviceGetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
        cuDevicePrimaryCtxRetain = b.bind("cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
        cuDevicePrimaryCtxRelease = b.bind("cuDevicePrimaryCtxRelease_v2", JAVA_INT);
        cuCtxSetCurrent = b.bind("cuCtxSetCurrent", ADDRESS);
        cuCtxSynchronize = b.bind("cuCtxSynchronize");
        cuModuleLoadDataEx = b.bind("cuModuleLoadDataEx", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
        cuModuleUnload = b.bind("cuModuleUnload", ADDRESS);
        cuModuleGetFunction = b.bind("cuModuleGetFunction", ADDRESS, ADDRESS, ADDRESS);
        cuLaunchKernel = b.bind(
                "cuLaunchKernel",
                ADDRESS,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                ADDRESS,
                ADDRESS,
                ADDRESS);
        cuFuncSetAttribute = b.bind("cuFuncSetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
        cuMemAlloc = b.bind("cuMemAlloc_v2", ADDRESS, JAVA_LONG);
        cuMemFree = b.bind("cuMemFree_v2", JAVA_LONG);
        cuMemsetD32Async = b.bind("cuMemsetD32Async", JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS);
        cuMemcpyHtoDAsync = b.bind("cuMemcpyHtoDAsync_v2", JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS);
        cuMemcpyDtoHAsync = b.bind("cuMemcpyDtoHAsync_v2", ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS);
        cuMemcpyDtoDAsync = b.bind("cuMemcpyDtoDAsync_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS);
        cuStreamCreate = b.bind("cuStreamCreate", ADDRESS, JAVA_INT);
        cuStreamSynchronize = b.bind("cuStreamSynchronize", ADDRESS);
        cuStreamDestroy = b.bind("cuStreamDestroy_v2", ADDRESS);
        cuEventCreate = b.bind("cuEventCreate", ADDRESS, JAVA_INT);
        cuEventRecord = b.bind("cuEventRecord", ADDRESS, ADDRESS);
        cuEventSynchronize = b.bind("cuEventSynchronize", ADDRESS);
        // CUDA 12.8 added the _v2 entry point; older drivers only export the original one (same signature).
        cuEventElapsedTime =
                b.bindFirst(new String[] {"cuEventElapsedTime_v2", "cuEventElapsedTime"}, ADDRESS, ADDRESS, ADDRESS);
        cuEventDestroy = b.bind("cuEventDestroy_v2", ADDRESS);
    }

    /**
     * Opens the driver library {@code libraryName} (a name the dynamic linker resolves, or a path) and binds the entry
     * points. Does not call cuInit.
     *
     * @throws CudaUnavailableException when the library cannot be loaded or lacks an entry point
     */
    public static CudaDriver load(String libraryName) {
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup(libraryName, Arena.global());
        } catch (IllegalArgumentException | IllegalCallerException | UnsatisfiedLinkError e) {
            throw new CudaUnavailableException(
                    "cannot load the CUDA driver library " + libraryName + " (no NVIDIA driver installed?): "
                            + e.getMessage(),
                    e);
        }
        return new CudaDriver(libraryName, lib);
    }

    public String libraryName() {
        return libraryName;
    }

    // ---- errors ----

    /** cuGetErrorName, or null when the driver does not know the code. */
    public String errorName(int code) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            int rc = (int) cuGetErrorName.invokeExact(code, out);
            if (rc != CudaResults.CUDA_SUCCESS) return null;
            MemorySegment str = out.get(ADDRESS, 0);
            if (str.equals(MemorySegment.NULL)) return null;
            return str.reinterpret(256).getString(0, StandardCharsets.US_ASCII);
        } catch (Throwable t) {
            return null;
        }
    }

    private void check(int rc, String call) {
        CudaResults.check(rc, call, this::errorName);
    }

    // ---- device and context ----

    public void init() {
        check(callInt(cuInit, 0), "cuInit");
    }

    public int deviceCount() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check(callInt(cuDeviceGetCount, out), "cuDeviceGetCount");
            return out.get(JAVA_INT, 0);
        }
    }

    public int device(int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check(callInt(cuDeviceGet, out, ordinal), "cuDeviceGet");
            return out.get(JAVA_INT, 0);
        }
    }

    public String deviceName(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(256);
            check(callInt(cuDeviceGetName, out, 256, device), "cuDeviceGetName");
            return out.getString(0, StandardCharsets.US_ASCII);
        }
    }

    private int attribute(int attribute, int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check(callInt(cuDeviceGetAttribute, out, attribute, device), "cuDeviceGetAttribute");
            return out.get(JAVA_INT, 0);
        }
    }

    /** Compute capability as major*10+minor, e.g. 80 for an A100, 90 for an H100. */
    public int computeCapability(int device) {
        return attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device) * 10
                + attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
    }

    public int multiprocessorCount(int device) {
        return attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
    }

    /** The most dynamic shared memory one thread block may use after opting in (bytes). */
    public int maxSharedMemoryPerBlockOptin(int device) {
        return attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, device);
    }

    public MemorySegment primaryContextRetain(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(callInt(cuDevicePrimaryCtxRetain, out, device), "cuDevicePrimaryCtxRetain");
            return out.get(ADDRESS, 0);
        }
    }

    public void primaryContextRelease(int device) {
        check(callInt(cuDevicePrimaryCtxRelease, device), "cuDevicePrimaryCtxRelease");
    }

    /** Makes {@code context} current on the calling thread (CUDA contexts are per thread). */
    public void setCurrentContext(MemorySegment context) {
        check(callInt(cuCtxSetCurrent, context), "cuCtxSetCurrent");
    }

    public void contextSynchronize() {
        check(callInt(cuCtxSynchronize), "cuCtxSynchronize");
    }

    // ---- modules and launches ----

    /** Loads a PTX (NUL-terminated text) or cubin image; a JIT error log, when the driver writes one, is in the message. */
    public MemorySegment moduleLoadData(byte[] image) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(image.length + 1L);
            MemorySegment.copy(image, 0, data, JAVA_BYTE_LAYOUT, 0, image.length);
            data.set(JAVA_BYTE_LAYOUT, image.length, (byte) 0);
            MemorySegment log = arena.allocate(JIT_LOG_BYTES);
            MemorySegment options = arena.allocate(JAVA_INT, 2);
            options.setAtIndex(JAVA_INT, 0, CU_JIT_ERROR_LOG_BUFFER);
            options.setAtIndex(JAVA_INT, 1, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
            MemorySegment values = arena.allocate(ADDRESS, 2);
            values.setAtIndex(ADDRESS, 0, log);
            values.setAtIndex(ADDRESS, 1, MemorySegment.ofAddress(JIT_LOG_BYTES)); // a size passed as a pointer
            MemorySegment out = arena.allocate(ADDRESS);
            int rc = callInt(cuModuleLoadDataEx, out, data, 2, options, values);
            if (rc != CudaResults.CUDA_SUCCESS) {
                String jitLog = log.getString(0, StandardCharsets.US_ASCII);
                throw new CudaException("cuModuleLoadDataEx", rc, CudaResults.errorName(rc, this::errorName), jitLog);
            }
            return out.get(ADDRESS, 0);
        }
    }

    public void moduleUnload(MemorySegment module) {
        check(callInt(cuModuleUnload, module), "cuModuleUnload");
    }

    public MemorySegment moduleFunction(MemorySegment module, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            int rc = callInt(cuModuleGetFunction, out, module, arena.allocateFrom(name));
            if (rc != CudaResults.CUDA_SUCCESS) {
                throw new CudaException(
                        "cuModuleGetFunction(" + name + ")", rc, CudaResults.errorName(rc, this::errorName));
            }
            return out.get(ADDRESS, 0);
        }
    }

    /** Lets {@code function} use up to {@code bytes} of dynamic shared memory (above the 48 KiB default). */
    public void setMaxDynamicSharedMemory(MemorySegment function, int bytes) {
        check(
                callInt(cuFuncSetAttribute, function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
                "cuFuncSetAttribute");
    }

    /**
     * Launches {@code function}; {@code args} are Integer, Long (also device pointers), Float or Double values in the
     * order of the kernel's parameters.
     */
    public void launch(
            MemorySegment function,
            int gridX,
            int gridY,
            int gridZ,
            int blockX,
            int blockY,
            int blockZ,
            int sharedBytes,
            MemorySegment stream,
            Object... args) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = arena.allocate(ADDRESS, Math.max(1, args.length));
            for (int i = 0; i < args.length; i++) {
                params.setAtIndex(ADDRESS, i, argument(arena, args[i]));
            }
            check(
                    callInt(
                            cuLaunchKernel,
                            function,
                            gridX,
                            gridY,
                            gridZ,
                            blockX,
                            blockY,
                            blockZ,
                            sharedBytes,
                            stream,
                            params,
                            MemorySegment.NULL),
                    "cuLaunchKernel");
        }
    }

    private static MemorySegment argument(Arena arena, Object value) {
        return switch (value) {
            case Integer i -> arena.allocateFrom(JAVA_INT, i);
            case Long l -> arena.allocateFrom(JAVA_LONG, l);
            case Float f -> arena.allocateFrom(JAVA_FLOAT, f);
            case Double d -> arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_DOUBLE, d);
            default -> throw new IllegalArgumentException("unsupported kernel argument type: " + value.getClass());
        };
    }

    // ---- memory ----

    public long memAlloc(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            check(callInt(cuMemAlloc, out, Math.max(bytes, 4L)), "cuMemAlloc");
            return out.get(JAVA_LONG, 0);
        }
    }

    public void memFree(long devicePointer) {
        check(callInt(cuMemFree, devicePointer), "cuMemFree");
    }

    /** Sets {@code count} 32-bit words to {@code bits} (Float.floatToRawIntBits for a float fill). */
    public void memsetD32(long devicePointer, int bits, long count, MemorySegment stream) {
        check(callInt(cuMemsetD32Async, devicePointer, bits, count, stream), "cuMemsetD32Async");
    }

    public void copyHostToDevice(long dst, MemorySegment src, long bytes, MemorySegment stream) {
        check(callInt(cuMemcpyHtoDAsync, dst, src, bytes, stream), "cuMemcpyHtoD");
    }

    public void copyDeviceToHost(MemorySegment dst, long src, long bytes, MemorySegment stream) {
        check(callInt(cuMemcpyDtoHAsync, dst, src, bytes, stream), "cuMemcpyDtoH");
    }

    public void copyDeviceToDevice(long dst, long src, long bytes, MemorySegment stream) {
        check(callInt(cuMemcpyDtoDAsync, dst, src, bytes, stream), "cuMemcpyDtoD");
    }

    // ---- streams and events ----

    public MemorySegment streamCreate() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(callInt(cuStreamCreate, out, 0), "cuStreamCreate");
            return out.get(ADDRESS, 0);
        }
    }

    public void streamSynchronize(MemorySegment stream) {
        check(callInt(cuStreamSynchronize, stream), "cuStreamSynchronize");
    }

    public void streamDestroy(MemorySegment stream) {
        check(callInt(cuStreamDestroy, stream), "cuStreamDestroy");
    }

    public MemorySegment eventCreate() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(callInt(cuEventCreate, out, 0), "cuEventCreate");
            return out.get(ADDRESS, 0);
        }
    }

    public void eventRecord(MemorySegment event, MemorySegment stream) {
        check(callInt(cuEventRecord, event, stream), "cuEventRecord");
    }

    public void eventSynchronize(MemorySegment event) {
        check(callInt(cuEventSynchronize, event), "cuEventSynchronize");
    }

    /** Milliseconds between two recorded events. */
    public float eventElapsedMillis(MemorySegment start, MemorySegment end) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_FLOAT);
            check(callInt(cuEventElapsedTime, out, start, end), "cuEventElapsedTime");
            return out.get(JAVA_FLOAT, 0);
        }
    }

    public void eventDestroy(MemorySegment event) {
        check(callInt(cuEventDestroy, event), "cuEventDestroy");
    }

    // ---- plumbing ----

    private static final java.lang.foreign.ValueLayout.OfByte JAVA_BYTE_LAYOUT =
            java.lang.foreign.ValueLayout.JAVA_BYTE;

    private static int callInt(MethodHandle handle, Object... args) {
        try {
            return (int) handle.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("native call failed", t);
        }
    }

    /** Looks up symbols and builds downcall handles returning CUresult (int). */
    private record Binder(Linker linker, SymbolLookup lib, String libraryName) {
        MethodHandle bind(String symbol, java.lang.foreign.MemoryLayout... args) {
            return bindFirst(new String[] {symbol}, args);
        }

        MethodHandle bindFirst(String[] symbols, java.lang.foreign.MemoryLayout... args) {
            for (String symbol : symbols) {
                Optional<MemorySegment> address = lib.find(symbol);
                if (address.isPresent()) {
                    return linker.downcallHandle(address.get(), FunctionDescriptor.of(JAVA_INT, args));
                }
            }
            throw new CudaUnavailableException(
                    "the CUDA driver library " + libraryName + " has no entry point " + String.join(" or ", symbols)
                            + " (driver too old?)",
                    null);
        }
    }
}
