package io.dijiang4j.attention.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.AttentionState;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.FeatureMaps;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * 1,000,000 positions through the recurrent form (d = 8, m = 8, one head), with decay 31/32 and without, against a
 * plain float64 recurrence (S = lambda S + phi(k) v^T with phi in absolute scale; no offsets needed in double at
 * this input size). Every 97th position is compared; no output may be NaN or infinite.
 */
class LongSequenceTest {
    static final int POSITIONS = 1_000_000;

    @Test
    void withoutDecay() {
        run(1.0);
    }

    @Test
    void withDecay31Over32() {
        run(31.0 / 32);
    }

    private void run(double lambda) {
        int d = 8, m = 8;
        FeatureMap map = FeatureMaps.create("performer", d, m, 77);
        AttentionShape shape = new AttentionShape(1, 1, d);
        AttentionSpec spec = AttentionSpec.linear(map, d);
        if (lambda != 1.0) spec = spec.withDecay(new double[] {lambda});
        AttentionKernel kernel = new CpuKernelProvider().create(shape, spec);
        AttentionState state = kernel.newState();
        double root = Math.sqrt(spec.scale());
        double[] s = new double[m * d], z = new double[m], x = new double[d], f = new double[m];
        float[] q = new float[d], k = new float[d], v = new float[d], out = new float[d];
        SplittableRandom random = new SplittableRandom(2024);
        double worst = 0;
        for (int n = 0; n < POSITIONS; n++) {
            for (int i = 0; i < d; i++) {
                q[i] = (float) gaussian(random);
                k[i] = (float) gaussian(random);
                v[i] = (float) gaussian(random);
            }
            kernel.forward(state, q, k, v, out, 1);
            for (int i = 0; i < d; i++) x[i] = root * k[i];
            map.logKeyFeatures(x, 0, f, 0);
            for (int l = 0; l < m; l++) {
                double phi = Math.exp(f[l]);
                z[l] = lambda * z[l] + phi;
                for (int i = 0; i < d; i++) s[l * d + i] = lambda * s[l * d + i] + phi * v[i];
            }
            for (int i = 0; i < d; i++) assertTrue(Float.isFinite(out[i]), "non-finite output at " + n);
            if (n % 97 == 0 || n == POSITIONS - 1) {
                for (int i = 0; i < d; i++) x[i] = root * q[i];
                map.logQueryFeatures(x, 0, f, 0);
                double den = 0, maxRef = 0, maxDiff = 0;
                double[] num = new double[d];
                for (int l = 0; l < m; l++) {
                    double phi = Math.exp(f[l]);
                    den += phi * z[l];
                    for (int i = 0; i < d; i++) num[i] += phi * s[l * d + i];
                }
                for (int i = 0; i < d; i++) {
                    double ref = num[i] / den;
                    maxRef = Math.max(maxRef, Math.abs(ref));
                    maxDiff = Math.max(maxDiff, Math.abs(ref - out[i]));
                }
                worst = Math.max(worst, maxDiff / maxRef);
            }
        }
        System.out.printf("lambda=%s: worst relative error over %d positions %.3e%n", lambda, POSITIONS, worst);
        assertTrue(worst < 1e-4, "recurrent vs float64 recurrence: " + worst);
    }

    static double gaussian(SplittableRandom random) {
        double u = random.nextDouble(), w = random.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * w);
    }
}
