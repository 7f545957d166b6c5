package io.dijiang4j.attention.qmc;

import java.util.SplittableRandom;

/**
 * Pseudo-random (i.i.d.) points for comparison with the quasi-random ones. Point i is drawn from its own
 * SplittableRandom seeded by (seed, i), so any point can be asked for in any order and the sequence is the same on
 * every run and machine.
 */
public final class MonteCarlo implements PointSet {
    private final int dims;
    private final long seed;

    public MonteCarlo(int dims, long seed) {
        if (dims < 1) throw new IllegalArgumentException("dimension must be >= 1: " + dims);
        this.dims = dims;
        this.seed = seed;
    }

    @Override
    public int dims() {
        return dims;
    }

    @Override
    public void point(long index, double[] out) {
        SplittableRandom random = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (index + 1)));
        for (int j = 0; j < dims; j++) out[j] = Halton.openUnit(random.nextDouble());
    }
}
