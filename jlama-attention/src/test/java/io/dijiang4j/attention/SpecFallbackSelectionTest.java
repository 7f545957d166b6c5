package io.dijiang4j.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.features.FeatureMaps;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/** A backend that does not implement what a spec asks for is replaced by the CPU for that spec, with one log line. */
class SpecFallbackSelectionTest {

    /** An available "cuda" that, like the real one, lacks the exact cache. */
    private record NoCacheProvider(String name) implements AttentionKernelProvider {
        @Override
        public boolean isAvailable() {
            return true;
        }

        @Override
        public Optional<String> unsupportedReason(AttentionSpec spec) {
            return spec.exactCache() > 0 ? Optional.of("no exact cache here") : Optional.empty();
        }

        @Override
        public AttentionKernel create(AttentionShape shape, AttentionSpec spec) {
            throw new UnsupportedOperationException("not needed by these tests");
        }
    }

    private static final NoCacheProvider CPU = new NoCacheProvider("cpu");
    private static final NoCacheProvider CUDA = new NoCacheProvider("cuda");

    @Test
    void aSpecTheBackendLacksGetsTheCpuAndOneInfoLine() {
        var discovery = new AttentionBackends.Discovery(List.of(CPU, CUDA), List.of());
        AttentionSpec plain = AttentionSpec.hybrid(FeatureMaps.create("wdcf", 8, 8, 1), 8, 1, 4);
        AttentionSpec cached = plain.withExactCache(2, ExactCachePolicy.HEAVY_HITTER);
        assertTrue(CUDA.supports(plain));
        assertTrue(!CUDA.supports(cached));
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
            assertSame(CUDA, AttentionBackends.select("cuda", plain, discovery));
            assertEquals(0, records.size());
            assertSame(CPU, AttentionBackends.select("cuda", cached, discovery));
            assertSame(CPU, AttentionBackends.select("auto", cached, discovery));
        } finally {
            logger.removeHandler(capture);
        }
        assertEquals(2, records.size(), "one line per selection that fell back");
        assertEquals(Level.INFO, records.get(0).getLevel());
        String line = java.text.MessageFormat.format(
                records.get(0).getMessage(), records.get(0).getParameters());
        assertTrue(line.contains("cuda: using cpu") && line.contains("no exact cache here"), line);
    }
}
