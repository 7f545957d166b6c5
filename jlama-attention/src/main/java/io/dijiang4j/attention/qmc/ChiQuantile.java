package io.dijiang4j.attention.qmc;

/**
 * Quantiles of the chi distribution with k degrees of freedom (the norm of a k-dimensional standard Gaussian):
 * {@code r = sqrt(2 x)} with {@code P(k/2, x) = u}, P the regularized lower incomplete gamma function, inverted by
 * bisection in double precision.
 */
public final class ChiQuantile {
    private ChiQuantile() {}

    public static double quantile(int k, double u) {
        if (k < 1) throw new IllegalArgumentException("degrees of freedom must be >= 1: " + k);
        if (!(u > 0 && u < 1)) throw new IllegalArgumentException("probability must be in (0, 1): " + u);
        double a = k / 2.0;
        double lo = 0, hi = Math.max(1, a);
        while (regularizedGammaP(a, hi) < u) hi *= 2;
        for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
            double mid = 0.5 * (lo + hi);
            if (regularizedGammaP(a, mid) < u) lo = mid;
            else hi = mid;
        }
        return Math.sqrt(2 * 0.5 * (lo + hi));
    }

    /** P(a, x): series for x < a + 1, continued fraction (Lentz) otherwise (Numerical Recipes 6.2). */
    public static double regularizedGammaP(double a, double x) {
        if (x <= 0) return 0;
        double logPrefix = -x + a * Math.log(x) - logGamma(a);
        if (x < a + 1) {
            double ap = a, sum = 1 / a, del = sum;
            for (int n = 0; n < 10000; n++) {
                ap += 1;
                del *= x / ap;
                sum += del;
                if (Math.abs(del) < Math.abs(sum) * 1e-17) break;
            }
            return sum * Math.exp(logPrefix);
        }
        double tiny = 1e-300;
        double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
        for (int i = 1; i < 10000; i++) {
            double an = -i * (i - a);
            b += 2;
            d = an * d + b;
            if (Math.abs(d) < tiny) d = tiny;
            c = b + an / c;
            if (Math.abs(c) < tiny) c = tiny;
            d = 1 / d;
            double del = d * c;
            h *= del;
            if (Math.abs(del - 1) < 1e-17) break;
        }
        return 1 - Math.exp(logPrefix) * h;
    }

    /** log Gamma(x), x > 0 (Lanczos, g = 7, n = 9; about 1e-15 relative). */
    public static double logGamma(double x) {
        if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
        double[] g = {
            0.99999999999980993,
            676.5203681218851,
            -1259.1392167224028,
            771.32342877765313,
            -176.61502916214059,
            12.507343278686905,
            -0.13857109526572012,
            9.9843695780195716e-6,
            1.5056327351493116e-7
        };
        x -= 1;
        double sum = g[0];
        for (int i = 1; i < 9; i++) sum += g[i] / (x + i);
        double t = x + 7.5;
        return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(sum);
    }
}
