package io.dijiang4j.bench;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.ModelSupport;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.safetensors.SafeTensorSupport;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.FloatBufferTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;
import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.jlama.JlamaInternals;
import io.dijiang4j.attention.jlama.KernelizedAttention;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.generation.Sampler;
import io.dijiang4j.plugin.io.AtomicFiles;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.plugin.profile.TensorOps;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * The long-context benchmark: decode speed, prefill time and memory of vanilla Jlama (mode softmax) and the plugin's
 * modes at several context depths, on one loaded Jlama model.
 *
 * <p>For every (context, mode) pair, in context order with the modes interleaved (the mode order rotates from one
 * context to the next, so machine drift hits every mode alike), the mode is installed into the shared Jlama model
 * and a fresh plugin {@link Session} is opened. The session reaches depth {@code context} in one of two ways, the
 * same for every mode:
 *
 * <ul>
 *   <li><b>prefill</b> (context &lt;= the prefill limit): {@code context} random byte tokens go through the whole
 *       model with {@link Session#append}; the wall time is the prefill time.
 *   <li><b>synthetic</b> (deeper contexts): the attention memory is filled with random values instead, since decode
 *       cost does not depend on them. Softmax: every layer's K and V rows of positions 0..context-1 in the session's
 *       Jlama {@code KvBuffer} are written with N(0,1) values. Kernelized (dijiang, hybrid): random N(0,1) q/k/v
 *       rows of {@code context} positions are pushed through the first kernelized layer's kernel (its own chunked
 *       prefill, no projections or MLP), and the resulting state (position {@code context}, hybrid ring and sinks
 *       included) is restored into every kernelized layer. Then the session's position is set to {@code context}.
 * </ul>
 *
 * <p>Then {@code warmup} tokens are decoded untimed and {@code decodeTokens} tokens timed one by one (greedy: each
 * next token is the argmax of the previous logits), through {@link Session#append}: the plugin's decode loop
 * ({@link io.dijiang4j.plugin.generation.Generator}) minus sampling, each step timed. Decode speed is 1 / the median time per token. Memory is read after the decode, with the session
 * still open: heap used after a full GC, plus the JVM's direct buffer pool (less the tensors parked in Jlama's
 * TensorCache pool, which earlier runs leave behind), plus the mapped buffer pool (model weights, KV page files).
 */
public final class LongContextBench {

    /** Benchmark settings. */
    public record Options(
            List<Integer> contexts,
            List<Mode> modes,
            int decodeTokens,
            int warmupTokens,
            int warmupPrefill,
            int prefillLimit,
            long seed,
            Profile baseProfile,
            List<TensorOps> tensorOps,
            MachineLimits limits) {
        public Options {
            if (contexts.isEmpty()) throw new IllegalArgumentException("no contexts given");
            if (tensorOps.isEmpty()) throw new IllegalArgumentException("no tensor ops given");
            tensorOps = List.copyOf(tensorOps);
            if (modes.isEmpty()) throw new IllegalArgumentException("no modes given");
            for (int c : contexts) if (c < 1) throw new IllegalArgumentException("contexts must be >= 1: " + c);
            if (decodeTokens < 1) throw new IllegalArgumentException("decode tokens must be >= 1");
            if (warmupTokens < 0) throw new IllegalArgumentException("warmup tokens must be >= 0");
            if (warmupPrefill < 0) throw new IllegalArgumentException("warmup prefill must be >= 0");
            contexts = List.copyOf(contexts);
            modes = List.copyOf(modes);
        }
    }

    private static final int SYNTHETIC_CHUNK = 1024;

    private LongContextBench() {}

