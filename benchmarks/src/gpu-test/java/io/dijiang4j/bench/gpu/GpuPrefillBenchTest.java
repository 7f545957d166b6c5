package io.dijiang4j.bench.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.gpu.FakeCudaAccess;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;

/** The benchmark's plumbing and arithmetic; its timings only mean something on a real GPU. */
class GpuPrefillBenchTest {

    @Test
    void costOfTheIssueSizesMatchesTheClosedForm() {
        var o = GpuPrefillBench.parse(new String[0]);
        assertEquals(32, o.heads());
        assertEquals(32768, o.length());
        GpuPrefillBench.Cost c = GpuPrefillBench.cost(o);
        double n = 32768, h = 32, d = 128, m = 128;
        double expected = 2 * n * d * m * 2 * h + 4 * n * m * d * h + n * 16.5 * (m + d) * 2 * h;
        assertEquals(expected, c.flops(), expected * 1e-12);
        assertEquals(n * 4 * h * d * 4 + 2 * n * 2 * h * m * 4, c.bytes(), 1.0);
    }

    @Test
    void badArgumentsAreOneLineErrors() {
        var e = assertThrows(IllegalArgumentException.class, () -> GpuPrefillBench.parse(new String[] {"--heads"}));
        assertEquals("--heads needs a value", e.getMessage());
        var n = assertThrows(
                IllegalArgumentException.class, () -> GpuPrefillBench.parse(new String[] {"--length", "lots"}));
        assertEquals("--length needs a number, got 'lots'", n.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> GpuPrefillBench.parse(new String[] {"--heads", "6", "--kv-heads", "4"}));
    }

    @Test
    void withoutADriverItExitsWithTheReason() {
        var o = GpuPrefillBench.parse(new String[] {"--library", "libdijiang_no_such_cuda.so.1", "--length", "64"});
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true));
        try {
            assertEquals(2, GpuPrefillBench.run(o));
        } finally {
            System.setErr(err);
        }
        assertTrue(captured.toString().contains("libdijiang_no_such_cuda.so.1"), captured.toString());
    }

    @Test
    void runsEndToEndOnTheEmulatedDriver() {
        String lib = FakeCudaAccess.emulator(); // kernels really run (on the CPU), so the finiteness check sees data
        var o = GpuPrefillBench.parse(new String[] {
            "--library",
            lib,
            "--heads",
            "4",
            "--kv-heads",
            "2",
            "--dim",
            "16",
            "--features",
            "8",
            "--length",
            "70",
            "--repeats",
            "2",
            "--decay",
            "0.9"
        });
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true));
        try {
            assertEquals(0, GpuPrefillBench.run(o));
        } finally {
            System.setOut(stdout);
        }
        String report = captured.toString();
        assertTrue(report.contains("d2d bandwidth") && report.contains("floor") && report.contains("Fake GPU"), report);
    }
}
