package io.dijiang4j.gpu.cuda;

import java.util.function.IntFunction;

/** Turns CUresult codes into exceptions that carry the CUDA error name. */
public final class CudaResults {
    public static final int CUDA_SUCCESS = 0;

    private CudaResults() {}

    /**
     * Throws a {@link CudaException} naming {@code call} and the error when {@code result} is not CUDA_SUCCESS.
     *
     * @param errorNamer the driver's cuGetErrorName (may return null or throw); the built-in cuda.h table is used
     *     when it gives nothing
     */
    public static void check(int result, String call, IntFunction<String> errorNamer) {
        if (result != CUDA_SUCCESS) {
            throw new CudaException(call, result, errorName(result, errorNamer));
        }
    }

    static String errorName(int result, IntFunction<String> errorNamer) {
        String name = null;
        if (errorNamer != null) {
            try {
                name = errorNamer.apply(result);
            } catch (RuntimeException namingFailed) {
                // the code itself is the error worth reporting; fall back to the static table
            }
        }
        return name == null || name.isBlank() ? CudaErrorNames.nameOf(result) : name;
    }
}
