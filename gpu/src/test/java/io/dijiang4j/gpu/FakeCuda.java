package io.dijiang4j.gpu;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Builds src/test/c/fake_libcuda.c with gcc (tests using it are skipped where gcc is absent) and reads the
 * counters it exports.
 */
final class FakeCuda {
    private static final Map<String, Path> BUILT = new ConcurrentHashMap<>();

    private FakeCuda() {}

    /** Path of the fake driver built with the given -D flags, e.g. "-DFAKE_INIT_RESULT=100". */
    static synchronized Path library(String... defines) {
        String key = String.join(" ", defines);
        Path cached = BUILT.get(key);
        if (cached != null) return cached;
        try {
            Path dir = Files.createTempDirectory("fake-libcuda");
            dir.toFile().deleteOnExit();
            Path lib = dir.resolve("libcuda.so.1");
            List<String> cmd = new ArrayList<>(List.of("gcc", "-shared", "-fPIC", "-O1", "-o", lib.toString()));
            cmd.addAll(List.of(defines));
            cmd.add(sources().resolve("fake_libcuda.c").toString());
            Process gcc;
            try {
                gcc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            } catch (IOException noGcc) {
                assumeTrue(false, "gcc not found: fake libcuda tests skipped");
                return null;
            }
            String output = new String(gcc.getInputStream().readAllBytes());
            if (!gcc.waitFor(60, TimeUnit.SECONDS) || gcc.exitValue() != 0) {
                throw new IllegalStateException("gcc failed on fake_libcuda.c: " + output);
            }
            lib.toFile().deleteOnExit();
            BUILT.put(key, lib);
            return lib;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * The fake driver with the CUDA emulator (src/test/c/cuda_emulator.cpp): launches run the real kernel sources
     * on the CPU. Built with g++ (C++20); tests using it are skipped where g++ is absent.
     */
    /** src/test/c of the gpu module; {@code gpu.module.dir} points there from other modules' tests. */
    private static Path sources() {
        return Path.of(System.getProperty("gpu.module.dir", "."), "src/test/c")
                .toAbsolutePath()
                .normalize();
    }

    static synchronized Path emulator() {
        Path cached = BUILT.get("emulator");
        if (cached != null) return cached;
        Path c = sources();
        try {
            Path dir = Files.createTempDirectory("emulated-libcuda");
            dir.toFile().deleteOnExit();
            Path lib = dir.resolve("libcuda.so.1");
            List<String> cmd = List.of(
                    "g++",
                    "-std=c++20",
                    "-O2",
                    "-U_FORTIFY_SOURCE",
                    "-shared",
                    "-fPIC",
                    "-pthread",
                    "-DFAKE_EMULATE",
                    "-I" + c.resolve("emu"),
                    "-x",
                    "c++",
                    c.resolve("fake_libcuda.c").toString(),
                    "-x",
                    "c++",
                    c.resolve("cuda_emulator.cpp").toString(),
                    "-o",
                    lib.toString());
            Process gpp;
            try {
                gpp = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            } catch (IOException noCompiler) {
                assumeTrue(false, "g++ not found: emulated kernel tests skipped");
                return null;
            }
            String output = new String(gpp.getInputStream().readAllBytes());
            if (!gpp.waitFor(300, TimeUnit.SECONDS) || gpp.exitValue() != 0) {
                throw new IllegalStateException("g++ failed on the CUDA emulator: " + output);
            }
            lib.toFile().deleteOnExit();
            BUILT.put("emulator", lib);
            return lib;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Kernel names launched since the last reset, comma separated. */
    static String launchLog(Path library) {
        try {
            MemorySegment s =
                    (MemorySegment) handle(library, "fake_launch_log", FunctionDescriptor.of(ValueLayout.ADDRESS))
                            .invokeExact();
            return s.reinterpret(1 << 16).getString(0);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static void reset(Path library) {
        try {
            handle(library, "fake_reset", FunctionDescriptor.ofVoid()).invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static long liveAllocations(Path library) {
        MemorySegment counter = SymbolLookup.libraryLookup(library, Arena.global())
                .find("fake_live_allocations")
                .orElseThrow()
                .reinterpret(8);
        return counter.get(ValueLayout.JAVA_LONG, 0);
    }

    private static MethodHandle handle(Path library, String name, FunctionDescriptor descriptor) {
        SymbolLookup lookup = SymbolLookup.libraryLookup(library, Arena.global());
        return Linker.nativeLinker().downcallHandle(lookup.find(name).orElseThrow(), descriptor);
    }
}