    /** Loads the model in {@code dir} the way the plugin does and runs every (context, mode) pair. */
    public static List<BenchResult> run(Path dir, Options o, PrintStream progress) throws IOException {
        Path work = Files.createTempDirectory("dijiang4j-bench-");
        AbstractModel jlama = ModelSupport.loadModel(
                AbstractModel.InferenceType.FULL_GENERATION,
                dir.toFile(),
                work.toFile(),
                DType.F32,
                DType.I8,
                Optional.empty(),
                Optional.empty(),
                Optional.empty(),
                SafeTensorSupport::loadWeights);
        try {
            int limit = jlama.getConfig().contextLength;
            WeightStats weights = WeightStats.of(jlama);
            double floor = o.limits().readGbPerSecond() * 1e9 / weights.bytes();
            progress.printf(
                    Locale.ROOT,
                    "bench: weights %.1f M parameters, %.1f MB read per token: floor %.1f tok/s at %.1f GB/s;"
                            + " SGEMM ceiling %.1f GFLOP/s (%d threads)%n",
                    weights.parameters() / 1e6,
                    weights.bytes() / 1e6,
                    floor,
                    o.limits().readGbPerSecond(),
                    o.limits().sgemmGflops(),
                    o.limits().threads());
            List<BenchResult> results = new ArrayList<>();
            List<Run> runs = new ArrayList<>();
            for (Mode mode : o.modes()) for (TensorOps ops : o.tensorOps()) runs.add(new Run(mode, ops));
            for (Run run : runs) warmUp(jlama, o, run, progress);
            int round = 0;
            for (int context : o.contexts()) {
                List<Run> order = rotated(runs, round++);
                for (Run run : order) {
                    Mode mode = run.mode();
                    progress.printf(
                            Locale.ROOT,
                            "bench: %s (%s) at context %d ...%n",
                            mode.key(),
                            run.ops().key(),
                            context);
                    BenchResult r;
                    if (mode == Mode.SOFTMAX && context + o.warmupTokens() + o.decodeTokens() > limit) {
                        r = missing(
                                run,
                                context,
                                floor,
                                "vanilla Jlama's KV cache ends at the model's context length " + limit);
                    } else {
                        try {
                            r = runOne(jlama, o, run, context, weights, floor, progress);
                        } catch (OutOfMemoryError | RuntimeException e) {
                            r = missing(run, context, floor, e.getClass().getSimpleName() + ": " + e.getMessage());
                        }
                    }
                    progress.printf(
                            Locale.ROOT,
                            "bench: %s (%s) at %d: decode %.2f tok/s, prefill %s, memory %.1f MiB%s%n",
                            mode.key(),
                            run.ops().key(),
                            context,
                            r.decodeTokensPerSecond(),
                            Double.isNaN(r.prefillSeconds())
                                    ? "-"
                                    : String.format(Locale.ROOT, "%.2f s", r.prefillSeconds()),
                            r.memoryBytes() / 1048576.0,
                            r.note().isEmpty() ? "" : " (" + r.note() + ")");
                    results.add(r);
                }
            }
            return sorted(results, o);
        } finally {
            jlama.close();
            AtomicFiles.deleteTree(work);
        }
    }

    /** One mode under one backend of matrix products. */
    private record Run(Mode mode, TensorOps ops) {}

    /**
     * The weight matrices of the model's products: parameters (for the prefill's GFLOP/s) and the bytes a decode step
     * reads (Q4: half a byte per value and a float scale per 32; I8: a byte and a scale per 32; BF16: 2; F32: 4).
     */
    record WeightStats(long parameters, long bytes) {
        static WeightStats of(AbstractModel jlama) {
            long params = 0, bytes = 0;
            for (AbstractTensor w : JlamaInternals.matmulWeights(jlama)) {
                long n = w.shape().first() * (long) w.shape().last();
                params += n;
                bytes += switch (w.dType()) {
                    case Q4 -> n / 2 + n / 32 * 4;
                    case I8 -> n + n / 32 * 4;
                    case BF16, F16 -> 2 * n;
                    default -> 4 * n;
                };
            }
            return new WeightStats(params, bytes);
        }
    }

    private static BenchResult missing(Run run, int context, double floor, String why) {
        return new BenchResult(
                run.mode().key(),
                run.ops().key(),
                context,
                "-",
                Double.NaN,
                Double.NaN,
                Double.NaN,
                0,
                0,
                0,
                0,
                0,
                Double.NaN,
                Double.NaN,
                floor,
                why);
    }

    private static <T> List<T> rotated(List<T> modes, int by) {
        List<T> r = new ArrayList<>(modes.size());
        for (int i = 0; i < modes.size(); i++) r.add(modes.get((i + by) % modes.size()));
        return r;
    }

