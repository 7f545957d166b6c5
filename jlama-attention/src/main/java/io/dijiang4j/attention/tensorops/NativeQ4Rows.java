package io.dijiang4j.attention.tensorops;

import com.github.tjake.jlama.tensor.Q4ByteBufferTensor;
import java.util.ServiceLoader;

/**
 * A native kernel for decode products of Q4 weights (a few activation rows, one per session of a pass, by weight rows
 * that lie end to end), found through {@link ServiceLoader}: the cpu-native module (Java 22+) provides one for x86-64
 * CPUs with AVX2 (AVX-512 VNNI where present), whose int8 dot products the Vector API cannot reach. It quantizes the
 * activations to int8 per block of 32, as Jlama's own Q4 path does. {@link Q4MatrixVector} uses it when one is present and {@link #available()},
 * unless {@code -Ddijiang.native_kernels=false}; otherwise its own kernels.
 */
public interface NativeQ4Rows {
    /**
     * The system property that turns native kernels off ({@code false}); on where available by default ({@code avx2}:
     * the cpu-native kernel of AVX2 even where AVX-512 VNNI is present, to compare them).
     */
    String PROPERTY = "dijiang.native_kernels";

    /** Whether this CPU and platform can run the kernel (the library loaded, the instructions present). */
    boolean available();

    /** A short description for the log line (library, instructions). */
    String describe();

    /**
     * out[i * rows + j] = sum over c < n of x[i * n + c] * t[row + j, col + c], i < m, j < rows, for rows whose packed
     * bytes and scales lie end to end in t's memory and n a whole number of blocks; each activation row's result is
     * the same whatever m is. Returns false (writing nothing) when the kernel does not take this shape (the caller
     * then runs its own kernel).
     */
    boolean product(Q4ByteBufferTensor t, int row, int col, int n, int rows, float[] x, int m, float[] out);

    /** The provider that is present and available, or null (logged once, at first use). */
    static NativeQ4Rows find() {
        if ("false".equalsIgnoreCase(System.getProperty(PROPERTY))) return null;
        for (NativeQ4Rows kernel : ServiceLoader.load(NativeQ4Rows.class, NativeQ4Rows.class.getClassLoader())) {
            if (kernel.available()) return kernel;
        }
        return null;
    }
}
