package io.dijiang4j.bench.gpu;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.gpu.CudaAttentionKernel;
import io.dijiang4j.gpu.CudaKernelProvider;
import io.dijiang4j.gpu.CudaRuntime;
import io.dijiang4j.gpu.FeatureMapParameters;
import io.dijiang4j.gpu.cuda.CudaDriver;
import java.lang.foreign.MemorySegment;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Chunked-prefill benchmark of the CUDA backend (default: 32 heads, head size 128, 128 features, 32768 tokens,
 * the sizes Lightning Attention reports). Prints the device time of one prefill (CUDA events, transfers excluded),
 * the wall time with transfers, the measured device-to-device copy bandwidth, and the floor those imply:
 * max(FLOPs / peak FLOP rate, bytes moved / bandwidth).
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -Xmx8g -cp gpu/target/gpu-0.1.0-SNAPSHOT.jar:jlama-attention/target/jlama-attention-0.1.0-SNAPSHOT.jar \
 *     io.dijiang4j.bench.gpu.GpuPrefillBench [--heads 32] [--kv-heads 32] [--dim 128] [--features 128] \
 *     [--length 32768] [--repeats 5] [--decay 0.96875] [--peak-tflops 60] [--library libcuda.so.1]
 * </pre>
 *
 * Exit code 2 with one line when no CUDA device can be used or an argument is bad.
 */
public final class GpuPrefillBench {
    private GpuPrefillBench() {}

    record Options(
            int heads,
            int kvHeads,
            int dim,
            int features,
            int length,
            int repeats,
            double decay,
            double peakTflops,
            String library) {}

    public static void main(String[] args) {
        Options o;
        try {
            o = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("gpu-bench: " + e.getMessage());
            System.exit(2);
            return;
        }
        int code = run(o);
        if (code != 0) System.exit(code);
    }

    static Options parse(String[] args) {
        int heads = 32, kvHeads = 32, dim = 128, features = 128, length = 32768, repeats = 5;
        double decay = 1.0, peak = 60.0;
        String library = System.getProperty(CudaRuntime.LIBRARY_PROPERTY, CudaDriver.DEFAULT_LIBRARY);
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            if (i + 1 >= args.length) throw new IllegalArgumentException(flag + " needs a value");
            String value = args[++i];
            try {
                switch (flag) {
                    case "--heads" -> heads = Integer.parseInt(value);
                    case "--kv-heads" -> kvHeads = Integer.parseInt(value);
                    case "--dim" -> dim = Integer.parseInt(value);
                    case "--features" -> features = Integer.parseInt(value);
                    case "--length" -> length = Integer.parseInt(value);
                    case "--repeats" -> repeats = Integer.parseInt(value);
                    case "--decay" -> decay = Double.parseDouble(value);
                    case "--peak-tflops" -> peak = Double.parseDouble(value);
                    case "--library" -> library = value;
                    default -> throw new IllegalArgumentException("unknown option " + flag);
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(flag + " needs a number, got '" + value + "'");
            }
        }
        if (heads < 1 || kvHeads < 1 || dim < 1 || features < 1 || length < 2 || repeats < 1 || !(peak > 0)) {
            throw new IllegalArgumentException("sizes must be >= 1 (length >= 2), peak > 0");
        }
        if (heads % kvHeads != 0) throw new IllegalArgumentException("--heads must be a multiple of --kv-heads");
        if (!(decay > 0 && decay <= 1)) throw new IllegalArgumentException("--decay must be in (0, 1]");
        return new Options(heads, kvHeads, dim, features, length, repeats, decay, peak, library);
    }

    static int run(Options o) {
        CudaKernelProvider provider = CudaKernelProvider.onLibrary(o.library(), 0);
        if (!provider.isAvailable()) {
            System.err.println("gpu-bench: no usable CUDA device: "
                    + provider.unavailableReason().orElse("?"));
            return 2;
        }
        CudaRuntime runtime = provider.runtime().orElseThrow();
        AttentionShape shape = new AttentionShape(o.heads(), o.kvHeads(), o.dim());
        FeatureMapParameters map = randomMap(o.dim(), o.features(), 42);
        double[] decay = new double[o.heads()];
        java.util.Arrays.fill(decay, o.decay());
        AttentionSpec spec = AttentionSpec.linear(new ParametersOnly(map), o.dim());
        if (o.decay() < 1) spec = spec.withDecay(decay);

        long n = o.length();
        if (n * shape.queryWidth() > Integer.MAX_VALUE) {
            System.err.println("gpu-bench: --length too large for one Java array of queries");
            return 2;
        }
        SplittableRandom rnd = new SplittableRandom(7);
        float[] q = gaussian(rnd, (int) (n * shape.queryWidth()));
        float[] k = gaussian(rnd, (int) (n * shape.kvWidth()));
        float[] v = gaussian(rnd, (int) (n * shape.kvWidth()));
        float[] out = new float[q.length];

        double bandwidth = copyBandwidth(runtime, 256L << 20, 10);
        try (CudaAttentionKernel kernel = (CudaAttentionKernel) provider.create(shape, spec, map)) {
            AttentionState warm = kernel.newState();
            kernel.forward(warm, q, k, v, out, Math.min(o.length(), 1024)); // JIT of the PTX, first-launch costs
            double bestDevice = Double.MAX_VALUE, bestWall = Double.MAX_VALUE;
            for (int r = 0; r < o.repeats(); r++) {
                AttentionState state = kernel.newState();
                long t0 = System.nanoTime();
                kernel.forward(state, q, k, v, out, o.length());
                bestWall = Math.min(bestWall, (System.nanoTime() - t0) / 1e6);
                bestDevice = Math.min(bestDevice, kernel.lastDeviceMillis());
            }
            for (float x : out) {
                if (!Float.isFinite(x)) {
                    System.err.println("gpu-bench: the prefill produced a non-finite output");
                    return 1;
                }
            }
            Cost cost = cost(o);
            double flopFloorMs = cost.flops() / (o.peakTflops() * 1e12) * 1e3;
            double byteFloorMs = cost.bytes() / bandwidth * 1e3;
            double floor = Math.max(flopFloorMs, byteFloorMs);
            System.out.println("device        " + runtime.describe());
            System.out.printf(
                    Locale.ROOT,
                    "shape         heads %d, kv heads %d, d %d, m %d, N %d, decay %s%n",
                    o.heads(),
                    o.kvHeads(),
                    o.dim(),
                    o.features(),
                    o.length(),
                    o.decay() < 1 ? String.valueOf(o.decay()) : "none");
            System.out.printf(
                    Locale.ROOT, "d2d bandwidth %.1f GB/s (cuMemcpyDtoD, 256 MiB, read+write)%n", bandwidth / 1e9);
            System.out.printf(
                    Locale.ROOT,
                    "prefill       %.3f ms device, %.3f ms with transfers (best of %d)%n",
                    bestDevice,
                    bestWall,
                    o.repeats());
            System.out.printf(
                    Locale.ROOT,
                    "work          %.3f GFLOP (algorithmic), %.1f MB moved%n",
                    cost.flops() / 1e9,
                    cost.bytes() / 1e6);
            System.out.printf(
                    Locale.ROOT,
                    "floor         %.3f ms = max(%.3f ms at %.0f TFLOP/s, %.3f ms at the measured bandwidth)%n",
                    floor,
                    flopFloorMs,
                    o.peakTflops(),
                    byteFloorMs);
            System.out.printf(Locale.ROOT, "efficiency    %.1f%% of the floor%n", 100 * floor / bestDevice);
        }
        return 0;
    }

