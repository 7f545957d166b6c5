package io.dijiang4j.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.AttentionBackends;
import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.gpu.cuda.CudaDriver;
import io.dijiang4j.gpu.cuda.CudaException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The host side of the CUDA backend against a fake libcuda (built with gcc): error mapping of real driver calls,
 * PTX entry lookup, launch sequences, and the device-state bookkeeping (copies are real on the fake).
 */
class FakeDriverTest {

    private static String lib(String... defines) {
        return FakeCuda.library(defines).toString();
    }

    @Test
    void initFailureIsReportedWithTheCudaErrorName() {
        var availability = CudaRuntime.probe(lib("-DFAKE_INIT_RESULT=100"), 0);
        assertEquals(
                "cuInit failed: CUDA_ERROR_NO_DEVICE", availability.reason().orElseThrow());
    }

    @Test
    void zeroDevicesIsReported() {
        var availability = CudaRuntime.probe(lib("-DFAKE_DEVICE_COUNT=0"), 0);
        assertEquals("no CUDA device found", availability.reason().orElseThrow());
        var second = CudaRuntime.probe(lib(), 3);
        assertEquals("CUDA device 3 requested but only 1 found", second.reason().orElseThrow());
    }

    @Test
    void badPtxCarriesTheErrorNameAndTheJitLog() {
        CudaDriver driver = CudaDriver.load(lib());
        CudaException e = assertThrows(
                CudaException.class, () -> driver.moduleLoadData("not a ptx file".getBytes(StandardCharsets.US_ASCII)));
        assertEquals(
                "cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX (ptxas fatal   : Unexpected non-PTX input)",
                e.getMessage());
        assertEquals(218, e.code());
    }

    @Test
    void missingKernelAndUnnamedCodesAreMapped() {
        CudaDriver driver = CudaDriver.load(lib());
        MemorySegment module = driver.moduleLoadData(CudaRuntime.readPtx("memory"));
        CudaException notFound = assertThrows(CudaException.class, () -> driver.moduleFunction(module, "dj_nope"));
        assertEquals("cuModuleGetFunction(dj_nope) failed: CUDA_ERROR_NOT_FOUND", notFound.getMessage());
        // the fake's cuGetErrorName does not know 201: the cuda.h table names it
        CudaException context =
                assertThrows(CudaException.class, () -> driver.setCurrentContext(MemorySegment.ofAddress(8)));
        assertEquals("cuCtxSetCurrent failed: CUDA_ERROR_INVALID_CONTEXT", context.getMessage());
    }

    @Test
    void eventTimingFallsBackToThePre128EntryPoint() {
        CudaDriver driver = CudaDriver.load(lib());
        MemorySegment a = driver.eventCreate(), b = driver.eventCreate();
        assertEquals(1.5f, driver.eventElapsedMillis(a, b));
    }

    @Test
    void deviceOlderThanThePtxArchitectureIsRefused() {
        var availability = CudaRuntime.probe(lib("-DFAKE_CC_MAJOR=7", "-DFAKE_CC_MINOR=5"), 0);
        assertEquals(
                "CUDA device of compute capability 7.5 is older than the oldest supported (8.0)",
                availability.reason().orElseThrow());
    }

    /** The fake is a Hopper (sm_90): it gets the sm_80 PTX, which the real driver JIT-compiles for it. */
    @Test
    void runtimeFindsEveryKernelOfTheCommittedPtx() {
        var availability = CudaRuntime.probe(lib(), 0);
        assertTrue(availability.reason().isEmpty(), () -> availability.reason().orElseThrow());
        CudaRuntime runtime = availability.runtime().orElseThrow();
        assertEquals("cuda:0 (Fake GPU, sm_90)", runtime.describe());
        for (CudaKernelFunction f : CudaKernelFunction.values()) {
            assertNotEquals(MemorySegment.NULL, runtime.function(f), f.entry());
        }
    }

