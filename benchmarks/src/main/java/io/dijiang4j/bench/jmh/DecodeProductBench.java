package io.dijiang4j.bench.jmh;

import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.FloatBufferTensor;
import com.github.tjake.jlama.tensor.Q4ByteBufferTensor;
import io.dijiang4j.attention.tensorops.CpuMatrixProducts;
import io.dijiang4j.attention.tensorops.ProductThreads;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The decode products of one forward pass: every weight matrix of a synthetic shape's layers (Q, K, V, O, gate, up,
 * down; the logits' product when {@code vocab} is set) times {@code rows} activation rows (1: one session's decode; 8:
 * a batched pass of eight sessions), through {@link CpuMatrixProducts} as the router calls it for one chunk. On one
 * thread by default, so the number is the kernel's, not the hand-offs'; {@code threads=2} splits each product over
 * the product threads as decode does. The weights (small: 11.8 MB in Q4) stay in a large L3 between passes, as they
 * do in decode; enough layers (medium's 48: 354 MB) make every pass read them from memory. The vector width is the fork's ({@code -XX:MaxVectorSize=32}); append {@code -jvmArgsAppend
 * -XX:MaxVectorSize=64} for 512-bit vectors. Weights per second: {@code layers * (2 h^2 + 2 h kv + 3 h f) / time}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(
        value = 1,
        jvmArgsAppend = {
            "--add-modules",
            "jdk.incubator.vector",
            "--enable-native-access=ALL-UNNAMED",
            "-XX:MaxVectorSize=32",
            "-Djlama.force_panama_tensor_operations=true",
            "-Xmx4g"
        })
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 2)
public class DecodeProductBench {
    /** Weights: Q4 or F32. */
    @Param("Q4")
    String dtype;

    /** Activation rows (sessions of one pass). */
    @Param({"1", "8"})
    int rows;

    /** Hidden size, KV width, feed-forward size and layers: the synthetic small shape by default. */
    @Param("512")
    int hidden;

    @Param("256")
    int kvWidth;

    @Param("1408")
    int ffn;

    @Param("8")
    int layers;

    /** Rows of the output head (the logits' product) added after the layers; 0: none. */
    @Param("0")
    int vocab;

    /**
     * 1: the kernels alone on the benchmark's thread; 2 (or more): each product split over the process's product
     * threads as a decode pass runs it ({@link ProductThreads#forRows}), hand-offs included.
     */
    @Param("1")
    int threads;

    private final List<AbstractTensor> weights = new ArrayList<>();
    private final List<AbstractTensor> inputs = new ArrayList<>();
    private final List<AbstractTensor> results = new ArrayList<>();

    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom rnd = new SplittableRandom(3);
        int[][] shapes = {
            {hidden, hidden},
            {kvWidth, hidden},
            {kvWidth, hidden},
            {hidden, hidden},
            {ffn, hidden},
            {ffn, hidden},
            {hidden, ffn}
        };
        for (int l = 0; l < layers; l++) {
            for (int[] s : shapes) {
                FloatBufferTensor w = random(s[0], s[1], rnd);
                weights.add(DType.valueOf(dtype) == DType.Q4 ? new Q4ByteBufferTensor(w) : w);
                inputs.add(random(rows, s[1], rnd));
                results.add(new FloatBufferTensor(rows, s[0]));
            }
        }
        if (vocab > 0) {
            FloatBufferTensor w = random(vocab, hidden, rnd);
            weights.add(DType.valueOf(dtype) == DType.Q4 ? new Q4ByteBufferTensor(w) : w);
            inputs.add(random(rows, hidden, rnd));
            results.add(new FloatBufferTensor(rows, vocab));
        }
    }

    private static FloatBufferTensor random(int r, int c, SplittableRandom rnd) {
        FloatBufferTensor t = new FloatBufferTensor(r, c);
        for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) t.set((float) rnd.nextGaussian(), i, j);
        return t;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (List<AbstractTensor> l : List.of(weights, inputs, results)) {
            for (AbstractTensor t : l) t.close();
            l.clear();
        }
    }

    @Benchmark
    public AbstractTensor pass() {
        for (int i = 0; i < weights.size(); i++) {
            AbstractTensor w = weights.get(i), x = inputs.get(i), out = results.get(i);
            int columns = w.shape().last();
            ProductThreads.Rows body =
                    (start, length) -> CpuMatrixProducts.INSTANCE.product(out, x, w, 0, 0, columns, 0, start, length);
            if (threads > 1) ProductThreads.shared().forRows(0, w.shape().first(), body);
            else body.run(0, w.shape().first());
        }
        return results.get(results.size() - 1);
    }
}
