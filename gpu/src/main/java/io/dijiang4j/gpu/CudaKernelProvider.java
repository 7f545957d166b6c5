package io.dijiang4j.gpu;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionKernelProvider;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.cpu.CpuKernelProvider;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The "cuda" backend (ServiceLoader). Available when the driver library loads, a device of compute capability 8.0+
 * is found and the PTX loads; otherwise {@link #unavailableReason()} says which step failed, with the CUDA error
 * name. Opening the device is deferred to the first {@link #isAvailable()} or {@link #create} call. Specs with a
 * feature the cuda kernels lack (exact cache, per-KV-head maps) get the CPU kernel from {@link #create}.
 */
public final class CudaKernelProvider implements AttentionKernelProvider {
    public static final String NAME = "cuda";

    private static final System.Logger LOG = System.getLogger(CudaKernelProvider.class.getName());

    private final Supplier<CudaRuntime.Availability> availability;
    private final Set<String> loggedFallbacks = ConcurrentHashMap.newKeySet();

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

    /** The cuda kernels implement neither the hybrid's exact cache, per-KV-head feature maps nor the online memory. */
    @Override
    public Optional<String> unsupportedReason(AttentionSpec spec) {
        List<String> missing = new ArrayList<>();
        if (spec.exactCache() > 0) missing.add("an exact cache (exactCache " + spec.exactCache() + ")");
        if (spec.kvHeadMaps() != null) missing.add("per-KV-head feature maps");
        if (spec.featureMap() instanceof io.dijiang4j.attention.features.OnlineCentroidMap) {
            missing.add("the online centroid memory");
        }
        if (missing.isEmpty()) return Optional.empty();
        return Optional.of("the cuda kernels do not implement " + String.join(" or ", missing));
    }

    /**
     * A cuda kernel, or the CPU kernel when {@link #unsupportedReason(AttentionSpec)} says the spec needs what the
     * cuda kernels lack (one INFO log line per reason, not one per layer).
     */
    @Override
    public AttentionKernel create(AttentionShape shape, AttentionSpec spec) {
        Optional<String> unsupported = unsupportedReason(spec);
        if (unsupported.isPresent()) {
            if (loggedFallbacks.add(unsupported.get())) {
                LOG.log(System.Logger.Level.INFO, "attention backend cuda: using cpu ({0})", unsupported.get());
            }
            return new CpuKernelProvider().create(shape, spec);
        }
        CudaRuntime runtime = availability
                .get()
                .runtime()
                .orElseThrow(() -> new IllegalStateException("the cuda backend is not available: "
                        + unavailableReason().orElse("unknown reason")));
        return new CudaAttentionKernel(runtime, shape, spec, FeatureMapParameters.of(spec.featureMap()));
    }

    /** Runs a kernel with explicit map parameters (benchmarks, tests on maps the adapter does not know). */
    public AttentionKernel create(AttentionShape shape, AttentionSpec spec, FeatureMapParameters map) {
        unsupportedReason(spec).ifPresent(reason -> {
            throw new IllegalArgumentException(reason);
        });
        CudaRuntime runtime = availability
                .get()
                .runtime()
                .orElseThrow(() -> new IllegalStateException("the cuda backend is not available: "
                        + unavailableReason().orElse("unknown reason")));
        return new CudaAttentionKernel(runtime, shape, spec, map);
    }
}