    /** FLOPs and bytes of one chunked prefill, as the algorithm needs them (B = 32 rows per block). */
    record Cost(double flops, double bytes) {}

    static Cost cost(Options o) {
        double n = o.length(), h = o.heads(), hk = o.kvHeads(), d = o.dim(), m = o.features(), b = 32;
        double features = 2 * n * d * m * (h + hk);
        double inter = 2 * n * m * d * h; // phi(Q) S for every row
        double update = 2 * n * m * d * h; // S += phi(K)^T V per block
        double intraScores = n * (b + 1) / 2 * m * 2 * h; // masked phi(Q) phi(K)^T
        double intraValues = n * (b + 1) / 2 * d * 2 * h;
        double flops = features + inter + update + intraScores + intraValues;
        double io = n * (2 * h + 2 * hk) * d * 4; // q, k, v in, out back
        double logFeatures = 2 * n * (h + hk) * m * 4; // written once, read once
        return new Cost(flops, io + logFeatures);
    }

    /** Device-to-device copy bandwidth, bytes read plus written per second, best of {@code repeats}. */
    static double copyBandwidth(CudaRuntime runtime, long bytes, int repeats) {
        CudaDriver drv = runtime.driver();
        synchronized (runtime.lock()) {
            runtime.makeCurrent();
            long a = drv.memAlloc(bytes), b = drv.memAlloc(bytes);
            MemorySegment start = drv.eventCreate(), end = drv.eventCreate();
            try {
                drv.memsetD32(a, 0x3f800000, bytes / 4, runtime.stream());
                drv.copyDeviceToDevice(b, a, bytes, runtime.stream()); // warm-up
                double best = Double.MAX_VALUE;
                for (int r = 0; r < repeats; r++) {
                    drv.eventRecord(start, runtime.stream());
                    drv.copyDeviceToDevice(b, a, bytes, runtime.stream());
                    drv.eventRecord(end, runtime.stream());
                    drv.eventSynchronize(end);
                    best = Math.min(best, drv.eventElapsedMillis(start, end));
                }
                return 2.0 * bytes / (best / 1e3);
            } finally {
                drv.eventDestroy(start);
                drv.eventDestroy(end);
                drv.memFree(a);
                drv.memFree(b);
            }
        }
    }

    static FeatureMapParameters randomMap(int d, int m, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] p = gaussian(rnd, d * m);
        float[] w = new float[m];
        java.util.Arrays.fill(w, 0f);
        return new FeatureMapParameters(d, m, p, p, w, w, FeatureMap.Normalization.SOFTMAX);
    }

    private static float[] gaussian(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i += 2) {
            // Box-Muller: two normals from two uniforms
            double u1 = 1.0 - rnd.nextDouble(), u2 = rnd.nextDouble();
            double r = Math.sqrt(-2 * Math.log(u1));
            a[i] = (float) (r * Math.cos(2 * Math.PI * u2));
            if (i + 1 < n) a[i + 1] = (float) (r * Math.sin(2 * Math.PI * u2));
        }
        return a;
    }

    /** The spec needs a FeatureMap; the GPU reads the parameters directly, so this one only describes them. */
    private record ParametersOnly(FeatureMapParameters p) implements FeatureMap {
        @Override
        public String name() {
            return "bench-random-softmax";
        }

        @Override
        public int inputDim() {
            return p.inputDim();
        }

        @Override
        public int numFeatures() {
            return p.numFeatures();
        }

        @Override
        public void logQueryFeatures(float[] x, int off, float[] out, int outOff) {
            throw new UnsupportedOperationException("benchmark map: evaluated on the GPU only");
        }
    }
}
