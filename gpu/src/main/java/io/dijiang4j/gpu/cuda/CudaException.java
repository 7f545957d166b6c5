package io.dijiang4j.gpu.cuda;

/** A CUDA driver call returned an error; the message names the call and the CUDA error, e.g. CUDA_ERROR_INVALID_PTX. */
public final class CudaException extends RuntimeException {
    private final String call;
    private final int code;
    private final String errorName;

    public CudaException(String call, int code, String errorName) {
        this(call, code, errorName, null);
    }

    public CudaException(String call, int code, String errorName, String detail) {
        super(call + " failed: " + errorName + (detail == null || detail.isBlank() ? "" : " (" + detail.strip() + ")"));
        this.call = call;
        this.code = code;
        this.errorName = errorName;
    }

    /** The driver function that failed, e.g. "cuModuleLoadDataEx". */
    public String call() {
        return call;
    }

    /** The CUresult value. */
    public int code() {
        return code;
    }

    /** The CUresult name, e.g. "CUDA_ERROR_INVALID_PTX". */
    public String errorName() {
        return errorName;
    }
}
