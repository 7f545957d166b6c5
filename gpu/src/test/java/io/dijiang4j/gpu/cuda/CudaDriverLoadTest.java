package io.dijiang4j.gpu.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.gpu.CudaKernelProvider;
import io.dijiang4j.gpu.CudaRuntime;
import io.dijiang4j.gpu.TestMaps;
import org.junit.jupiter.api.Test;

class CudaDriverLoadTest {
    private static final String MISSING = "libdijiang_no_such_cuda.so.1";

    @Test
    void missingDriverLibraryIsAClearErrorNamingTheLibrary() {
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> CudaDriver.load(MISSING));
        assertTrue(e.getMessage().startsWith("cannot load the CUDA driver library " + MISSING), e.getMessage());
    }

    @Test
    void missingDriverLibraryMakesTheProviderUnavailableWithTheReason() {
        CudaRuntime.Availability availability = CudaRuntime.probe(MISSING, 0);
        assertTrue(availability.runtime().isEmpty());
        assertTrue(availability.reason().orElseThrow().contains(MISSING));

        CudaKernelProvider provider = CudaKernelProvider.onLibrary(MISSING, 0);
        assertEquals("cuda", provider.name());
        assertFalse(provider.isAvailable());
        assertTrue(provider.unavailableReason().orElseThrow().contains(MISSING));
        IllegalStateException create = assertThrows(
                IllegalStateException.class,
                () -> provider.create(new AttentionShape(2, 1, 4), AttentionSpec.linear(TestMaps.identityLike(4), 4)));
        assertTrue(create.getMessage().startsWith("the cuda backend is not available: "), create.getMessage());
        assertTrue(create.getMessage().contains(MISSING), create.getMessage());
    }
}
