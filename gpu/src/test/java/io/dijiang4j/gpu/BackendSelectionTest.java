package io.dijiang4j.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.dijiang4j.attention.AttentionBackends;
import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.cpu.CpuKernelProvider;
import io.dijiang4j.attention.features.FeatureMaps;
import org.junit.jupiter.api.Test;

/** The real ServiceLoader path with the gpu jar on the class path, on a machine without a usable CUDA driver. */
class BackendSelectionTest {

    @Test
    void theCudaProviderIsRegistered() {
        var discovery = AttentionBackends.discover();
        assertTrue(discovery.loadFailures().isEmpty(), discovery.loadFailures().toString());
        assertTrue(discovery.providers().stream().anyMatch(p -> p instanceof CudaKernelProvider));
        assertTrue(discovery.providers().stream().anyMatch(p -> p instanceof CpuKernelProvider));
    }

    @Test
    void withoutADriverAutoFallsBackToCpuAndCudaIsAClearError() {
        assumeFalse(CudaRuntime.shared().runtime().isPresent(), "a CUDA device is present here");
        var selection = AttentionBackends.resolve("auto", AttentionBackends.discover());
        assertInstanceOf(CpuKernelProvider.class, selection.provider());
        String reason = selection.fallbackReason().orElseThrow();
        assertTrue(reason.startsWith("cuda unavailable: "), reason);
        assertInstanceOf(CpuKernelProvider.class, AttentionBackends.select("auto"));

        var e = assertThrows(IllegalStateException.class, () -> AttentionBackends.select("cuda"));
        assertTrue(e.getMessage().startsWith("attention backend cuda is not available here: "), e.getMessage());
        assertTrue(e.getMessage().contains(System.getProperty(CudaRuntime.LIBRARY_PROPERTY, "libcuda.so.1")));
    }

    @Test
    void projectionMapsOfTheLibraryReachTheKernelAndOtherMapsAreRejected() {
        CudaKernelProvider provider =
                CudaKernelProvider.onLibrary(FakeCuda.library().toString(), 0);
        AttentionShape shape = new AttentionShape(4, 2, 16);
        try (AttentionKernel kernel =
                provider.create(shape, AttentionSpec.linear(FeatureMaps.create("performer", 16, 24, 3), 16))) {
            assertEquals(24, ((CudaAttentionKernel) kernel).numFeatures());
        }
        var e = assertThrows(
                IllegalArgumentException.class,
                () -> provider.create(shape, AttentionSpec.linear(TestMaps.identityLike(16), 16)));
        assertTrue(e.getMessage().contains("does not expose its projection"), e.getMessage());
    }
}
