package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.ModelSupport;
import com.github.tjake.jlama.model.TransformerBlock;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.tensor.AbstractTensor;
import io.dijiang4j.attention.jlama.JlamaInternals;
import io.dijiang4j.attention.tensorops.CpuMatrixProducts;
import io.dijiang4j.attention.tensorops.ProductThreads;
import io.dijiang4j.attention.tensorops.TensorOpsRouter;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.profile.Backend;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.plugin.profile.TensorOps;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The profile's {@code tensor_ops} on stories260K: the choice is per model (a vanilla Jlama model in the same JVM
 * keeps Jlama's products), and the fast products give Jlama's logits to 1e-4 relative. Greedy text identical to
 * vanilla Jlama with the fast products is JlamaIntegrationIT's softmax test (fast is the default).
 */
class TensorOpsIT {

    @Test
    void fastProductsRunOnlyForThePluginsModelAndGiveJlamasLogits() {
        Profile base = stories260K(Mode.SOFTMAX);
        AbstractModel vanilla = ModelSupport.loadModel(Stories260K.dir().toFile(), DType.F32, DType.F32);
        try (DiJiangModel fast = DiJiang.load(base);
                DiJiangModel jlama = DiJiang.load(base.withTensorOps(TensorOps.JLAMA))) {
            assertEquals("fast", fast.installation().tensorOps());
            assertEquals("jlama", jlama.installation().tensorOps());
            TensorOpsRouter router = TensorOpsRouter.install();
            Set<AbstractTensor> fastWeights =
                    JlamaInternals.matmulWeights(fast.installation().model());
            // per layer: q, k, v, o, gate, up, down; plus the logits
            assertTrue(fastWeights.size() >= 7 * fast.config().numberOfLayers + 1, "weights: " + fastWeights.size());
            for (AbstractTensor w : fastWeights) assertSame(CpuMatrixProducts.INSTANCE, router.routeOf(w));
            for (AbstractTensor w :
                    JlamaInternals.matmulWeights(jlama.installation().model())) {
                assertNull(router.routeOf(w), "tensor_ops jlama keeps Jlama's products");
            }
            for (AbstractTensor w : JlamaInternals.matmulWeights(vanilla)) {
                assertNull(router.routeOf(w), "a model without the plugin keeps Jlama's products");
            }

            assertSameLogits(fast, jlama, "softmax");
        } finally {
            vanilla.close();
        }
    }

    /**
     * Kernelized layers with the fast products also get the vectorized RMS norms and gated SiLU block (FastRmsNorm,
     * FastMlpBlock); with them the logits still agree with Jlama's products and Jlama's element-wise loops.
     */
    @Test
    void vectorizedNormsAndFeedForwardGiveJlamasLogits() {
        Profile base = stories260K(Mode.HYBRID);
        try (DiJiangModel fast = DiJiang.load(base);
                DiJiangModel jlama = DiJiang.load(base.withTensorOps(TensorOps.JLAMA))) {
            var fastBlock = JlamaInternals.blocks(fast.installation().model())[0];
            var jlamaBlock = JlamaInternals.blocks(jlama.installation().model())[0];
            assertEquals("FastMlpBlock", feedForwardClass(fastBlock));
            assertEquals("MLPBlock", feedForwardClass(jlamaBlock));
            assertSameLogits(fast, jlama, "hybrid");
        }
    }

    /**
     * Decode passes (one token each) with the fast products run on the project's product threads, Q/K/V and gate/up
     * fused into one parallel region each, and the logits from one region (ProductThreads): the logits of every step
     * still agree with Jlama's products, threads and element-wise loops.
     */
    @Test
    void decodeStepsOnTheProductThreadsGiveJlamasLogits() {
        Profile base = stories260K(Mode.HYBRID);
        try (DiJiangModel fast = DiJiang.load(base);
                DiJiangModel jlama = DiJiang.load(base.withTensorOps(TensorOps.JLAMA));
                Session a = fast.newSession();
                Session b = jlama.newSession()) {
            for (AbstractTensor w :
                    JlamaInternals.matmulWeights(fast.installation().model())) {
                assertTrue(
                        ProductThreads.decodePass(w, 1), "a decode pass of the fast model runs on the product threads");
                assertFalse(ProductThreads.decodePass(w, 64), "prefill keeps Jlama's pchunk");
            }
            for (AbstractTensor w :
                    JlamaInternals.matmulWeights(jlama.installation().model())) {
                assertFalse(ProductThreads.decodePass(w, 1), "tensor_ops jlama keeps Jlama's threads");
            }
            int[] tokens = fast.encode("One day, Tom saw a big red ball in the park and ran to get it.", true);
            double worst = 0;
            boolean differ = false;
            for (int token : tokens) {
                float[] mine = a.append(token);
                float[] theirs = b.append(token);
                double scale = 0;
                for (float v : theirs) scale = Math.max(scale, Math.abs(v));
                assertTrue(scale > 0, "all-zero logits");
                for (int v = 0; v < theirs.length; v++) {
                    worst = Math.max(worst, Math.abs(mine[v] - theirs[v]) / scale);
                    differ |= mine[v] != theirs[v];
                }
            }
            System.out.printf(
                    "tensor_ops fast vs jlama, stories260K hybrid decode: %d steps, max relative logit difference %.3g%n",
                    tokens.length, worst);
            assertTrue(worst < 1e-4, "max relative logit difference " + worst);
            assertTrue(differ, "the fast products should have run (bit-identical logits mean they did not)");
        }
    }

    private static Profile stories260K(Mode mode) {
        return Profile.defaults(ModelReference.local(Stories260K.dir()))
                .withMode(mode)
                .withBackend(Backend.CPU);
    }

    private static String feedForwardClass(TransformerBlock block) {
        try {
            var f = TransformerBlock.class.getDeclaredField("ffBlock");
            f.setAccessible(true);
            return f.get(block).getClass().getSimpleName();
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    private static void assertSameLogits(DiJiangModel fast, DiJiangModel jlama, String mode) {
        int[] tokens = fast.encode("Once upon a time, there was a little girl named Lily. She loved", true);
        try (Session a = fast.newSession();
                Session b = jlama.newSession()) {
            float[][] mine = a.appendAll(tokens);
            float[][] theirs = b.appendAll(tokens);
            double worst = 0;
            boolean differ = false;
            for (int p = 0; p < tokens.length; p++) {
                double scale = 0;
                for (float v : theirs[p]) scale = Math.max(scale, Math.abs(v));
                for (int v = 0; v < theirs[p].length; v++) {
                    worst = Math.max(worst, Math.abs(mine[p][v] - theirs[p][v]) / scale);
                    differ |= mine[p][v] != theirs[p][v];
                }
            }
            System.out.printf(
                    "tensor_ops fast vs jlama, stories260K %s: %d positions, max relative logit difference" + " %.3g%n",
                    mode, tokens.length, worst);
            assertTrue(worst < 1e-4, "max relative logit difference " + worst);
            assertTrue(differ, "the fast products should have run (bit-identical logits mean they did not)");
        }
    }
}
