package io.dijiang4j.gpu.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class CudaResultsTest {

    @Test
    void successPassesAndFailureCarriesTheDriverErrorName() {
        assertDoesNotThrow(() -> CudaResults.check(0, "cuInit", code -> "never asked"));
        CudaException e = assertThrows(
                CudaException.class,
                () -> CudaResults.check(
                        218, "cuModuleLoadData", code -> code == 218 ? "CUDA_ERROR_INVALID_PTX" : null));
        assertEquals("cuModuleLoadData failed: CUDA_ERROR_INVALID_PTX", e.getMessage());
        assertEquals(218, e.code());
        assertEquals("cuModuleLoadData", e.call());
        assertEquals("CUDA_ERROR_INVALID_PTX", e.errorName());
    }

    @Test
    void theCudaHeaderTableNamesCodesTheDriverCannotName() {
        CudaException silent =
                assertThrows(CudaException.class, () -> CudaResults.check(100, "cuDeviceGetCount", code -> null));
        assertEquals("cuDeviceGetCount failed: CUDA_ERROR_NO_DEVICE", silent.getMessage());
        CudaException throwing = assertThrows(
                CudaException.class,
                () -> CudaResults.check(2, "cuMemAlloc", code -> {
                    throw new IllegalStateException("cuGetErrorName unusable");
                }));
        assertEquals("cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY", throwing.getMessage());
        CudaException noNamer =
                assertThrows(CudaException.class, () -> CudaResults.check(719, "cuStreamSynchronize", null));
        assertEquals("cuStreamSynchronize failed: CUDA_ERROR_LAUNCH_FAILED", noNamer.getMessage());
    }

    @Test
    void unknownCodesStillGetANameWithTheNumber() {
        CudaException e = assertThrows(CudaException.class, () -> CudaResults.check(12345, "cuLaunchKernel", c -> ""));
        assertEquals("cuLaunchKernel failed: CUDA_ERROR_12345", e.getMessage());
    }

    @Test
    void detailIsAppendedOnlyWhenPresent() {
        assertEquals(
                "cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX (ptxas fatal)",
                new CudaException("cuModuleLoadDataEx", 218, "CUDA_ERROR_INVALID_PTX", " ptxas fatal\n").getMessage());
        assertEquals(
                "cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX",
                new CudaException("cuModuleLoadDataEx", 218, "CUDA_ERROR_INVALID_PTX", "").getMessage());
    }

    @Test
    void headerTableAgreesWithWellKnownCodes() {
        assertEquals("CUDA_SUCCESS", CudaErrorNames.nameOf(0));
        assertEquals("CUDA_ERROR_INVALID_VALUE", CudaErrorNames.nameOf(1));
        assertEquals("CUDA_ERROR_NOT_INITIALIZED", CudaErrorNames.nameOf(3));
        assertEquals("CUDA_ERROR_INVALID_IMAGE", CudaErrorNames.nameOf(200));
        assertEquals("CUDA_ERROR_INVALID_PTX", CudaErrorNames.nameOf(218));
        assertEquals("CUDA_ERROR_UNSUPPORTED_PTX_VERSION", CudaErrorNames.nameOf(222));
        assertEquals("CUDA_ERROR_NOT_FOUND", CudaErrorNames.nameOf(500));
        assertEquals("CUDA_ERROR_UNKNOWN", CudaErrorNames.nameOf(999));
    }
}
