package io.dijiang4j.nativemodels.dijiang;

/**
 * One head's DiJiang decay, the score weight {@code D1[n] D2[j]} (j <= n), in the form the kernel library's
 * per-position decay takes ({@code io.dijiang4j.attention.ops.linear}: {@code S_n = lambda_n S_(n-1) + phi(k_n)
 * v_n^T} with {@code log lambda_n <= 0}).
 *
 * <p>With {@code a_n = D1[n]/D1[n-1]} ({@code a_0 = 1}), {@code b_n = D1[n] D2[n]} and {@code P_n = a_1 ... a_n}
 * the weight is {@code (P_n / P_j) b_j}. Trained tables are not monotone (a_n > 1 at some positions, so log a_n is
 * not a decay), hence {@code log |P|} is split into its running minimum E (non-increasing: the kernel's decay, step
 * {@code E_n - E_(n-1) <= 0}) and the rise above it {@code rho_n = log |P_n| - E_n >= 0}: the weight is {@code
 * exp(E_n - E_j) * outputScale_n * valueScale_j}, {@code outputScale_n = s_n exp(rho_n)}, {@code valueScale_j =
 * s_j b_j exp(-rho_j)}, s the sign of P. rho is bounded by the table's largest rise over an earlier minimum (0 for a
 * monotone table), so neither scale grows with the position: no {@code lambda^(-n)} is formed.
 *
 * <p>Past the usable stored positions (all of them unless one is zero or not finite) {@code a_n = gamma, b_n = 1}.
 */
final class DiJiangDecay {
    private final double[] logStep; // E_n - E_(n-1), stored positions
    private final double[] valueScale; // s_n b_n exp(-rho_n)
    private final double[] outputScale; // s_n exp(rho_n)
    private final double logGamma;
    private final double lastRise; // rho at the last usable position (0 when none)
    private final double lastSign;

    /** From the usable coefficients a (a[0] ignored: nothing precedes position 0) and b; gamma in (0, 1). */
    DiJiangDecay(double[] a, double[] b, double gamma) {
        int usable = a.length;
        logStep = new double[usable];
        valueScale = new double[usable];
        outputScale = new double[usable];
        double logP = 0, envelope = 0, sign = 1, rise = 0;
        for (int n = 0; n < usable; n++) {
            if (n > 0) {
                logP += Math.log(Math.abs(a[n]));
                if (a[n] < 0) sign = -sign;
            }
            double next = Math.min(envelope, logP);
            logStep[n] = next - envelope;
            envelope = next;
            rise = logP - envelope;
            valueScale[n] = sign * b[n] * Math.exp(-rise);
            outputScale[n] = sign * Math.exp(rise);
        }
        this.logGamma = Math.log(gamma);
        this.lastRise = rise;
        this.lastSign = sign;
    }

    /** log of the kernel's decay at position n, finite and <= 0. */
    double logStep(long n) {
        if (n < logStep.length) return logStep[(int) n];
        // as differences of one monotone expression (not logGamma + a rise difference) so rounding keeps it <= 0
        return Math.min(0, riseLessFall(n)) - Math.min(0, riseLessFall(n - 1));
    }

    /** Factor on the value of the key at position n. */
    double valueScale(long n) {
        return n < valueScale.length ? valueScale[(int) n] : lastSign * Math.exp(-Math.max(0, riseLessFall(n)));
    }

    /** Factor on the output of the query at position n. */
    double outputScale(long n) {
        return n < outputScale.length ? outputScale[(int) n] : lastSign * Math.exp(Math.max(0, riseLessFall(n)));
    }

    /**
     * Past the table log |P| falls by -log gamma a step: {@code rho_last + (n - last) log gamma}, non-increasing in n;
     * its positive part is the rise rho_n, its negative part how far the envelope fell since the table.
     */
    private double riseLessFall(long n) {
        long past = n - (logStep.length - 1);
        return lastRise + past * logGamma;
    }
}
