package io.dijiang4j.attention.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.ChildJvm;
import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.attention.features.FeatureMaps;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A state serialized by another JVM process ({@link ChildJvm}: every identity hash code there is 1) restores in
 * this one and continues bit-identically with a run made here.
 */
class CrossProcessStateTest {
    static final AttentionShape SHAPE = new AttentionShape(4, 2, 8);
    static final int PREFIX = 37;
    static final int TAIL = 23;

    /** The specs both processes build separately from the same values: enums, maps, decay, gains, a cache. */
    static List<AttentionSpec> specs() {
        var map = FeatureMaps.create("pff", 8, 12, 5);
        return List.of(
                AttentionSpec.linear(map, 8).withBlockSize(16).withDecay(new double[] {0.9, 0.9, 0.97, 0.97}),
                AttentionSpec.hybrid(map, 8, 2, 7).withBlockSize(16).withMemoryGain(new double[] {1, 0.5, 2, 1}),
                AttentionSpec.hybrid(FeatureMaps.create("dijiang-code", 8, 12, 5), 8, 1, 5)
                        .withExactCache(3, ExactCachePolicy.SELF_RECALL));
    }

    /** Tokens of the whole sequence: q, k, v, fresh random and never zero. */
    static float[][] tokens(int spec) {
        SplittableRandom random = new SplittableRandom(100 + spec);
        int n = PREFIX + TAIL;
        return new float[][] {
            KernelEquivalenceTest.random(random, n * SHAPE.queryWidth(), 1),
            KernelEquivalenceTest.random(random, n * SHAPE.kvWidth(), 1),
            KernelEquivalenceTest.random(random, n * SHAPE.kvWidth(), 1)
        };
    }

    /** The state after the prefix (prefill of PREFIX - 1 tokens, then one decode token). */
    static AttentionState prefix(AttentionKernel kernel, float[][] t) {
        AttentionState state = kernel.newState();
        int qw = SHAPE.queryWidth(), kw = SHAPE.kvWidth();
        kernel.forward(state, t[0], t[1], t[2], new float[PREFIX * qw], PREFIX - 1);
        int at = PREFIX - 1;
        kernel.forward(
                state,
                java.util.Arrays.copyOfRange(t[0], at * qw, PREFIX * qw),
                java.util.Arrays.copyOfRange(t[1], at * kw, PREFIX * kw),
                java.util.Arrays.copyOfRange(t[2], at * kw, PREFIX * kw),
                new float[qw],
                1);
        return state;
    }

    /** Child process: writes the prefix state of every spec to args[0]-i. */
    public static void main(String[] args) throws Exception {
        List<AttentionSpec> specs = specs();
        for (int i = 0; i < specs.size(); i++) {
            AttentionKernel kernel = new CpuKernelProvider().create(SHAPE, specs.get(i));
            Files.write(Path.of(args[0] + "-" + i), prefix(kernel, tokens(i)).toBytes());
        }
    }

    @Test
    void stateSavedByAnotherJvmRestoresAndContinuesBitIdentically(@TempDir Path dir) throws Exception {
        Path base = dir.resolve("state");
        ChildJvm.run(CrossProcessStateTest.class, base.toString());
        List<AttentionSpec> specs = specs();
        for (int i = 0; i < specs.size(); i++) {
            AttentionKernel kernel = new CpuKernelProvider().create(SHAPE, specs.get(i));
            float[][] t = tokens(i);
            AttentionState here = prefix(kernel, t);
            byte[] saved = Files.readAllBytes(Path.of(base + "-" + i));
            AttentionState restored = kernel.restore(saved);
            assertEquals(PREFIX, restored.position());
            assertArrayEquals(here.toBytes(), saved, "spec " + i + ": the child's state equals this process's");
            int qw = SHAPE.queryWidth(), kw = SHAPE.kvWidth();
            float[] q = java.util.Arrays.copyOfRange(t[0], PREFIX * qw, (PREFIX + TAIL) * qw);
            float[] k = java.util.Arrays.copyOfRange(t[1], PREFIX * kw, (PREFIX + TAIL) * kw);
            float[] v = java.util.Arrays.copyOfRange(t[2], PREFIX * kw, (PREFIX + TAIL) * kw);
            float[] expected = new float[TAIL * qw], actual = new float[TAIL * qw];
            kernel.forward(here, q, k, v, expected, TAIL);
            kernel.forward(restored, q, k, v, actual, TAIL);
            assertArrayEquals(expected, actual, "spec " + i + ": continuation after the restore");
            assertArrayEquals(here.toBytes(), restored.toBytes(), "spec " + i);
        }
    }
}
