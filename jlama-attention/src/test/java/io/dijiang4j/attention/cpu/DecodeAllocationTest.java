package io.dijiang4j.attention.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.attention.features.FeatureMaps;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The recurrent (decode) path allocates nothing per token once the state has made its scratch. */
class DecodeAllocationTest {
    @Test
    void decodeDoesNotAllocate() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        AttentionShape shape = new AttentionShape(4, 2, 16);
        var map = FeatureMaps.create("wdcf", 16, 16, 1);
        for (AttentionSpec spec : new AttentionSpec[] {
            AttentionSpec.linear(map, 16).withDecay(new double[] {0.9, 0.9, 0.95, 0.99}),
            AttentionSpec.hybrid(map, 16, 2, 8),
            AttentionSpec.hybrid(map, 16, 2, 8).withExactCache(4, ExactCachePolicy.HEAVY_HITTER),
            AttentionSpec.hybrid(map, 16, 2, 8).withExactCache(4, ExactCachePolicy.SELF_RECALL)
        }) {
            AttentionKernel kernel = new CpuKernelProvider().create(shape, spec);
            AttentionState state = kernel.newState();
            SplittableRandom random = new SplittableRandom(3);
            float[] q = new float[shape.queryWidth()], k = new float[shape.kvWidth()], v = new float[shape.kvWidth()];
            float[] out = new float[shape.queryWidth()];
            for (int i = 0; i < q.length; i++) q[i] = (float) random.nextDouble(-1, 1);
            for (int i = 0; i < k.length; i++) k[i] = (float) random.nextDouble(-1, 1);
            for (int i = 0; i < v.length; i++) v[i] = (float) random.nextDouble(-1, 1);
            // Until C2 has compiled the path, the Vector API runs boxed (interpreter, C1) and allocates; on a busy
            // machine that can take a while, so measure rounds until one is clean (steady state), up to a limit.
            long best = Long.MAX_VALUE;
            for (int round = 0; round < 40 && best >= 1000; round++) {
                long before = threads.getCurrentThreadAllocatedBytes();
                for (int t = 0; t < 5_000; t++) kernel.forward(state, q, k, v, out, 1);
                best = Math.min(best, threads.getCurrentThreadAllocatedBytes() - before);
            }
            assertTrue(
                    best < 1000,
                    spec.method() + " cache " + spec.exactCache() + ": decode allocated " + best
                            + " bytes in 5000 tokens");
        }
    }
}
