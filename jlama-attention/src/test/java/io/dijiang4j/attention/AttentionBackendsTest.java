package io.dijiang4j.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

class AttentionBackendsTest {

    /** A provider whose availability the test decides. */
    private record FakeProvider(String name, boolean available, String reason) implements AttentionKernelProvider {
        @Override
        public boolean isAvailable() {
            return available;
        }

        @Override
        public Optional<String> unavailableReason() {
            return Optional.ofNullable(reason);
        }

        /** Like the real cuda kernels, the fake "cuda" lacks the exact cache. */
        @Override
        public Optional<String> unsupportedReason(AttentionSpec spec) {
            return name.equals("cuda") && spec.exactCache() > 0 ? Optional.of("no exact cache here") : Optional.empty();
        }

        @Override
        public AttentionKernel create(AttentionShape shape, AttentionSpec spec) {
            throw new UnsupportedOperationException("not needed by these tests");
        }
    }

    private static final FakeProvider CPU = new FakeProvider("cpu", true, null);
    private static final FakeProvider CUDA_UP = new FakeProvider("cuda", true, null);
    private static final FakeProvider CUDA_DOWN =
            new FakeProvider("cuda", false, "cannot load the CUDA driver library libcuda.so.1");

    private static AttentionBackends.Discovery discovery(AttentionKernelProvider... providers) {
        return new AttentionBackends.Discovery(List.of(providers), List.of());
    }

    @Test
    void autoPrefersAnAvailableCudaProvider() {
        var selection = AttentionBackends.resolve("auto", discovery(CPU, CUDA_UP));
        assertSame(CUDA_UP, selection.provider());
        assertTrue(selection.fallbackReason().isEmpty());
    }

    @Test
    void autoFallsBackToCpuWithTheDriverReasonAndLogsOneInfoLine() {
        List<LogRecord> records = logRecords(() -> {
            AttentionKernelProvider chosen = AttentionBackends.select("AUTO", discovery(CPU, CUDA_DOWN));
            assertSame(CPU, chosen);
        });
        assertEquals(1, records.size(), "exactly one log line");
        assertEquals(Level.INFO, records.get(0).getLevel());
        String line = java.text.MessageFormat.format(
                records.get(0).getMessage(), records.get(0).getParameters());
        assertTrue(line.contains("using cpu") && line.contains("libcuda.so.1"), line);
    }

    /** The records {@link AttentionBackends} logs while {@code body} runs. */
    private static List<LogRecord> logRecords(Runnable body) {
        List<LogRecord> records = new ArrayList<>();
        Logger logger = Logger.getLogger(AttentionBackends.class.getName());
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord record) {
                records.add(record);
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        logger.addHandler(capture);
        try {
            body.run();
        } finally {
            logger.removeHandler(capture);
        }
        return records;
    }

    @Test
    void aSpecTheBackendLacksGetsTheCpuAndOneInfoLine() {
        var discovery = discovery(CPU, CUDA_UP);
        AttentionSpec plain =
                AttentionSpec.hybrid(io.dijiang4j.attention.features.FeatureMaps.create("wdcf", 8, 8, 1), 8, 1, 4);
        AttentionSpec cached = plain.withExactCache(2, ExactCachePolicy.HEAVY_HITTER);
        assertTrue(CUDA_UP.supports(plain));
        assertTrue(!CUDA_UP.supports(cached));
        assertTrue(logRecords(() -> assertSame(CUDA_UP, AttentionBackends.select("cuda", plain, discovery)))
                .isEmpty());
        List<LogRecord> records = logRecords(() -> {
            assertSame(CPU, AttentionBackends.select("cuda", cached, discovery));
            assertSame(CPU, AttentionBackends.select("auto", cached, discovery));
        });
        assertEquals(2, records.size(), "one line per selection that fell back");
        assertEquals(Level.INFO, records.get(0).getLevel());
        String line = java.text.MessageFormat.format(
                records.get(0).getMessage(), records.get(0).getParameters());
        assertTrue(line.contains("cuda: using cpu") && line.contains("no exact cache here"), line);
    }

    @Test
    void autoWithoutTheGpuModuleSaysSo() {
        var selection = AttentionBackends.resolve("auto", discovery(CPU));
        assertSame(CPU, selection.provider());
        assertTrue(selection.fallbackReason().orElseThrow().contains("gpu module"));
    }