    @Test
    void backendSelectionReportsTheDriverError() {
        CudaKernelProvider down = CudaKernelProvider.onLibrary(lib("-DFAKE_INIT_RESULT=100"), 0);
        CudaKernelProvider up = CudaKernelProvider.onLibrary(lib(), 0);
        var e = assertThrows(
                IllegalStateException.class,
                () -> AttentionBackends.resolve("cuda", new AttentionBackends.Discovery(List.of(down), List.of())));
        assertEquals(
                "attention backend cuda is not available here: cuInit failed: CUDA_ERROR_NO_DEVICE", e.getMessage());
        assertTrue(up.isAvailable());
        assertEquals(
                up,
                AttentionBackends.resolve("auto", new AttentionBackends.Discovery(List.of(up), List.of()))
                        .provider());
    }

    private static AttentionKernel kernel(Path library, AttentionShape shape, AttentionSpec spec) {
        FeatureMapParameters params = ((TestMaps.ProjectedMap) spec.featureMap()).parameters();
        return CudaKernelProvider.onLibrary(library.toString(), 0).create(shape, spec, params);
    }

    private static TestMaps.ProjectedMap map(int d, int m) {
        return new TestMaps.ProjectedMap("t", TestMaps.random(d, m, FeatureMap.Normalization.SOFTMAX, true, 7));
    }

    private static float[] random(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian();
        return a;
    }

    @Test
    void linearLaunchesFeaturesThenChunkForPrefillAndStepForDecode() {
        Path library = FakeCuda.library();
        AttentionShape shape = new AttentionShape(4, 2, 8);
        try (AttentionKernel k = kernel(library, shape, AttentionSpec.linear(map(8, 12), 8))) {
            assertEquals("cuda:0", k.backend());
            AttentionState s = k.newState();
            Random rnd = new Random(1);
            FakeCuda.reset(library);
            k.forward(s, random(rnd, 5 * 32), random(rnd, 5 * 16), random(rnd, 5 * 16), new float[5 * 32], 5);
            assertEquals("dj_log_features,dj_log_features,dj_memory_chunk", FakeCuda.launchLog(library));
            FakeCuda.reset(library);
            k.forward(s, random(rnd, 32), random(rnd, 16), random(rnd, 16), new float[32], 1);
            assertEquals("dj_log_features,dj_log_features,dj_memory_step", FakeCuda.launchLog(library));
            assertEquals(6, s.position());
            // per query head: offsets 2x[4][12] (double-buffered), sums [4][12][8], normalizers 2x[4][12], 4 hybrid
            // slots
            assertEquals((2 * 4 * 12 + 4 * 12 * 8 + 2 * 4 * 12 + 4) * 4L, s.sizeBytes());
        }
    }

    @Test
    void newStateStartsEmptyWithMinusInfinityOffsets() {
        Path library = FakeCuda.library();
        try (AttentionKernel k = kernel(library, new AttentionShape(2, 2, 4), AttentionSpec.linear(map(4, 6), 4))) {
            CudaAttentionState s = (CudaAttentionState) k.newState();
            float[] offsets = s.liveOffsets();
            float[] expected = new float[2 * 6];
            Arrays.fill(expected, Float.NEGATIVE_INFINITY);
            assertArrayEquals(expected, offsets);
            assertArrayEquals(new float[2 * 6 * 4], s.read(s.sums()));
        }
    }

    @Test
    void hybridKeepsSinksAndTheLastWindowTokensOnTheDevice() {
        Path library = FakeCuda.library();
        AttentionShape shape = new AttentionShape(4, 2, 8);
        int kw = shape.kvWidth();
        AttentionSpec spec = AttentionSpec.hybrid(map(8, 12), 8, 2, 3);
        try (AttentionKernel k = kernel(library, shape, spec)) {
            CudaAttentionState s = (CudaAttentionState) k.newState();
            Random rnd = new Random(2);
            float[] keys = random(rnd, 8 * kw), values = random(rnd, 8 * kw);
            FakeCuda.reset(library);
            k.forward(
                    s,
                    random(rnd, 7 * 32),
                    Arrays.copyOf(keys, 7 * kw),
                    Arrays.copyOf(values, 7 * kw),
                    new float[7 * 32],
                    7);
            assertEquals(
                    "dj_log_features,dj_log_features,dj_memory_chunk,dj_hybrid_window", FakeCuda.launchLog(library));
            assertArrayEquals(Arrays.copyOfRange(keys, 0, 2 * kw), s.read(s.sinkK()));
            assertArrayEquals(Arrays.copyOfRange(values, 0, 2 * kw), s.read(s.sinkV()));
            assertArrayEquals(Arrays.copyOfRange(keys, 4 * kw, 7 * kw), s.read(s.windowK()));
            assertArrayEquals(Arrays.copyOfRange(values, 4 * kw, 7 * kw), s.read(s.windowV()));

            k.forward(
                    s,
                    random(rnd, 32),
                    Arrays.copyOfRange(keys, 7 * kw, 8 * kw),
                    Arrays.copyOfRange(values, 7 * kw, 8 * kw),
                    new float[32],
                    1);
            assertEquals(8, s.position());
            assertArrayEquals(Arrays.copyOfRange(keys, 5 * kw, 8 * kw), s.read(s.windowK()));
            assertArrayEquals(Arrays.copyOfRange(values, 5 * kw, 8 * kw), s.read(s.windowV()));
            assertArrayEquals(Arrays.copyOfRange(keys, 0, 2 * kw), s.read(s.sinkK()));
        }
    }

