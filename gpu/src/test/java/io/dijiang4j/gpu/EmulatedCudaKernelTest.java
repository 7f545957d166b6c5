package io.dijiang4j.gpu;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The same checks as {@link CudaKernelGpuTest}, on the CPU: the kernel sources of src/main/cuda compiled with g++
 * against a small CUDA emulator (src/test/c/cuda_emulator.cpp) behind the fake libcuda, driven through the real
 * Java backend (CudaAttentionKernel, device state, launches). It checks the kernels' arithmetic, the log-domain
 * stabilization and the Java/kernel contract without a GPU; it cannot check PTX code generation, device memory
 * limits or timing. Every block thread is a fiber here, so the sizes stay small.
 */
class EmulatedCudaKernelTest {
    private static CudaKernelProvider provider;

    @BeforeAll
    static void emulator() {
        provider = CudaKernelProvider.onLibrary(FakeCuda.emulator().toString(), 0);
        assumeTrue(
                provider.isAvailable(),
                () -> "emulator unavailable: " + provider.unavailableReason().orElse("?"));
    }

    static Stream<Arguments> linearCases() {
        return KernelChecks.linearCases();
    }

    @ParameterizedTest(name = "H{0} Hkv{1} d{2} m{3} {4} N{5} decay {6}")
    @MethodSource("linearCases")
    void linearPrefillMatchesTheNaiveReference(
            int heads, int kvHeads, int d, int m, String kind, int length, boolean decay) {
        KernelChecks.linearPrefillMatchesTheNaiveReference(provider, heads, kvHeads, d, m, kind, length, decay);
    }

    @ParameterizedTest(name = "H{0} Hkv{1} d{2} m{3} {4} N{5} decay {6}")
    @MethodSource("linearCases")
    void unevenChunksThenDecodeMatchTheNaiveReference(
            int heads, int kvHeads, int d, int m, String kind, int length, boolean decay) {
        KernelChecks.unevenChunksThenDecodeMatchTheNaiveReference(provider, heads, kvHeads, d, m, kind, length, decay);
    }

    static Stream<Arguments> hybridCases() {
        return KernelChecks.hybridCases();
    }

    @ParameterizedTest(name = "H{0} Hkv{1} d{2} m{3} sinks {4} window {5} {6} N{7} decay {8}")
    @MethodSource("hybridCases")
    void hybridPrefillAndDecodeMatchTheNaiveReference(
            int heads, int kvHeads, int d, int m, int sinks, int window, String kind, int length, boolean decay) {
        KernelChecks.hybridMatchesTheNaiveReference(provider, heads, kvHeads, d, m, sinks, window, kind, length, decay);
    }

    @Test
    void featureKernelMatchesTheMap() {
        KernelChecks.featureKernelMatchesTheMap(provider);
    }

    @Test
    void largeLogitsStayFiniteAndAccurate() {
        KernelChecks.largeLogitsStayFiniteAndAccurate(provider);
    }

    @Test
    void restoredAndCopiedStatesContinueExactlyLikeTheOriginal() {
        KernelChecks.restoredAndCopiedStatesContinueExactlyLikeTheOriginal(provider);
    }
}