    @Test
    void autoKeepsTheLoadErrorOfAProviderThatCouldNotBeLoaded() {
        var withFailure = new AttentionBackends.Discovery(
                List.of(CPU), List.of("UnsupportedClassVersionError: class file version 66.0"));
        var selection = AttentionBackends.resolve("auto", withFailure);
        assertSame(CPU, selection.provider());
        assertTrue(selection.fallbackReason().orElseThrow().contains("class file version 66.0"));
    }

    @Test
    void explicitCudaThatCannotRunIsAClearError() {
        var e = assertThrows(
                IllegalStateException.class, () -> AttentionBackends.resolve("cuda", discovery(CPU, CUDA_DOWN)));
        assertEquals(
                "attention backend cuda is not available here: cannot load the CUDA driver library libcuda.so.1",
                e.getMessage());
        var missing =
                assertThrows(IllegalStateException.class, () -> AttentionBackends.resolve("cuda", discovery(CPU)));
        assertTrue(missing.getMessage().contains("gpu module"), missing.getMessage());
    }

    @Test
    void explicitCpuAndCudaAreReturnedAsIs() {
        assertSame(
                CPU, AttentionBackends.resolve("cpu", discovery(CPU, CUDA_UP)).provider());
        assertSame(
                CUDA_UP,
                AttentionBackends.resolve(" Cuda ", discovery(CPU, CUDA_UP)).provider());
    }

    @Test
    void unknownOrEmptyNamesAreRejectedWithTheKnownNames() {
        var unknown = assertThrows(
                IllegalArgumentException.class, () -> AttentionBackends.resolve("tpu", discovery(CPU, CUDA_UP)));
        assertTrue(
                unknown.getMessage().contains("'tpu'") && unknown.getMessage().contains("auto, cpu, cuda"));
        assertThrows(IllegalArgumentException.class, () -> AttentionBackends.resolve(" ", discovery(CPU)));
    }

    @Test
    void providerWhoseAvailabilityCheckThrowsIsTreatedAsUnavailable() {
        AttentionKernelProvider throwing = new AttentionKernelProvider() {
            @Override
            public String name() {
                return "cuda";
            }

            @Override
            public boolean isAvailable() {
                throw new UnsatisfiedLinkError("no libcuda");
            }

            @Override
            public AttentionKernel create(AttentionShape shape, AttentionSpec spec) {
                throw new UnsupportedOperationException();
            }
        };
        var selection = AttentionBackends.resolve("auto", discovery(CPU, throwing));
        assertSame(CPU, selection.provider());
        assertTrue(selection.fallbackReason().orElseThrow().contains("no libcuda"));
    }

    @Test
    void aRegisteredProviderThatCannotBeLoadedIsSkippedWithItsError(
            @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        // What the gpu jar looks like to a JDK that cannot load its classes: a registration whose class fails.
        java.nio.file.Path services = dir.resolve("META-INF/services");
        java.nio.file.Files.createDirectories(services);
        java.nio.file.Files.writeString(
                services.resolve(AttentionKernelProvider.class.getName()), "io.dijiang4j.gpu.NoSuchCudaProvider\n");
        try (var loader = new java.net.URLClassLoader(
                new java.net.URL[] {dir.toUri().toURL()}, AttentionBackendsTest.class.getClassLoader())) {
            var discovery = AttentionBackends.discover(loader);
            assertEquals(
                    1, discovery.loadFailures().size(), discovery.loadFailures().toString());
            assertTrue(
                    discovery.loadFailures().get(0).contains("NoSuchCudaProvider"),
                    discovery.loadFailures().get(0));
            var withCpu = new AttentionBackends.Discovery(List.of(CPU), discovery.loadFailures());
            var selection = AttentionBackends.resolve("auto", withCpu);
            assertSame(CPU, selection.provider());
            assertTrue(selection.fallbackReason().orElseThrow().contains("NoSuchCudaProvider"));
        }
    }

    @Test
    void realServiceLookupWithoutTheGpuModuleRejectsCuda() {
        var e = assertThrows(IllegalStateException.class, () -> AttentionBackends.select("cuda"));
        assertTrue(e.getMessage().contains("gpu module"), e.getMessage());
    }
}
