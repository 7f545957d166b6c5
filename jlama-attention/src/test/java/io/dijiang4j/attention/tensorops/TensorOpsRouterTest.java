package io.dijiang4j.attention.tensorops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.FloatBufferTensor;
import com.github.tjake.jlama.tensor.operations.TensorOperationsProvider;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class TensorOpsRouterTest {

    /** Counts its calls and then computes as the CPU kernels do. */
    private static final class Counting implements MatrixProducts {
        final AtomicInteger calls = new AtomicInteger();

        @Override
        public String name() {
            return "counting";
        }

        @Override
        public boolean supports(DType a, DType b) {
            return true;
        }

        @Override
        public void product(
                AbstractTensor result,
                AbstractTensor a,
                AbstractTensor b,
                int ac,
                int bc,
                int k,
                int r,
                int br,
                int n) {
            calls.incrementAndGet();
            CpuMatrixProducts.INSTANCE.product(result, a, b, ac, bc, k, r, br, n);
        }
    }

    @Test
    void productsOfRegisteredWeightsGoToTheirBackendAndAllOthersStayJlamas() {
        TensorOpsRouter router = TensorOpsRouter.install();
        assertSame(router, TensorOperationsProvider.get());
        assertSame(router, TensorOpsRouter.install());

        SplittableRandom rnd = new SplittableRandom(5);
        // 64 columns: Jlama's own F32 product reads past a row whose length is not a whole number of vectors (40
        // columns at 512 bits threw out of bounds when this test ran alone), and the products below run on it
        AbstractTensor x = CpuMatrixProductsTest.tensor(DType.F32, 6, 64, rnd);
        AbstractTensor routed = CpuMatrixProductsTest.tensor(DType.F32, 24, 64, rnd);
        AbstractTensor vanilla = CpuMatrixProductsTest.tensor(DType.F32, 24, 64, rnd);
        Counting counting = new Counting();
        router.route(List.of(routed), counting);
        try (FloatBufferTensor out = new FloatBufferTensor(6, 24);
                FloatBufferTensor viaRouter = new FloatBufferTensor(6, 24);
                FloatBufferTensor viaJlama = new FloatBufferTensor(6, 24)) {
            TensorOperationsProvider.get().dotProductChunk(out, x, routed, 0, 64, 0, 24);
            assertEquals(1, counting.calls.get());

            TensorOperationsProvider.get().dotProductChunk(viaRouter, x, vanilla, 0, 64, 0, 24);
            router.jlama().dotProductChunk(viaJlama, x, vanilla, 0, 64, 0, 24);
            assertEquals(1, counting.calls.get(), "an unregistered weight never reaches the backend");
            for (int i = 0; i < 6; i++) {
                for (int j = 0; j < 24; j++) assertEquals(viaJlama.get(i, j), viaRouter.get(i, j), "bit-identical");
            }
        } finally {
            router.unroute(List.of(routed));
        }
        assertNull(router.routeOf(routed));
    }
    /**
     * F32 += Q4 (the residual add of a Q4 embedding) runs on the router's own loop: the same bits as Jlama's
     * accumulateF32Q4_256, and within float rounding of the float64 sum, per row and with one row broadcast, at an
     * offset; other type pairs still reach Jlama's.
     */
    @Test
    void q4AccumulateGivesJlamasBitsAndTheFloat64Sum() {
        TensorOpsRouter router = TensorOpsRouter.install();
        SplittableRandom rnd = new SplittableRandom(21);
        int[][] cases = {{3, 3, 96, 0, 96}, {2, 1, 64, 0, 64}, {1, 1, 160, 32, 96}, {5, 5, 224, 64, 128}};
        for (int[] c : cases) {
            int rows = c[0], bRows = c[1], cols = c[2], offset = c[3], length = c[4];
            AbstractTensor a = CpuMatrixProductsTest.tensor(DType.F32, rows, cols, rnd);
            AbstractTensor same = CpuMatrixProductsTest.tensor(DType.F32, rows, cols, rnd);
            for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) same.set(a.get(i, j), i, j);
            AbstractTensor b = CpuMatrixProductsTest.tensor(DType.Q4, bRows, cols, rnd);
            double[][] twin = new double[rows][cols];
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    boolean inside = j >= offset && j < offset + length;
                    twin[i][j] = a.get(i, j) + (inside ? (double) b.get(bRows > 1 ? i : 0, j) : 0.0);
                }
            }
            router.accumulate(a, b, offset, length);
            router.jlama().accumulate(same, b, offset, length);
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    String at = java.util.Arrays.toString(c) + " [" + i + ", " + j + "]";
                    assertEquals(Float.floatToIntBits(same.get(i, j)), Float.floatToIntBits(a.get(i, j)), at);
                    assertEquals(twin[i][j], a.get(i, j), 1e-6 * (1 + Math.abs(twin[i][j])), at);
                }
            }
        }
    }
}
