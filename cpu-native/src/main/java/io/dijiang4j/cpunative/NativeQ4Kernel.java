package io.dijiang4j.cpunative;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import com.github.tjake.jlama.tensor.FloatBufferTensor;
import com.github.tjake.jlama.tensor.Q4ByteBufferTensor;
import io.dijiang4j.attention.tensorops.NativeQ4Rows;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Locale;

/**
 * Decode products of Q4 weights in native code ({@code src/main/c/q4_rows.c}): int8 dot products (AVX-512 VNNI, or
 * AVX2's multiply-adds, the same bits) over activations quantized per block of 32, once per product on each thread (a decode product reaches a thread as
 * several chunks of rows with the same activations); activation rows in groups of four share each block's unpacked
 * weights, and a row's result does not depend on the group it is in. The library is a resource of this jar (linux-x86_64),
 * copied to a temporary file and loaded once; a CPU without AVX2 and FMA, another platform or a library that does
 * not load leaves the kernel unavailable (Jlama's products then run on the Vector API kernels). The downcall is
 * critical: the kernel neither blocks nor calls back, so heap arrays and Jlama's heap-backed tensors pass by address.
 */
public final class NativeQ4Kernel implements NativeQ4Rows {
    static final String LIBRARY_RESOURCE = "linux-x86_64/libdijiang_cpu.so";
    private static final Bound BOUND = Bound.load();
    private static final ThreadLocal<Quantized> QUANTIZED = ThreadLocal.withInitial(Quantized::new);

    /** One thread's activations as the kernel takes them, and the activations they were made from. */
    private static final class Quantized {
        float[] from = new float[0];
        int m = -1, n = -1;
        byte[] xq = new byte[0];
        float[] xsv = new float[0], xoff = new float[0];

        /** Quantizes x (m rows of n) unless it equals the activations quantized last. */
        void prepare(float[] x, int m, int n) throws Throwable {
            if (m == this.m && n == this.n && Arrays.equals(x, 0, m * n, from, 0, m * n)) return;
            int blocks = n / Q4ByteBufferTensor.BLOCK_SIZE;
            if (from.length < m * n || xsv.length < m * 8 * (blocks / 2 + 1)) {
                from = new float[m * n];
                xq = new byte[m * n];
                xsv = new float[m * 8 * (blocks / 2 + 1)];
                xoff = new float[m * blocks];
            }
            BOUND.quantize()
                    .invokeExact(
                            MemorySegment.ofArray(x),
                            m,
                            blocks,
                            MemorySegment.ofArray(xq),
                            MemorySegment.ofArray(xsv),
                            MemorySegment.ofArray(xoff));
            System.arraycopy(x, 0, from, 0, m * n);
            this.m = m;
            this.n = n;
        }
    }

    /** The bound library (the kernels of each level this CPU runs, null otherwise), or why there is none. */
    private record Bound(MethodHandle quantize, MethodHandle vnni, MethodHandle avx2, String unavailable) {
        static Bound load() {
            String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
            String arch = System.getProperty("os.arch", "");
            if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
                return new Bound(null, null, null, "no native library for " + os + "/" + arch);
            }
            try {
                Path file = Files.createTempFile("dijiang_cpu", ".so");
                file.toFile().deleteOnExit();
                try (InputStream in = NativeQ4Kernel.class.getResourceAsStream(LIBRARY_RESOURCE)) {
                    if (in == null)
                        return new Bound(null, null, null, "library resource " + LIBRARY_RESOURCE + " missing");
                    Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
                }
                Linker linker = Linker.nativeLinker();
                SymbolLookup lookup = SymbolLookup.libraryLookup(file, Arena.global());
                MethodHandle levelOf = linker.downcallHandle(
                        lookup.find("dj_q4_level").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
                int level = (int) levelOf.invokeExact();
                if (level == 0) return new Bound(null, null, null, "this CPU lacks AVX2 and FMA");
                MethodHandle quantize = linker.downcallHandle(
                        lookup.find("dj_q4_quantize").orElseThrow(),
                        FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS),
                        Linker.Option.critical(true));
                FunctionDescriptor rows = FunctionDescriptor.ofVoid(
                        ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
                MethodHandle vnni = level < 2
                        ? null
                        : linker.downcallHandle(
                                lookup.find("dj_q4_rows_vnni").orElseThrow(), rows, Linker.Option.critical(true));
                MethodHandle avx2 = linker.downcallHandle(
                        lookup.find("dj_q4_rows_avx2").orElseThrow(), rows, Linker.Option.critical(true));
                return new Bound(quantize, vnni, avx2, null);
            } catch (Throwable e) { // IOException, a linkage error, or the library's own failure to load
                return new Bound(null, null, null, "native library not loaded: " + e);
            }
        }
    }