    private static List<BenchResult> sorted(List<BenchResult> results, Options o) {
        List<BenchResult> r = new ArrayList<>(results);
        r.sort((a, b) -> a.context() != b.context()
                ? Integer.compare(a.context(), b.context())
                : a.mode().equals(b.mode())
                        ? Integer.compare(
                                o.tensorOps().indexOf(TensorOps.parse(a.tensorOps())),
                                o.tensorOps().indexOf(TensorOps.parse(b.tensorOps())))
                        : Integer.compare(
                                o.modes().indexOf(Mode.parse(a.mode())),
                                o.modes().indexOf(Mode.parse(b.mode()))));
        return r;
    }

    private static BenchResult runOne(
            AbstractModel jlama,
            Options o,
            Run run,
            int context,
            WeightStats weights,
            double floor,
            PrintStream progress) {
        Mode mode = run.mode();
        SplittableRandom rnd = new SplittableRandom(o.seed() ^ context);
        int vocab = jlama.getConfig().vocabularySize;
        Profile profile = o.baseProfile().withMode(mode).withTensorOps(run.ops());
        try (DiJiangModel model = DiJiang.install(jlama, profile);
                Session session = model.newSession()) {
            double prefillSeconds = Double.NaN, ttft = Double.NaN, gflops = Double.NaN;
            String fill;
            int firstToken = -1;
            if (context <= o.prefillLimit()) {
                int[] tokens = randomTokens(rnd, context, vocab);
                long t0 = System.nanoTime();
                float[] last = session.append(tokens);
                prefillSeconds = (System.nanoTime() - t0) / 1e9;
                firstToken = Sampler.argmax(last);
                ttft = (System.nanoTime() - t0) / 1e9;
                gflops = 2.0 * weights.parameters() * context / prefillSeconds / 1e9;
                fill = "prefill";
                progress.printf(
                        Locale.ROOT,
                        "bench:   prefill of %d tokens: %.2f s, %.1f GFLOP/s of weight products (%.0f%% of SGEMM)%n",
                        context,
                        prefillSeconds,
                        gflops,
                        100 * gflops / o.limits().sgemmGflops());
            } else {
                long t0 = System.nanoTime();
                session.writeSyntheticState(context, kv -> fillSynthetic(model, kv, context, rnd));
                fill = "synthetic";
                progress.printf(
                        Locale.ROOT,
                        "bench:   synthetic fill to depth %d: %.2f s%n",
                        context,
                        (System.nanoTime() - t0) / 1e9);
            }
            int token = firstToken >= 0 ? firstToken : 3 + rnd.nextInt(256);
            double[] times = new double[o.decodeTokens()];
            for (int i = 0; i < o.warmupTokens() + o.decodeTokens(); i++) {
                long t0 = System.nanoTime();
                float[] logits = session.append(token);
                token = Sampler.argmax(logits);
                long dt = System.nanoTime() - t0;
                if (i >= o.warmupTokens()) times[i - o.warmupTokens()] = dt / 1e9;
            }
            double median = median(times);
            long[] mem = memory();
            return new BenchResult(
                    mode.key(),
                    run.ops().key(),
                    context,
                    fill,
                    1 / median,
                    median * 1e3,
                    prefillSeconds,
                    mem[0] + mem[1] + mem[2],
                    mem[0],
                    mem[1],
                    mem[2],
                    session.stateBytes(),
                    ttft,
                    gflops,
                    floor,
                    "");
        }
    }

