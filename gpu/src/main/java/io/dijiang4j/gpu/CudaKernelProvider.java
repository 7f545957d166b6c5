package io.dijiang4j.gpu;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionKernelProvider;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The "cuda" backend (ServiceLoader). Available when the driver library loads, a device of compute capability 8.0+
 * is found and the PTX loads; otherwise {@link #unavailableReason()} says which step failed, with the CUDA error
 * name. Opening the device is deferred to the first {@link #isAvailable()} or {@link #create} call.
 */
public final class CudaKernelProvider implements AttentionKernelProvider {
    public static final String NAME = "cuda";

    private final Supplier<CudaRuntime.Availability> availability;

    /** The ServiceLoader constructor: the process-wide device. */
    public CudaKernelProvider() {
        this(CudaRuntime::shared);
    }

    /** A provider on a given driver library (tests, or a driver outside the loader path). */
    public static CudaKernelProvider onLibrary(String library, int device) {
        CudaRuntime.Availability probed = CudaRuntime.probe(library, device);
        return new CudaKernelProvider(() -> probed);
    }

    private CudaKernelProvider(Supplier<CudaRuntime.Availability> availability) {
        this.availability = availability;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean isAvailable() {
        return availability.get().runtime().isPresent();
    }

    /** The device this provider runs on, when available. */
    public Optional<CudaRuntime> runtime() {
        return availability.get().runtime();
    }

    @Override
    public Optional<String> unavailableReason() {
        return availability.get().reason();
    }

    @Override
    public AttentionKernel create(AttentionShape shape, AttentionSpec spec) {
        CudaRuntime runtime = availability
                .get()
                .runtime()
                .orElseThrow(() -> new IllegalStateException("the cuda backend is not available: "
                        + unavailableReason().orElse("unknown reason")));
        return new CudaAttentionKernel(runtime, shape, spec, FeatureMapParameters.of(spec.featureMap()));
    }

    /** Runs a kernel with explicit map parameters (benchmarks, tests on maps the adapter does not know). */
    public AttentionKernel create(AttentionShape shape, AttentionSpec spec, FeatureMapParameters map) {
        CudaRuntime runtime = availability
                .get()
                .runtime()
                .orElseThrow(() -> new IllegalStateException("the cuda backend is not available: "
                        + unavailableReason().orElse("unknown reason")));
        return new CudaAttentionKernel(runtime, shape, spec, map);
    }
}
