package io.dijiang4j.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.cpu.CpuHybridKernel;
import io.dijiang4j.attention.cpu.CpuLinearKernel;
import io.dijiang4j.attention.features.FeatureMaps;
import io.dijiang4j.attention.features.OnlineCentroidMap;
import org.junit.jupiter.api.Test;

/**
 * The cuda kernels implement neither the exact cache, per-KV-head maps nor the online memory: such specs get the CPU kernel from the
 * cuda provider (never a failure, never a kernel that silently ignores them), whether or not a device is there.
 */
class UnsupportedSpecFallbackTest {
    private static final AttentionShape SHAPE = new AttentionShape(4, 2, 16);
    private static final FeatureMap MAP = FeatureMaps.create("performer", 16, 24, 3);
    private static final AttentionSpec PLAIN = AttentionSpec.hybrid(MAP, 16, 2, 8);
    private static final AttentionSpec CACHED = PLAIN.withExactCache(4, ExactCachePolicy.SELF_RECALL);
    private static final AttentionSpec ONLINE = AttentionSpec.hybrid(new OnlineCentroidMap(16, 8), 16, 2, 8);
    private static final AttentionSpec PER_HEAD_MAPS = AttentionSpec.linear(MAP, 16)
            .withKvHeadMaps(new FeatureMap[] {MAP, FeatureMaps.create("performer", 16, 24, 4)});

    @Test
    void unsupportedSpecsRunOnTheCpuAndTheRestOnTheDevice() {
        CudaKernelProvider provider =
                CudaKernelProvider.onLibrary(FakeCuda.library().toString(), 0);
        assertTrue(provider.isAvailable());
        assertTrue(provider.supports(PLAIN));
        assertFalse(provider.supports(CACHED));
        assertFalse(provider.supports(PER_HEAD_MAPS));
        assertTrue(provider.unsupportedReason(CACHED).orElseThrow().contains("exact cache"));
        assertTrue(provider.unsupportedReason(PER_HEAD_MAPS).orElseThrow().contains("per-KV-head feature maps"));
        assertTrue(provider.unsupportedReason(ONLINE).orElseThrow().contains("online centroid memory"));
        assertInstanceOf(CpuHybridKernel.class, provider.create(SHAPE, ONLINE));
        try (AttentionKernel kernel = provider.create(SHAPE, PLAIN)) {
            assertInstanceOf(CudaAttentionKernel.class, kernel);
        }
        AttentionKernel cached = provider.create(SHAPE, CACHED);
        assertInstanceOf(CpuHybridKernel.class, cached);
        assertEquals(CACHED, cached.spec());
        assertInstanceOf(CpuLinearKernel.class, provider.create(SHAPE, PER_HEAD_MAPS));
        // the explicit-parameters form is for benchmarks of the cuda kernel itself: no silent CPU there
        var e = assertThrows(
                IllegalArgumentException.class, () -> provider.create(SHAPE, CACHED, FeatureMapParameters.of(MAP)));
        assertTrue(e.getMessage().contains("exact cache"), e.getMessage());
    }

    @Test
    void withoutADeviceTheFallbackStillWorks() {
        CudaKernelProvider provider = CudaKernelProvider.onLibrary("/nonexistent/libcuda.so.1", 0);
        assertFalse(provider.isAvailable());
        assertInstanceOf(CpuHybridKernel.class, provider.create(SHAPE, CACHED));
        assertThrows(IllegalStateException.class, () -> provider.create(SHAPE, PLAIN));
    }
}
