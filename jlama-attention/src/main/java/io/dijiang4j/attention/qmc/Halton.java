package io.dijiang4j.attention.qmc;

import java.util.SplittableRandom;

/**
 * A randomized Halton sequence in [0,1)^dims: dimension j uses the j-th prime as base, its digits go through a
 * seeded random permutation that keeps 0 fixed (scrambling breaks the correlation between high dimensions), and
 * the point is shifted by a seeded uniform modulo 1 (Cranley-Patterson rotation: each point is then uniformly
 * distributed, so estimates stay unbiased and different seeds give independent replicas). Fully determined by
 * the seed: the same points on every run and machine.
 */
public final class Halton implements PointSet {
    private final int dims;
    private final int[] bases;
    private final int[][] permutations;
    private final double[] shifts;

    public Halton(int dims, long seed) {
        if (dims < 1) throw new IllegalArgumentException("Halton dimension must be >= 1: " + dims);
        this.dims = dims;
        this.bases = firstPrimes(dims);
        this.permutations = new int[dims][];
        this.shifts = new double[dims];
        SplittableRandom random = new SplittableRandom(seed);
        for (int j = 0; j < dims; j++) {
            int b = bases[j];
            int[] perm = new int[b];
            for (int i = 0; i < b; i++) perm[i] = i;
            for (int i = b - 1; i > 1; i--) { // Fisher-Yates on 1..b-1: 0 stays 0
                int r = 1 + random.nextInt(i);
                int t = perm[i];
                perm[i] = perm[r];
                perm[r] = t;
            }
            permutations[j] = perm;
            shifts[j] = random.nextDouble();
        }
    }

    @Override
    public int dims() {
        return dims;
    }

    /** Point {@code index} (0-based; the unscrambled sequence's index + 1, so the origin is skipped). */
    @Override
    public void point(long index, double[] out) {
        for (int j = 0; j < dims; j++) {
            int b = bases[j];
            int[] perm = permutations[j];
            long n = index + 1;
            double f = 1.0 / b, u = 0;
            while (n > 0) {
                u += perm[(int) (n % b)] * f;
                n /= b;
                f /= b;
            }
            u += shifts[j];
            if (u >= 1) u -= 1;
            out[j] = openUnit(u);
        }
    }

    /** Keeps a point strictly inside (0, 1) so the inverse CDF stays finite. */
    static double openUnit(double u) {
        if (u <= 0) return 0x1p-53;
        if (u >= 1) return 1 - 0x1p-53;
        return u;
    }

    static int[] firstPrimes(int count) {
        int[] primes = new int[count];
        int found = 0;
        for (int n = 2; found < count; n++) {
            boolean prime = true;
            for (int i = 0; i < found && primes[i] * primes[i] <= n; i++) {
                if (n % primes[i] == 0) {
                    prime = false;
                    break;
                }
            }
            if (prime) primes[found++] = n;
        }
        return primes;
    }
}