    @Test
    void hybridFillsSinksAcrossCallsBeforeTheWindowStarts() {
        Path library = FakeCuda.library();
        AttentionShape shape = new AttentionShape(2, 1, 4);
        int kw = shape.kvWidth();
        try (AttentionKernel k = kernel(library, shape, AttentionSpec.hybrid(map(4, 5), 4, 4, 3))) {
            CudaAttentionState s = (CudaAttentionState) k.newState();
            Random rnd = new Random(3);
            float[] keys = random(rnd, 6 * kw), values = random(rnd, 6 * kw);
            FakeCuda.reset(library);
            k.forward(
                    s,
                    random(rnd, 2 * 8),
                    Arrays.copyOf(keys, 2 * kw),
                    Arrays.copyOf(values, 2 * kw),
                    new float[16],
                    2);
            // every token is a sink: no key features to compute, nothing in the window
            assertEquals("dj_log_features,dj_memory_chunk,dj_hybrid_window", FakeCuda.launchLog(library));
            assertEquals(0, s.windowRows());
            k.forward(
                    s,
                    random(rnd, 4 * 8),
                    Arrays.copyOfRange(keys, 2 * kw, 6 * kw),
                    Arrays.copyOfRange(values, 2 * kw, 6 * kw),
                    new float[32],
                    4);
            assertArrayEquals(Arrays.copyOfRange(keys, 0, 4 * kw), s.read(s.sinkK()));
            assertEquals(2, s.windowRows());
            assertArrayEquals(Arrays.copyOfRange(keys, 4 * kw, 6 * kw), Arrays.copyOf(s.read(s.windowK()), 2 * kw));
        }
    }

    @Test
    void stateBytesRoundTripAndCopiesAreIndependent() {
        Path library = FakeCuda.library();
        AttentionShape shape = new AttentionShape(4, 2, 8);
        AttentionSpec spec = AttentionSpec.hybrid(map(8, 12), 8, 2, 3);
        try (AttentionKernel k = kernel(library, shape, spec)) {
            AttentionState s = k.newState();
            Random rnd = new Random(4);
            k.forward(s, random(rnd, 6 * 32), random(rnd, 6 * 16), random(rnd, 6 * 16), new float[6 * 32], 6);
            byte[] bytes = s.toBytes();
            AttentionState restored = k.restore(bytes);
            assertEquals(6, restored.position());
            assertArrayEquals(bytes, restored.toBytes());

            AttentionState snapshot = s.copy();
            k.forward(s, random(rnd, 32), random(rnd, 16), random(rnd, 16), new float[32], 1);
            assertArrayEquals(bytes, snapshot.toBytes());
            assertFalse(Arrays.equals(bytes, s.toBytes()));

            assertThrows(IllegalArgumentException.class, () -> k.restore(Arrays.copyOf(bytes, bytes.length - 4)));
            byte[] corrupt = bytes.clone();
            corrupt[0] ^= 1;
            assertThrows(IllegalArgumentException.class, () -> k.restore(corrupt));
            try (AttentionKernel other = kernel(library, shape, AttentionSpec.hybrid(map(8, 12), 8, 2, 4))) {
                var e = assertThrows(IllegalArgumentException.class, () -> other.restore(bytes));
                assertTrue(e.getMessage().startsWith("state bytes belong to another layer"), e.getMessage());
            }
        }
    }

