package io.dijiang4j.bench.jmh;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.cpu.CpuKernelProvider;
import io.dijiang4j.attention.features.FeatureMaps;
import io.dijiang4j.attention.simd.VectorOps;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
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
 * CPU kernel throughput: chunked prefill and recurrent decode of kernelized (linear) attention, d = 64, m = 64, 16
 * heads, N = 4096, next to a float32 SGEMM of the same inner shapes run in the same JVM (the machine's ceiling for
 * these kernels: the register-blocked Vector API product the kernels themselves use).
 *
 * <p>FLOP counts (multiply and add counted separately, exp not counted), per head, d = head size, m = features, B
 * = block size, N = tokens:
 *
 * <ul>
 *   <li>prefill: {@code N (8 m d + (m + d)(B + 1))}: query and key features {@code 2 N m d} each, inter-block
 *       product {@code Q S} and state update {@code K^T V} {@code 2 N m d} each, intra-block causal products
 *       {@code Q K^T} and {@code A V} over the {@code B (B + 1) / 2} visible pairs of each block, {@code 2 m} and
 *       {@code 2 d} per pair;
 *   <li>decode (one token): {@code 8 m d}: key and query features, state update and query product;
 *   <li>sgemm: {@code 2 N d d}, C[N x d] += A[N x d] B[d x d], for each of the 16 heads.
 * </ul>
 *
 * Divide the count by the measured time: with the defaults, prefill is {@code 16 * 4096 * (8*64*64 + 128*(B+1))}
 * FLOP, decode {@code 16 * 8 * 64 * 64 = 524288} FLOP, sgemm {@code 16 * 2 * 4096 * 64 * 64 = 536870912} FLOP.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:MaxVectorSize=32", "-Xmx4g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 3, time = 2)
public class KernelBench {
    @Param("16")
    int heads;

    @Param("64")
    int headDim;

    @Param("64")
    int features;

    @Param("4096")
    int tokens;

    @Param("64")
    int blockSize;

    @Param("wdcf")
    String map;

    /** linear (the measured kernel) or hybrid (4 sinks + a 256-token exact window + memory; time only). */
    @Param("linear")
    String method;

    AttentionKernel kernel;
    float[] q;
    float[] k;
    float[] v;
    float[] out;
    AttentionState decodeState;
    float[] q1;
    float[] k1;
    float[] v1;
    float[] out1;
    float[] gemmA;
    float[] gemmB;
    float[] gemmC;

    @Setup(Level.Trial)
    public void setup() {
        AttentionShape shape = new AttentionShape(heads, heads, headDim);
        var featureMap = FeatureMaps.create(map, headDim, features, 42);
        AttentionSpec spec = method.equals("hybrid")
                ? AttentionSpec.hybrid(featureMap, headDim, 4, 256)
                : AttentionSpec.linear(featureMap, headDim);
        spec = spec.withBlockSize(blockSize);
        kernel = new CpuKernelProvider().create(shape, spec);
        SplittableRandom random = new SplittableRandom(1);
        q = random(random, tokens * shape.queryWidth());
        k = random(random, tokens * shape.kvWidth());
        v = random(random, tokens * shape.kvWidth());
        out = new float[tokens * shape.queryWidth()];
        decodeState = kernel.newState();
        kernel.forward(decodeState, q, k, v, out, tokens);
        q1 = Arrays.copyOf(q, shape.queryWidth());
        k1 = Arrays.copyOf(k, shape.kvWidth());
        v1 = Arrays.copyOf(v, shape.kvWidth());
        out1 = new float[shape.queryWidth()];
        gemmA = random(random, heads * tokens * headDim);
        gemmB = random(random, heads * headDim * headDim);
        gemmC = new float[heads * tokens * headDim];
    }

    private static float[] random(SplittableRandom random, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (random.nextDouble() * 2 - 1);
        return a;
    }

    /** Chunked (Lightning) prefill of all tokens from an empty state. */
    @Benchmark
    public float[] chunkedPrefill() {
        AttentionState state = kernel.newState();
        kernel.forward(state, q, k, v, out, tokens);
        return out;
    }

    /** One recurrent decode token after a prefill of N tokens (the state size does not depend on N). */
    @Benchmark
    public float[] recurrentDecode() {
        kernel.forward(decodeState, q1, k1, v1, out1, 1);
        return out1;
    }

    /** The ceiling: C[N x d] += A[N x d] B[d x d] for every head, parallel over heads, same GEMM as the kernels. */
    @Benchmark
    public float[] sgemm() {
        int n = tokens, d = headDim;
        IntStream.range(0, heads)
                .parallel()
                .forEach(h -> VectorOps.gemm(gemmA, h * n * d, d, gemmB, h * d * d, d, gemmC, h * n * d, d, n, d, d));
        return gemmC;
    }
}
