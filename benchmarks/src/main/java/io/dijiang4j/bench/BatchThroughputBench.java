package io.dijiang4j.bench;

import io.dijiang4j.adapters.DiJiangRuntime;
import io.dijiang4j.adapters.Scheduling;
import io.dijiang4j.adapters.TextSink;
import io.dijiang4j.adapters.engine.InferenceSession;
import io.dijiang4j.adapters.engine.PluginEngine;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.Generator;
import io.dijiang4j.plugin.generation.Sampler;
import io.dijiang4j.plugin.profile.Profile;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Aggregate decode throughput of concurrent requests on one model: the runtime's continuous batching (every active
 * session advanced in one forward pass) against the serialized runtime it replaced (a fair lock, one whole request
 * at a time), measured side by side in one run. Each client sends one request (a prompt of random tokens, greedy
 * decoding of a fixed number of tokens, no end token); the figure is generated tokens of all clients per second of
 * wall-clock time, prompts included.
 */
public final class BatchThroughputBench {
    private BatchThroughputBench() {}

    /** What is measured and how often. */
    public record Options(List<Integer> clients, int promptTokens, int newTokens, int repeats, long seed) {}

    /**
     * One model, mode and client count.
     *
     * @param serialized aggregate tokens/s of the serialized runtime, one value per repeat
     * @param batched aggregate tokens/s of the batching runtime, one value per repeat
     * @param serializedCpu tokens per CPU-second of the whole process (every thread), serialized runtime
     * @param batchedCpu tokens per CPU-second of the whole process, batching runtime
     * @param meanBatch session rows per forward pass of the batching runtime
     * @param passShare share of the batching runtime's wall time spent in forward passes (the rest: sampling,
     *     streaming and hand-offs between passes)
     * @param stateBytes one session's attention state at the two depths of {@code stateDepths}
     */
    public record Row(
            String model,
            String mode,
            int clients,
            double[] serialized,
            double[] batched,
            double[] serializedCpu,
            double[] batchedCpu,
            double meanBatch,
            double passShare,
            int[] stateDepths,
            long[] stateBytes) {
        public double serializedMedian() {
            return median(serialized);
        }

        public double batchedMedian() {
            return median(batched);
        }

        public double speedup() {
            return batchedMedian() / serializedMedian();
        }

        /** Work saved: tokens per CPU-second batched over serialized (medians; less sensitive to a busy machine). */
        public double cpuSpeedup() {
            return median(batchedCpu) / median(serializedCpu);
        }
    }

    static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    /** Measures every client count of {@code options} on the model and mode of {@code profile}. */
    public static List<Row> run(String modelName, Profile profile, Options options, PrintStream progress)
            throws InterruptedException {
        int most = options.clients().stream().mapToInt(Integer::intValue).max().orElseThrow();
        Scheduling scheduling = Scheduling.DEFAULT.withMaxActive(most);
        try (DiJiangRuntime runtime = new DiJiangRuntime(new PluginEngine(DiJiang.load(profile)), 0, scheduling)) {
            PluginEngine engine = (PluginEngine) runtime.engine();
            DiJiangModel model = engine.model();
            int[][] prompts = prompts(model, most, options);
            GenerationOptions greedy =
                    GenerationOptions.greedy(options.newTokens()).withStopAtEndToken(false);
            String mode = profile.mode().key();
            progress.printf(Locale.ROOT, "bench-batch: %s %s: warm-up%n", modelName, mode);
            serialized(engine, prompts, most, greedy);
            batched(runtime, prompts, most, greedy);
            int[] depths = {
                options.promptTokens(),
                Math.min(8 * options.promptTokens(), (int) Math.min(Integer.MAX_VALUE, model.maxPositions() - 1))
            };
            long[] state = stateBytes(model, depths, options.seed());
            List<double[]> serial = new ArrayList<>();
            List<double[]> batch = new ArrayList<>();
            List<double[]> serialCpu = new ArrayList<>();
            List<double[]> batchCpu = new ArrayList<>();
            long[] rows = new long[options.clients().size()];
            long[] passes = new long[options.clients().size()];
            long[] passNanos = new long[options.clients().size()];
            double[] batchedSeconds = new double[options.clients().size()];
            for (int n = 0; n < options.clients().size(); n++) {
                serial.add(new double[options.repeats()]);
                batch.add(new double[options.repeats()]);
                serialCpu.add(new double[options.repeats()]);
                batchCpu.add(new double[options.repeats()]);
            }
            // repeats interleave the two runtimes and the client counts, so that drifts of the machine hit all alike
            for (int r = 0; r < options.repeats(); r++) {
                for (int n = 0; n < options.clients().size(); n++) {
                    int clients = options.clients().get(n);
                    double tokens = clients * (double) options.newTokens();
                    Timing s = serialized(engine, prompts, clients, greedy);
                    long[] before = runtime.passCounters();
                    Timing b = batched(runtime, prompts, clients, greedy);
                    long[] after = runtime.passCounters();
                    serial.get(n)[r] = tokens / s.wallSeconds();
                    batch.get(n)[r] = tokens / b.wallSeconds();
                    serialCpu.get(n)[r] = tokens / s.cpuSeconds();
                    batchCpu.get(n)[r] = tokens / b.cpuSeconds();
                    passes[n] += after[0] - before[0];
                    passNanos[n] += after[2] - before[2];
                    batchedSeconds[n] += b.wallSeconds();
                    rows[n] += after[1] - before[1];
                    progress.printf(
                            Locale.ROOT,
                            "bench-batch: %s %s repeat %d/%d, %2d clients: serialized %8.1f tok/s, batched %8.1f"
                                    + " tok/s%n",
                            modelName,
                            mode,
                            r + 1,
                            options.repeats(),
                            clients,
                            serial.get(n)[r],
                            batch.get(n)[r]);
                }
            }
            List<Row> out = new ArrayList<>();
            for (int n = 0; n < options.clients().size(); n++) {
                out.add(new Row(
                        modelName,
                        mode,
                        options.clients().get(n),
                        serial.get(n),
                        batch.get(n),
                        serialCpu.get(n),
                        batchCpu.get(n),
                        passes[n] == 0 ? Double.NaN : rows[n] / (double) passes[n],
                        passNanos[n] / 1e9 / batchedSeconds[n],
                        depths,
                        state));
            }
            return out;
        }
    }

