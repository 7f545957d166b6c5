package io.dijiang4j.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.ChildJvm;
import io.dijiang4j.attention.features.FeatureMaps;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cuda state saved by another JVM process restores in this one and continues exactly like a run made here, on the
 * CUDA emulator behind the fake libcuda (see {@link EmulatedCudaKernelTest}). Before the value-based fingerprint the
 * state header hashed enum identities, and another process refused its own layer's state.
 */
class CrossProcessCudaStateTest {
    static final AttentionShape SHAPE = new AttentionShape(4, 2, 16);
    static final int PREFIX = 21;
    static final int TAIL = 9;

    static AttentionSpec spec() {
        return AttentionSpec.hybrid(FeatureMaps.create("dijiang-code", 16, 16, 3), 16, 2, 5)
                .withDecay(new double[] {0.9, 0.9, 0.97, 0.99})
                .withMemoryGain(new double[] {1, 0.5, 2, 1});
    }

    static float[][] tokens() {
        Random rnd = new Random(5);
        int n = PREFIX + TAIL;
        float[][] t = {new float[n * SHAPE.queryWidth()], new float[n * SHAPE.kvWidth()], new float[n * SHAPE.kvWidth()]
        };
        for (float[] a : t) for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
        return t;
    }

    static AttentionState prefix(AttentionKernel kernel, float[][] t) {
        AttentionState state = kernel.newState();
        kernel.forward(state, t[0], t[1], t[2], new float[PREFIX * SHAPE.queryWidth()], PREFIX);
        return state;
    }

    /** Child process: args[0] the emulated libcuda, args[1] where to write the prefix state. */
    public static void main(String[] args) throws Exception {
        try (AttentionKernel kernel = CudaKernelProvider.onLibrary(args[0], 0).create(SHAPE, spec())) {
            Files.write(Path.of(args[1]), prefix(kernel, tokens()).toBytes());
        }
    }

    @Test
    void stateSavedByAnotherJvmRestoresAndContinuesExactly(@TempDir Path dir) throws Exception {
        String library = FakeCuda.emulator().toString();
        CudaKernelProvider provider = CudaKernelProvider.onLibrary(library, 0);
        assumeTrue(
                provider.isAvailable(),
                () -> "emulator unavailable: " + provider.unavailableReason().orElse("?"));
        Path file = dir.resolve("cuda-state");
        ChildJvm.run(CrossProcessCudaStateTest.class, library, file.toString());
        try (AttentionKernel kernel = provider.create(SHAPE, spec())) {
            float[][] t = tokens();
            AttentionState here = prefix(kernel, t);
            byte[] saved = Files.readAllBytes(file);
            AttentionState restored = kernel.restore(saved);
            assertEquals(PREFIX, restored.position());
            assertArrayEquals(here.toBytes(), saved, "the child's state equals this process's");
            int qw = SHAPE.queryWidth(), kw = SHAPE.kvWidth(), n = PREFIX + TAIL;
            float[] q = Arrays.copyOfRange(t[0], PREFIX * qw, n * qw);
            float[] k = Arrays.copyOfRange(t[1], PREFIX * kw, n * kw);
            float[] v = Arrays.copyOfRange(t[2], PREFIX * kw, n * kw);
            float[] expected = new float[TAIL * qw], actual = new float[TAIL * qw];
            kernel.forward(here, q, k, v, expected, TAIL);
            kernel.forward(restored, q, k, v, actual, TAIL);
            assertArrayEquals(expected, actual, "continuation after the restore");
        }
    }
}
