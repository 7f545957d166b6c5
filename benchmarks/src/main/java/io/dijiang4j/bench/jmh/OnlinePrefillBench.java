package io.dijiang4j.bench.jmh;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.cpu.CpuKernelProvider;
import io.dijiang4j.attention.features.OnlineCentroidMap;
import java.util.Arrays;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * Prefill of one hybrid layer with the online centroid memory, SmolLM2-135M's attention shape (9 query heads, 3 KV
 * heads of 64) and the default plan of {@code budget: 128} (4 sinks + window 124, 64 clusters), N = 4096 tokens: in
 * blocks (one call, what prefill runs now) against token by token (N calls of one token: the recurrent steps prefill
 * ran before the blocks, without its row copies). Both fold the same tokens in the same order; the blocks batch the
 * exact part (one product per block and head) and run the KV heads in parallel.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:MaxVectorSize=32", "-Xmx2g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class OnlinePrefillBench {
    @Param("9")
    int heads;

    @Param("3")
    int kvHeads;

    @Param("64")
    int headDim;

    @Param("4096")
    int tokens;

    @Param("4")
    int sinks;

    @Param("124")
    int window;

    @Param("64")
    int clusters;

    AttentionKernel kernel;
    AttentionShape shape;
    float[] q;
    float[] k;
    float[] v;
    float[] out;
    float[][] qRows;
    float[][] kRows;
    float[][] vRows;
    float[] outRow;

    @Setup(Level.Trial)
    public void setup() {
        shape = new AttentionShape(heads, kvHeads, headDim);
        AttentionSpec spec = AttentionSpec.hybrid(new OnlineCentroidMap(headDim, clusters), headDim, sinks, window);
        kernel = new CpuKernelProvider().create(shape, spec);
        SplittableRandom random = new SplittableRandom(1);
        int qw = shape.queryWidth(), kw = shape.kvWidth();
        q = random(random, tokens * qw);
        k = random(random, tokens * kw);
        v = random(random, tokens * kw);
        out = new float[tokens * qw];
        qRows = new float[tokens][];
        kRows = new float[tokens][];
        vRows = new float[tokens][];
        for (int t = 0; t < tokens; t++) {
            qRows[t] = Arrays.copyOfRange(q, t * qw, (t + 1) * qw);
            kRows[t] = Arrays.copyOfRange(k, t * kw, (t + 1) * kw);
            vRows[t] = Arrays.copyOfRange(v, t * kw, (t + 1) * kw);
        }
        outRow = new float[qw];
    }

    private static float[] random(SplittableRandom random, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (random.nextDouble() * 2 - 1);
        return a;
    }

    /** All N tokens in one call, from an empty state: the blocks. */
    @Benchmark
    public float[] blocks() {
        AttentionState state = kernel.newState();
        kernel.forward(state, q, k, v, out, tokens);
        return out;
    }

    /** The same N tokens one call each, from an empty state: the recurrent form in turn. */
    @Benchmark
    public float[] tokenByToken() {
        AttentionState state = kernel.newState();
        for (int t = 0; t < tokens; t++) kernel.forward(state, qRows[t], kRows[t], vRows[t], outRow, 1);
        return outRow;
    }
}
