package io.dijiang4j.gpu.cuda;

/** The CUDA driver library cannot be used at all (not installed, or missing an entry point this module needs). */
public final class CudaUnavailableException extends RuntimeException {
    public CudaUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
