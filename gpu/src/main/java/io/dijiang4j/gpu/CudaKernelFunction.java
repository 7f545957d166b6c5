package io.dijiang4j.gpu;

/**
 * Every CUDA kernel the Java side launches: the PTX module (src/main/cuda/&lt;module&gt;.cu, committed as
 * &lt;module&gt;_sm80.ptx) and its {@code extern "C"} entry name.
 */
public enum CudaKernelFunction {
    LOG_FEATURES("features", "dj_log_features", "piiiiippifp", 128),
    MEMORY_CHUNK("memory", "dj_memory_chunk", "ppppppppppppiiiiiiiiii", 256),
    MEMORY_STEP("memory", "dj_memory_step", "ppppppppppppiiiiiiiiii", 128),
    HYBRID_WINDOW("hybrid", "dj_hybrid_window", "pppippliiiiliifppppip", 128);

    /**
     * The one architecture the PTX is compiled for. The driver JIT-compiles PTX for any newer device (sm_90 included)
     * and the kernels use nothing past sm_80, so one PTX per module serves every supported GPU.
     */
    public static final int PTX_ARCHITECTURE = 80;

    private final String module;
    private final String entry;
    private final String signature;
    private final int blockThreads;

    /**
     * @param signature one letter per kernel parameter: p = device pointer, l = long long, i = int, f = float. The
     *     PTX test checks it against the compiled entry, {@link #checkArguments} against every launch.
     * @param blockThreads threads per block of every launch (a multiple of 32; the PTX test checks that the compiled
     *     register count allows it)
     */
    CudaKernelFunction(String module, String entry, String signature, int blockThreads) {
        this.module = module;
        this.entry = entry;
        this.signature = signature;
        this.blockThreads = blockThreads;
    }

    public int blockThreads() {
        return blockThreads;
    }

    public String signature() {
        return signature;
    }

    /** The PTX parameter type of each signature letter. */
    public static String ptxType(char letter) {
        return switch (letter) {
            case 'p', 'l' -> ".u64";
            case 'i' -> ".u32";
            case 'f' -> ".f32";
            default -> throw new IllegalArgumentException("unknown signature letter " + letter);
        };
    }

    /** Rejects a launch whose Java arguments do not match the kernel's parameters (a wrong launch corrupts memory). */
    public void checkArguments(Object[] args) {
        if (args.length != signature.length()) {
            throw new IllegalArgumentException(
                    entry + " takes " + signature.length() + " arguments, launch passes " + args.length);
        }
        for (int i = 0; i < args.length; i++) {
            Class<?> expected = switch (signature.charAt(i)) {
                case 'p', 'l' -> Long.class;
                case 'i' -> Integer.class;
                default -> Float.class;
            };
            if (args[i] == null || args[i].getClass() != expected) {
                throw new IllegalArgumentException(
                        entry + " argument " + i + " must be a " + expected.getSimpleName() + ", got "
                                + (args[i] == null ? "null" : args[i].getClass().getSimpleName()));
            }
        }
    }

    public String module() {
        return module;
    }

    public String entry() {
        return entry;
    }

    /** File name of the PTX of {@code module}, as gpu/build-ptx.sh writes it. */
    public static String ptxFileName(String module) {
        return module + "_sm" + PTX_ARCHITECTURE + ".ptx";
    }

    /** Class-path resource of the PTX of {@code module}. */
    public static String ptxResource(String module) {
        return "/io/dijiang4j/gpu/" + ptxFileName(module);
    }
}
