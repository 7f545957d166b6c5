package io.dijiang4j.gpu;

/**
 * Every CUDA kernel the Java side launches: the PTX module (src/main/cuda/&lt;module&gt;.cu, committed as
 * &lt;module&gt;_sm80.ptx and &lt;module&gt;_sm90.ptx) and its {@code extern "C"} entry name.
 */
public enum CudaKernelFunction {
    LOG_FEATURES("features", "dj_log_features"),
    MEMORY_CHUNK("memory", "dj_memory_chunk"),
    MEMORY_STEP("memory", "dj_memory_step"),
    HYBRID_WINDOW("hybrid", "dj_hybrid_window");

    /** Architectures the PTX is committed for; the newest one not above the device's is loaded. */
    public static final int[] PTX_ARCHITECTURES = {80, 90};

    private final String module;
    private final String entry;

    CudaKernelFunction(String module, String entry) {
        this.module = module;
        this.entry = entry;
    }

    public String module() {
        return module;
    }

    public String entry() {
        return entry;
    }

    /** Class-path resource of the PTX of {@code module} for {@code sm_<arch>}. */
    public static String ptxResource(String module, int arch) {
        return "/io/dijiang4j/gpu/" + module + "_sm" + arch + ".ptx";
    }
}
