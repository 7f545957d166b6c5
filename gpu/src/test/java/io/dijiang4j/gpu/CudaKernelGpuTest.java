package io.dijiang4j.gpu;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every CUDA kernel on a real device against the float64 naive references (to 1e-4 relative): odd lengths and
 * lengths that are not multiples of the 32-row GPU block, GQA, decay, the three normalizations, asymmetric maps,
 * prefill in one call and in uneven chunks with one-token decode, large logits, state bytes and copies. Skipped
 * without a device; tag "gpu" keeps it out of the default build: {@code mvn -pl gpu verify
 * -Dsurefire.excludedGroups=slow -Dtest=CudaKernelGpuTest}.
 */
@Tag("gpu")
class CudaKernelGpuTest {
    private static CudaKernelProvider provider;

    @BeforeAll
    static void device() {
        provider = new CudaKernelProvider();
        assumeTrue(
                provider.isAvailable(),
                () -> "no CUDA device: " + provider.unavailableReason().orElse("?"));
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
