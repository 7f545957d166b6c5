package io.dijiang4j.attention.qmc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class SamplingTest {
    @Test
    void inverseCdfMatchesKnownValues() {
        // reference values: R qnorm / Wichura's paper
        assertEquals(0.0, NormalQuantile.inverseCdf(0.5), 0);
        assertEquals(1.959963984540054, NormalQuantile.inverseCdf(0.975), 1e-14);
        assertEquals(-1.959963984540054, NormalQuantile.inverseCdf(0.025), 1e-14);
        assertEquals(-6.361340902404056, NormalQuantile.inverseCdf(1e-10), 1e-13);
        assertEquals(0.8413447460685429, NormalQuantile.cdf(1), 1e-15);
        assertEquals(2.866515718791939e-7, NormalQuantile.cdf(-5), 1e-20);
    }

    @Test
    void inverseCdfRoundTripsToRelativeAccuracy1e9IncludingTails() {
        double[] ps = {
            1e-300, 1e-200, 1e-100, 1e-50, 1e-20, 1e-10, 1e-5, 0.001, 0.02425, 0.05, 0.1, 0.3, 0.4999, 0.5001, 0.7, 0.9,
            0.97575, 0.999, 1 - 1e-6, 1 - 1e-12
        };
        for (double p : ps) {
            double x = NormalQuantile.inverseCdf(p);
            assertTrue(Double.isFinite(x));
            double back = NormalQuantile.cdf(x);
            double tail = Math.min(p, 1 - p); // compare in the tail that carries the digits
            double backTail = p < 0.5 ? back : 1 - back;
            assertEquals(tail, backTail, 1e-9 * tail, "p=" + p);
            if (p > 1e-15 && p < 0.5) { // symmetry on an exactly complementary pair: upper = 1 - lower exactly
                double upper = 1 - p, lower = 1 - upper;
                double xl = NormalQuantile.inverseCdf(lower);
                assertEquals(-xl, NormalQuantile.inverseCdf(upper), 1e-9 * Math.max(1, Math.abs(xl)), "p=" + p);
            }
        }
        // dense check in the central and intermediate regions, where the rational pieces meet
        for (int i = 1; i < 2000; i++) {
            double p = i / 2000.0;
            double back = NormalQuantile.cdf(NormalQuantile.inverseCdf(p));
            assertEquals(p, back, 1e-9 * Math.min(p, 1 - p), "p=" + p);
        }
        assertThrows(IllegalArgumentException.class, () -> NormalQuantile.inverseCdf(1.5));
        assertEquals(Double.NEGATIVE_INFINITY, NormalQuantile.inverseCdf(0));
    }

    @Test
    void chiQuantileMatchesKnownValues() {
        // qchisq(0.5, 1) = 0.4549364231195724, qchisq(0.95, 10) = 18.30703805327515 (R)
        assertEquals(Math.sqrt(0.4549364231195724), ChiQuantile.quantile(1, 0.5), 1e-10);
        assertEquals(Math.sqrt(18.30703805327515), ChiQuantile.quantile(10, 0.95), 1e-10);
        for (int k : new int[] {1, 8, 64}) {
            for (double u : new double[] {1e-6, 0.1, 0.5, 0.9, 1 - 1e-6}) {
                double r = ChiQuantile.quantile(k, u);
                assertEquals(u, ChiQuantile.regularizedGammaP(k / 2.0, r * r / 2), 1e-12);
            }
        }
    }

    @Test
    void pointSetsAreSeededReproducibleAndInsideTheOpenCube() {
        for (PointSet a : new PointSet[] {new Halton(5, 3), new MonteCarlo(5, 3)}) {
            PointSet b = a instanceof Halton ? new Halton(5, 3) : new MonteCarlo(5, 3);
            PointSet other = a instanceof Halton ? new Halton(5, 4) : new MonteCarlo(5, 4);
            double[] x = new double[5], y = new double[5], z = new double[5];
            boolean differs = false;
            for (int i = 0; i < 200; i++) {
                a.point(i, x);
                b.point(i, y);
                other.point(i, z);
                assertArrayEquals(x, y);
                differs |= !Arrays.equals(x, z);
                for (double u : x) assertTrue(u > 0 && u < 1);
            }
            assertTrue(differs, "another seed gives other points");
        }
        // fixed values: the same on every machine (SplittableRandom and the digit permutations are specified)
        double[] p = new double[2];
        new Halton(2, 0).point(0, p);
        double first = p[0];
        new Halton(2, 0).point(0, p);
        assertEquals(first, p[0], 0);
    }

    @Test
    void haltonIntegratesMoreEvenlyThanMonteCarlo() {
        // mean over seeds of |average of f(u) - integral|, f(u) = prod_j (1 + (u_j - 1/2)) ... integral 1
        int n = 256, dims = 4, seeds = 20;
        double errQ = 0, errM = 0;
        double[] u = new double[dims];
        for (int s = 0; s < seeds; s++) {
            PointSet q = new Halton(dims, s), m = new MonteCarlo(dims, s);
            double sq = 0, sm = 0;
            for (int i = 0; i < n; i++) {
                q.point(i, u);
                sq += f(u);
                m.point(i, u);
                sm += f(u);
            }
            errQ += Math.abs(sq / n - 1);
            errM += Math.abs(sm / n - 1);
        }
        assertTrue(errQ < errM / 3, "QMC error " + errQ / seeds + " vs MC " + errM / seeds);
        assertFalse(Double.isNaN(errQ));
    }

    private static double f(double[] u) {
        double p = 1;
        for (double x : u) p *= 1 + 2 * (x - 0.5) * (x - 0.5) * 3 - 0.5; // each factor integrates to 1
        return p;
    }
}
