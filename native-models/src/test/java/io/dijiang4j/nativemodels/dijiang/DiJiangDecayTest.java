package io.dijiang4j.nativemodels.dijiang;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The split of {@link DiJiangDecay} reproduces the weight {@code b_j prod_(j<t<=n) a_t} for every pair j <= n, in
 * the table and past it, with every kernel step finite and <= 0, on tables that rise (a_n > 1), fall and change sign.
 */
class DiJiangDecayTest {

    @Test
    void factorsReproduceTheWeightOfEveryPair() {
        Random random = new Random(17);
        for (int trial = 0; trial < 20; trial++) {
            int stored = 1 + random.nextInt(13);
            double gamma = 1 - Math.exp(-2 - 4 * random.nextDouble());
            double[] a = new double[stored];
            double[] b = new double[stored];
            for (int n = 0; n < stored; n++) {
                // around gamma with 30% noise: a_n > 1 often; a sign flip now and then
                a[n] = n == 0 ? 1 : gamma * (1 + 0.3 * random.nextGaussian()) * (random.nextInt(7) == 0 ? -1 : 1);
                if (a[n] == 0) a[n] = gamma;
                b[n] = 0.5 + random.nextGaussian();
            }
            DiJiangDecay decay = new DiJiangDecay(a, b, gamma);
            int length = stored + 25;
            for (int n = 0; n < length; n++) {
                double step = decay.logStep(n);
                assertTrue(Double.isFinite(step) && step <= 0, "step " + step + " at " + n);
                double logDecay = 0; // sum of the steps over j < t <= n
                double product = 1; // prod of a_t over j < t <= n
                for (int j = n; j >= 0; j--) {
                    double bj = j < stored ? b[j] : 1;
                    double expected = bj * product;
                    double got = Math.exp(logDecay) * decay.outputScale(n) * decay.valueScale(j);
                    assertEquals(expected, got, 1e-12 * Math.max(1, Math.abs(expected)), "n=" + n + " j=" + j);
                    logDecay += decay.logStep(j);
                    product *= j < stored ? a[j] : gamma;
                }
            }
        }
    }

    @Test
    void aMonotoneTableNeedsNoScales() {
        double[] a = {1, 0.9, 0.8, 0.95};
        double[] b = {1, 1, 1, 1};
        DiJiangDecay decay = new DiJiangDecay(a, b, 0.9);
        for (int n = 0; n < 40; n++) {
            assertEquals(1.0, decay.outputScale(n), 0);
            assertEquals(1.0, decay.valueScale(n), 0);
        }
        assertEquals(Math.log(0.8), decay.logStep(2), 1e-15);
        assertEquals(Math.log(0.9), decay.logStep(30), 1e-15);
    }
}