    /**
     * Runs each mode under each backend once, untimed, before any timing: a prefill of {@code warmupPrefill} tokens
     * and a few decode steps, so that the JIT has compiled the kernels of that pair. Without it the first timed run
     * measured the Vector API's Java fallbacks (JFR: a fifth of the samples).
     */
    private static void warmUp(AbstractModel jlama, Options o, Run run, PrintStream progress) {
        int tokens = Math.min(o.warmupPrefill(), jlama.getConfig().contextLength - 8);
        if (tokens < 1) return;
        long t0 = System.nanoTime();
        Profile profile = o.baseProfile().withMode(run.mode()).withTensorOps(run.ops());
        try (DiJiangModel model = DiJiang.install(jlama, profile);
                Session session = model.newSession()) {
            int token = Sampler.argmax(session.append(
                    randomTokens(new SplittableRandom(o.seed()), tokens, jlama.getConfig().vocabularySize)));
            for (int i = 0; i < 4; i++) token = Sampler.argmax(session.append(token));
        }
        progress.printf(
                Locale.ROOT,
                "bench: warm-up of %s (%s): %d tokens of prefill and 4 of decode, %.1f s (untimed)%n",
                run.mode().key(),
                run.ops().key(),
                tokens,
                (System.nanoTime() - t0) / 1e9);
    }

    static int[] randomTokens(SplittableRandom rnd, int n, int vocab) {
        int[] t = new int[n];
        t[0] = 1; // BOS
        for (int i = 1; i < n; i++) t[i] = 3 + rnd.nextInt(Math.min(256, vocab - 3));
        return t;
    }

    static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** Heap used after GC, direct pool, mapped pool (bytes). */
    static long[] memory() {
        for (int i = 0; i < 3; i++) {
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        long direct = 0, mapped = 0;
        for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (pool.getName().equals("direct")) direct = pool.getMemoryUsed();
            else if (pool.getName().equals("mapped")) mapped = pool.getMemoryUsed();
        }
        // Jlama's TensorCache keeps released tensors (KV pages of earlier runs among them) for reuse; they are not
        // held by the current session, so they are not counted.
        return new long[] {heap, Math.max(0, direct - JlamaInternals.idleTensorCacheBytes()), mapped};
    }

    // ---- synthetic depth -------------------------------------------------------------------------------------

    private static void fillSynthetic(DiJiangModel model, KvBufferCache.KvBuffer kv, int depth, SplittableRandom rnd) {
        var c = model.config();
        List<KernelizedAttention> kernelized = model.installation().kernelizedLayers();
        if (kernelized.size() < c.numberOfLayers) fillSoftmaxRows(model, kv, depth, rnd);
        if (!kernelized.isEmpty()) {
            AttentionKernel first = kernelized.get(0).kernel();
            AttentionState state = first.newState();
            var shape = first.shape();
            int qWidth = shape.numHeads() * shape.headDim();
            int kvWidth = shape.numKvHeads() * shape.headDim();
            for (int done = 0; done < depth; ) {
                int n = Math.min(SYNTHETIC_CHUNK, depth - done);
                float[] q = gaussian(rnd, n * qWidth);
                float[] k = gaussian(rnd, n * kvWidth);
                float[] v = gaussian(rnd, n * kvWidth);
                first.forward(state, q, k, v, new float[n * qWidth], n);
                done += n;
            }
            byte[] bytes = state.toBytes();
            for (KernelizedAttention layer : kernelized)
                layer.putState(kv, layer.kernel().restore(bytes));
        }
    }

    private static void fillSoftmaxRows(
            DiJiangModel model, KvBufferCache.KvBuffer kv, int depth, SplittableRandom rnd) {
        var c = model.config();
        // a pool of random rows, cycled: the values do not change the cost of attending to them
        FloatBufferTensor[] pool = new FloatBufferTensor[61];
        for (int i = 0; i < pool.length; i++) {
            pool[i] = new FloatBufferTensor(1, c.kvLength);
            float[] g = gaussian(rnd, c.kvLength);
            for (int j = 0; j < g.length; j++) pool[i].set(g[j], 0, j);
        }
        int r = 0;
        for (int layer = 0; layer < c.numberOfLayers; layer++) {
            if (model.installation().kernelizedLayer(layer).isPresent()) continue;
            for (int p = 0; p < depth; p++) {
                AbstractTensor key = kv.getKeyTensorForPosition(layer, p);
                AbstractTensor val = kv.getValTensorForPosition(layer, p);
                key.copyFrom(pool[r++ % pool.length], 0, 0, c.kvLength);
                val.copyFrom(pool[r++ % pool.length], 0, 0, c.kvLength);
            }
        }
        for (FloatBufferTensor t : pool) t.close();
    }

    private static float[] gaussian(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }
}
