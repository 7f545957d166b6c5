package io.dijiang4j.attention.tensorops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.FloatBufferTensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class ProductThreadsTest {
    /** Three threads in all, more than some CI machines have cores: chunks must still cover every row once. */
    private static final ProductThreads THREADS = new ProductThreads(3);

    @Test
    void everyRowRunsExactlyOnce() {
        int[][] cases = {{0, 1}, {0, 7}, {5, 97}, {3, 1408}, {0, 4096}, {64, 999}, {2, 13}};
        for (int[] c : cases) {
            int offset = c[0], length = c[1];
            for (int repeat = 0; repeat < 50; repeat++) {
                AtomicIntegerArray seen = new AtomicIntegerArray(offset + length);
                THREADS.forRows(offset, length, (start, n) -> {
                    assertTrue(n > 0 && start >= offset && start + n <= offset + length);
                    for (int r = start; r < start + n; r++) seen.incrementAndGet(r);
                });
                for (int r = 0; r < offset + length; r++) {
                    assertEquals(r < offset ? 0 : 1, seen.get(r), "row " + r + " of " + offset + "+" + length);
                }
            }
        }
    }

    @Test
    void workersTakeChunks() {
        Set<Thread> ran = ConcurrentHashMap.newKeySet();
        for (int repeat = 0; repeat < 200 && ran.size() < 2; repeat++) {
            THREADS.forRows(0, 1200, (start, n) -> {
                ran.add(Thread.currentThread());
                long until = System.nanoTime() + 20_000;
                while (System.nanoTime() < until) Thread.onSpinWait();
            });
        }
        assertTrue(ran.size() >= 2, "a region ran on " + ran.size() + " thread(s)");
    }

    @Test
    void aFailingChunkIsThrownToTheCallerAndThePoolGoesOn() {
        IllegalStateException e = assertThrows(
                IllegalStateException.class,
                () -> THREADS.forRows(0, 100, (start, n) -> {
                    if (start + n > 90) throw new IllegalStateException("chunk at " + start);
                }));
        assertTrue(e.getMessage().startsWith("chunk at"));
        AtomicIntegerArray seen = new AtomicIntegerArray(100);
        THREADS.forRows(0, 100, (start, n) -> {
            for (int r = start; r < start + n; r++) seen.incrementAndGet(r);
        });
        for (int r = 0; r < 100; r++) assertEquals(1, seen.get(r));
    }

    @Test
    void nestedAndConcurrentRegionsRunOnTheirCallerAndCoverEveryRow() throws Exception {
        int callers = 4, length = 301;
        AtomicIntegerArray seen = new AtomicIntegerArray(callers * length * 3);
        List<Thread> threads = new ArrayList<>();
        List<Throwable> failures = new ArrayList<>();
        for (int t = 0; t < callers; t++) {
            int base = t * length * 3;
            Thread th = new Thread(() -> {
                for (int repeat = 0; repeat < 3; repeat++) {
                    int at = base + repeat * length;
                    // outer chunks over [0, length / 10), each running a nested region over its ten rows
                    THREADS.forRows(0, length / 10 + 1, (start, n) -> {
                        for (int i = start; i < start + n; i++) {
                            int lo = i * 10, hi = Math.min(length, lo + 10);
                            if (lo < hi) {
                                THREADS.forRows(lo, hi - lo, (s, m) -> {
                                    for (int r = s; r < s + m; r++) seen.incrementAndGet(at + r);
                                });
                            }
                        }
                    });
                }
            });
            th.setUncaughtExceptionHandler((x, e) -> {
                synchronized (failures) {
                    failures.add(e);
                }
            });
            threads.add(th);
            th.start();
        }
        for (Thread th : threads) th.join(60_000);
        assertEquals(List.of(), failures);
        for (int i = 0; i < seen.length(); i++) assertEquals(1, seen.get(i), "row " + i);
    }

    /** A product cut by the pool equals its float64 twin (odd rows, Q4 weights, decode passes of 1, 3 and 16 rows). */
    @Test
    void aProductCutIntoChunksMatchesItsFloat64Twin() {
        SplittableRandom rnd = new SplittableRandom(31);
        for (int[] shape : new int[][] {{1, 77, 96}, {3, 131, 64}, {16, 203, 160}}) {
            int m = shape[0], rows = shape[1], k = shape[2];
            AbstractTensor x = CpuMatrixProductsTest.tensor(DType.F32, m, k, rnd);
            AbstractTensor w = CpuMatrixProductsTest.tensor(DType.Q4, rows, k, rnd);
            try (FloatBufferTensor out = new FloatBufferTensor(m, rows)) {
                THREADS.forRows(
                        0, rows, (start, n) -> CpuMatrixProducts.INSTANCE.product(out, x, w, 0, 0, k, 0, start, n));
                double[][] want = NaiveMatrixProducts.product(x, w, 0, 0, k, 0, rows);
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < rows; j++) {
                        double tol = 1e-4 * Math.max(1, Math.abs(want[i][j]));
                        assertEquals(want[i][j], out.get(i, j), tol, "row " + i + " column " + j);
                    }
                }
            }
        }
    }

    /** A region allocates nothing on its caller (two slots reused in turn): a decode step runs dozens. */
    @Test
    void aRegionAllocatesNothing() {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        AtomicIntegerArray seen = new AtomicIntegerArray(64);
        ProductThreads.Rows body = (start, n) -> {
            for (int r = start; r < start + n; r++) seen.incrementAndGet(r);
        };
        long best = Long.MAX_VALUE;
        // until the JIT has compiled the path, measured in rounds
        for (int round = 0; round < 40 && best >= 1000; round++) {
            long before = threads.getCurrentThreadAllocatedBytes();
            for (int call = 0; call < 1000; call++) THREADS.forRows(0, 64, body);
            best = Math.min(best, threads.getCurrentThreadAllocatedBytes() - before);
        }
        assertTrue(best < 1000, "1000 regions allocated " + best + " bytes");
        for (int r = 0; r < 64; r++) assertTrue(seen.get(r) >= 1000, "row " + r + " ran " + seen.get(r) + " times");
    }

    @Test
    void oneThreadRunsEverythingOnTheCaller() {
        ProductThreads one = new ProductThreads(1);
        Thread caller = Thread.currentThread();
        AtomicIntegerArray seen = new AtomicIntegerArray(50);
        one.forRows(0, 50, (start, n) -> {
            assertSame(caller, Thread.currentThread());
            for (int r = start; r < start + n; r++) seen.incrementAndGet(r);
        });
        for (int r = 0; r < 50; r++) assertEquals(1, seen.get(r));
        assertThrows(IllegalArgumentException.class, () -> new ProductThreads(0));
    }

    @Test
    void independentItemsRunOnceEach() {
        for (int n : new int[] {0, 1, 2, 3, 7, 8, 13}) {
            java.util.concurrent.atomic.AtomicIntegerArray seen = new java.util.concurrent.atomic.AtomicIntegerArray(n);
            ProductThreads.forIndependent(n, (from, count) -> {
                for (int i = from; i < from + count; i++) seen.incrementAndGet(i);
            });
            for (int i = 0; i < n; i++)
                org.junit.jupiter.api.Assertions.assertEquals(1, seen.get(i), "n=" + n + " item " + i);
        }
    }
}
