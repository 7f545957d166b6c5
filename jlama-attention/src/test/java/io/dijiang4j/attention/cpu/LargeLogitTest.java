package io.dijiang4j.attention.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.features.FeatureMaps;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Real heads have query/key norms of 5-25 in 8-dimensional heads (docs/MATH.md §2): logits of -90..+10 and
 * log-features spread over tens of nats. The stabilized forms must stay finite and close to the float64 reference.
 */
class LargeLogitTest {
    @Test
    void largeNormsStayFiniteAndAccurate() {
        CpuKernelProvider provider = new CpuKernelProvider();
        for (String method : new String[] {"linear", "hybrid"}) {
            for (double sigma : new double[] {3, 6}) {
                AttentionShape shape = new AttentionShape(4, 2, 8);
                var map = FeatureMaps.create("performer", 8, 16, 4);
                AttentionSpec spec =
                        method.equals("linear") ? AttentionSpec.linear(map, 8) : AttentionSpec.hybrid(map, 8, 2, 16);
                spec = spec.withBlockSize(32).withDecay(new double[] {0.99, 0.99, 0.9, 0.9});
                int n = 300;
                SplittableRandom random = new SplittableRandom(9);
                float[] q = KernelEquivalenceTest.random(random, n * shape.queryWidth(), sigma);
                float[] k = KernelEquivalenceTest.random(random, n * shape.kvWidth(), sigma);
                float[] v = KernelEquivalenceTest.random(random, n * shape.kvWidth(), 1);
                double[] ref = KernelEquivalenceTest.naive(shape, spec, q, k, v, n);
                AttentionKernel kernel = provider.create(shape, spec);
                float[] out = new float[n * shape.queryWidth()];
                AttentionState state = kernel.newState();
                kernel.forward(state, q, k, v, out, n / 2);
                float[] rest = new float[(n - n / 2) * shape.queryWidth()];
                kernel.forward(
                        state,
                        java.util.Arrays.copyOfRange(q, n / 2 * shape.queryWidth(), q.length),
                        java.util.Arrays.copyOfRange(k, n / 2 * shape.kvWidth(), k.length),
                        java.util.Arrays.copyOfRange(v, n / 2 * shape.kvWidth(), v.length),
                        rest,
                        n - n / 2);
                System.arraycopy(rest, 0, out, n / 2 * shape.queryWidth(), rest.length);
                double err = KernelEquivalenceTest.relativeError(out, ref, out.length);
                System.out.printf("%s sigma=%s: %.2e%n", method, sigma, err);
                assertTrue(err < 1e-5, method + " sigma " + sigma + ": " + err);
            }
        }
    }
}