    /** The kernel of the best level this CPU runs (null when none), and its name for the log. */
    private final MethodHandle kernel;

    private final String level;

    /** The kernel ServiceLoader makes: the best level this CPU runs, or AVX2 with {@code -Ddijiang.native_kernels=avx2}. */
    public NativeQ4Kernel() {
        this(BOUND.vnni() != null && !"avx2".equals(System.getProperty(PROPERTY)));
    }

    private NativeQ4Kernel(boolean vnni) {
        this(vnni ? BOUND.vnni() : BOUND.avx2(), vnni ? "AVX-512 VNNI" : "AVX2");
    }

    private NativeQ4Kernel(MethodHandle kernel, String level) {
        this.kernel = kernel;
        this.level = level;
    }

    /** The AVX2 kernel even where VNNI is present (tests: both levels give the same bits), or null without AVX2. */
    static NativeQ4Kernel avx2() {
        return BOUND.avx2() == null ? null : new NativeQ4Kernel(false);
    }

    /** Why no kernel is available, or null when one is. */
    public static String unavailableReason() {
        return BOUND.unavailable();
    }

    @Override
    public boolean available() {
        return kernel != null;
    }

    @Override
    public String describe() {
        return available() ? level + " int8 dot products, activations quantized per block of 32" : BOUND.unavailable();
    }

    @Override
    public boolean product(Q4ByteBufferTensor t, int row, int col, int n, int rows, float[] x, int m, float[] out) {
        int blocks = n / Q4ByteBufferTensor.BLOCK_SIZE;
        if (!available() || n % Q4ByteBufferTensor.BLOCK_SIZE != 0 || n <= 0 || rows <= 0 || m <= 0) return false;
        FloatBufferTensor scales = t.getBlockF();
        // the native code checks no bounds: every range it reads or writes is checked here (asSlice throws past the
        // end)
        if (x.length < (long) m * n || out.length < (long) m * rows) {
            throw new IllegalArgumentException("native Q4 product: " + m + " x " + n + " activations into " + m + " x "
                    + rows + " outputs, arrays of " + x.length + " and " + out.length);
        }
        MemorySegment packed = t.getMemorySegment()
                .asSlice(t.getMemorySegmentOffset(t.getOffset(row, col)), (long) rows * blocks * 16);
        MemorySegment scale = scales.getMemorySegment()
                .asSlice(
                        scales.getMemorySegmentOffset(scales.getOffset(row, col / Q4ByteBufferTensor.BLOCK_SIZE)),
                        (long) rows * blocks * Float.BYTES);
        try {
            Quantized q = QUANTIZED.get();
            q.prepare(x, m, n);
            kernel.invokeExact(
                    packed,
                    scale,
                    rows,
                    blocks,
                    m,
                    MemorySegment.ofArray(q.xq),
                    MemorySegment.ofArray(q.xsv),
                    MemorySegment.ofArray(q.xoff),
                    MemorySegment.ofArray(out));
            return true;
        } catch (Throwable e) {
            throw new IllegalStateException("native Q4 kernel failed", e);
        }
    }
}
