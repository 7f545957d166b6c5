package io.dijiang4j.bench;

import io.dijiang4j.attention.simd.VectorOps;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.function.IntToDoubleFunction;
import jdk.incubator.vector.FloatVector;

/**
 * The machine's limits, measured in the benchmark's own run so that every row can be read as a share of them: the
 * SGEMM ceiling ({@link VectorOps#gemm}, the register-blocked kernel the fast products use, on every core at once)
 * and the read bandwidth (every core streaming its part of an array far larger than the caches). Each is the best
 * of a few repeats, as a ceiling should be.
 *
 * @param sgemmGflops GFLOP/s of 256 x 256 x 256 single-precision products on all threads together
 * @param readGbPerSecond GB/s (1e9 bytes) of vectorized reads on all threads together
 * @param threads threads used (the available processors)
 */
public record MachineLimits(double sgemmGflops, double readGbPerSecond, int threads) {
    private static final int N = 256;
    /**
     * The read probe's array: 512 MiB, twice the largest L3 these machines have (260 MB; 192 MiB before, which such an
     * L3 partly held), or a quarter of the heap if that is less.
     */
    private static final int READ_FLOATS =
            (int) Math.min(128 << 20, Runtime.getRuntime().maxMemory() / 4 / Float.BYTES);

    /** Measures both limits (a few seconds). */
    public static MachineLimits measure() {
        int threads = Runtime.getRuntime().availableProcessors();
        // untimed first: the first products run in the interpreter and the Vector API's Java fallbacks (JFR showed
        // the ceiling measured that way at a third of the compiled kernel's)
        parallel(threads, t -> sgemm(1.0));
        double gflops = best(3, () -> parallel(threads, t -> sgemm(0.4)));
        float[] big = new float[READ_FLOATS];
        SplittableRandom rnd = new SplittableRandom(1);
        for (int i = 0; i < big.length; i += 1024) big[i] = (float) rnd.nextDouble();
        // compile the read loop first: timed in the interpreter, the Vector API runs lane by lane (JFR showed it)
        float[] small = new float[1 << 16];
        double warm = 0;
        for (int i = 0; i < 2000; i++) warm += read(small, 0, 1);
        if (warm == 42.4242) System.out.print("");
        double gbs = best(5, () -> {
            long t0 = System.nanoTime();
            double sink = parallel(threads, t -> read(big, t, threads));
            double s = (System.nanoTime() - t0) / 1e9;
            if (sink == 42.4242) System.out.print(""); // keeps the sums alive
            return big.length * 4.0 / s / 1e9;
        });
        return new MachineLimits(gflops, gbs, threads);
    }

    private interface Measure {
        double run();
    }

    private static double best(int repeats, Measure m) {
        double best = 0;
        for (int i = 0; i < repeats; i++) best = Math.max(best, m.run());
        return best;
    }

    /** Runs {@code work} on {@code threads} threads started together; the sum of their results. */
    private static double parallel(int threads, IntToDoubleFunction work) {
        double[] out = new double[threads];
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread th = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                out[id] = work.applyAsDouble(id);
            });
            th.start();
            ts.add(th);
        }
        start.countDown();
        for (Thread th : ts) {
            try {
                th.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        double sum = 0;
        for (double v : out) sum += v;
        return sum;
    }

    /** GFLOP/s of one thread running N^3 products for about {@code seconds}. */
    private static double sgemm(double seconds) {
        SplittableRandom rnd = new SplittableRandom(7);
        float[] a = new float[N * N], b = new float[N * N], c = new float[N * N];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextGaussian();
            b[i] = (float) rnd.nextGaussian();
        }
        VectorOps.gemm(a, 0, N, b, 0, N, c, 0, N, N, N, N); // warm
        long t0 = System.nanoTime(), end = t0 + (long) (seconds * 1e9);
        int runs = 0;
        while (System.nanoTime() < end) {
            VectorOps.gemm(a, 0, N, b, 0, N, c, 0, N, N, N, N);
            runs++;
        }
        double s = (System.nanoTime() - t0) / 1e9;
        return 2.0 * N * N * N * runs / s / 1e9;
    }

    private static double read(float[] big, int part, int parts) {
        int len = big.length / parts;
        int from = part * len, to = from + VectorOps.F.loopBound(len);
        // four independent sums: one sum is a chain of dependent adds, which at 256 bits held a core below what its
        // memory delivers (one 1 GiB read on this machine's 2 cores: 24.7-26.4 GB/s with two sums, 19.5-23.9 with one)
        int step = 4 * VectorOps.F.length(), whole = from + (to - from) / step * step;
        FloatVector a0 = FloatVector.zero(VectorOps.F), a1 = a0, a2 = a0, a3 = a0;
        for (int i = from; i < whole; i += step) {
            a0 = a0.add(FloatVector.fromArray(VectorOps.F, big, i));
            a1 = a1.add(FloatVector.fromArray(VectorOps.F, big, i + VectorOps.F.length()));
            a2 = a2.add(FloatVector.fromArray(VectorOps.F, big, i + 2 * VectorOps.F.length()));
            a3 = a3.add(FloatVector.fromArray(VectorOps.F, big, i + 3 * VectorOps.F.length()));
        }
        for (int i = whole; i < to; i += VectorOps.F.length()) a0 = a0.add(FloatVector.fromArray(VectorOps.F, big, i));
        return a0.add(a1).add(a2.add(a3)).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
}