    @Test
    void badInputIsRejectedWithOneClearMessage() {
        Path library = FakeCuda.library();
        AttentionShape shape = new AttentionShape(4, 2, 8);
        try (AttentionKernel k = kernel(library, shape, AttentionSpec.linear(map(8, 12), 8));
                AttentionKernel other = kernel(library, shape, AttentionSpec.linear(map(8, 12), 8))) {
            AttentionState s = k.newState();
            var shortQ = assertThrows(
                    IllegalArgumentException.class,
                    () -> k.forward(s, new float[31], new float[16], new float[16], new float[32], 1));
            assertEquals("q must hold at least 32 floats, got 31", shortQ.getMessage());
            var foreign = assertThrows(
                    IllegalArgumentException.class,
                    () -> other.forward(s, new float[32], new float[16], new float[16], new float[32], 1));
            assertEquals("state was not created by this cuda kernel", foreign.getMessage());
            assertThrows(
                    IllegalArgumentException.class,
                    () -> k.forward(s, new float[32], new float[16], new float[16], new float[32], -1));
            float[] nanK = new float[16];
            nanK[5] = Float.NaN;
            var nan = assertThrows(
                    IllegalArgumentException.class,
                    () -> k.forward(s, new float[32], nanK, new float[16], new float[32], 1));
            assertEquals("k holds a NaN or infinite value at index 5", nan.getMessage());
            k.forward(s, new float[0], new float[0], new float[0], new float[0], 0);
            assertEquals(0, s.position(), "rejected and empty calls leave the state alone");
        }
        TestMaps.ProjectedMap huge = map(8, 2048);
        var tooBig = assertThrows(
                IllegalArgumentException.class, () -> kernel(library, shape, AttentionSpec.linear(huge, 8)));
        assertTrue(tooBig.getMessage().startsWith("2048 features need"), tooBig.getMessage());
        AttentionSpec encoder =
                new AttentionSpec(AttentionSpec.Method.LINEAR, map(8, 4), null, 0, 0, 64, 0.35, null, false);
        var nonCausal = assertThrows(IllegalArgumentException.class, () -> kernel(library, shape, encoder));
        assertTrue(nonCausal.getMessage().contains("causal"));
    }

    @Test
    void closingAKernelFreesItsDeviceMemory() {
        Path library = FakeCuda.library();
        AttentionShape shape = new AttentionShape(4, 2, 8);
        CudaKernelProvider provider = CudaKernelProvider.onLibrary(library.toString(), 0);
        long before = FakeCuda.liveAllocations(library);
        AttentionKernel k = provider.create(
                shape, AttentionSpec.linear(map(8, 12), 8), map(8, 12).parameters());
        AttentionState s = k.newState();
        k.forward(s, new float[3 * 32], new float[3 * 16], new float[3 * 16], new float[3 * 32], 3);
        long during = FakeCuda.liveAllocations(library);
        assertTrue(during > before);
        long stateBuffers = 7;
        k.close();
        assertEquals(before + stateBuffers, FakeCuda.liveAllocations(library));
        k.close(); // idempotent
        var closed = assertThrows(
                IllegalStateException.class,
                () -> k.forward(s, new float[32], new float[16], new float[16], new float[32], 1));
        assertEquals("this cuda attention kernel is closed", closed.getMessage());
    }

    @Test
    void launchesWithWrongArgumentTypesAreRefusedBeforeReachingTheDriver() {
        var e = assertThrows(
                IllegalArgumentException.class,
                () -> CudaKernelFunction.LOG_FEATURES.checkArguments(
                        new Object[] {0L, 1, 1, 1, 1, 1, 0L, 0L, 0, 1.0, 0L}));
        assertEquals("dj_log_features argument 9 must be a Float, got Double", e.getMessage());
        assertThrows(
                IllegalArgumentException.class, () -> CudaKernelFunction.MEMORY_STEP.checkArguments(new Object[3]));
    }
}