    /** A distinct prompt of random tokens per client (BOS first), the same in every repeat. */
    private static int[][] prompts(DiJiangModel model, int clients, Options options) {
        SplittableRandom random = new SplittableRandom(options.seed());
        int vocabulary = model.vocabularySize();
        int[][] prompts = new int[clients][];
        for (int c = 0; c < clients; c++) {
            prompts[c] = model.tokens()
                    .withBos(random.ints(options.promptTokens() - 1, 3, vocabulary)
                            .toArray());
        }
        return prompts;
    }

    /** Wall-clock seconds of a run, and CPU seconds of the whole process (all threads) during it. */
    record Timing(double wallSeconds, double cpuSeconds) {}

    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    /** Runs {@code work(i)} on {@code n} threads released together, until all end. */
    private static Timing together(int n, java.util.function.IntConsumer work) throws InterruptedException {
        CountDownLatch go = new CountDownLatch(1);
        Thread[] threads = new Thread[n];
        RuntimeException[] failure = new RuntimeException[1];
        for (int i = 0; i < n; i++) {
            int client = i;
            threads[i] = Thread.ofPlatform().start(() -> {
                try {
                    go.await();
                    work.accept(client);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (RuntimeException e) {
                    synchronized (failure) {
                        failure[0] = e;
                    }
                }
            });
        }
        long cpu = OS.getProcessCpuTime();
        long start = System.nanoTime();
        go.countDown();
        for (Thread t : threads) t.join();
        double seconds = (System.nanoTime() - start) / 1e9;
        double cpuSeconds = (OS.getProcessCpuTime() - cpu) / 1e9;
        if (failure[0] != null) throw failure[0];
        return new Timing(seconds, cpuSeconds);
    }

    /**
     * The serialized runtime as it was before batching: a fair lock, and under it one whole request (session,
     * prefill, the decode loop), so concurrent requests run one after another in arrival order.
     */
    static Timing serialized(PluginEngine engine, int[][] prompts, int clients, GenerationOptions options)
            throws InterruptedException {
        ReentrantLock lock = new ReentrantLock(true);
        return together(clients, c -> {
            lock.lock();
            try (InferenceSession session = engine.openSession()) {
                float[] logits = session.prefill(prompts[c]);
                Generator.decode(
                        session,
                        engine,
                        logits,
                        options,
                        new Sampler(options, 0),
                        Generator.LastToken.NOT_FED,
                        t -> {});
            } finally {
                lock.unlock();
            }
        });
    }

    /** The batching runtime: every client's request submitted at once. */
    static Timing batched(DiJiangRuntime runtime, int[][] prompts, int clients, GenerationOptions options)
            throws InterruptedException {
        return together(clients, c -> runtime.generate(prompts[c], options, TextSink.NONE));
    }

    /** One session's attention state bytes after {@code depths[i]} tokens. */
    private static long[] stateBytes(DiJiangModel model, int[] depths, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        long[] bytes = new long[depths.length];
        try (Session session = model.newSession()) {
            for (int i = 0; i < depths.length; i++) {
                int more = depths[i] - (int) session.position();
                if (more > 0)
                    session.append(random.ints(more, 3, model.vocabularySize()).toArray());
                bytes[i] = session.stateBytes();
            }
        }
        return bytes;
    }
}
