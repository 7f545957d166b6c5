package io.dijiang4j.attention.qmc;

/** A reproducible sequence of points in (0,1)^dims: quasi-Monte Carlo ({@link Halton}) or {@link MonteCarlo}. */
public interface PointSet {
    int dims();

    /** Writes point {@code index} into {@code out[0..dims)}, every coordinate strictly inside (0, 1). */
    void point(long index, double[] out);

    /** Point {@code index} mapped through the standard-normal inverse CDF coordinate by coordinate. */
    default void gaussianPoint(long index, double[] out) {
        point(index, out);
        for (int j = 0; j < dims(); j++) out[j] = NormalQuantile.inverseCdf(out[j]);
    }
}
