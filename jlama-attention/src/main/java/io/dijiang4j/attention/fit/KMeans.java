package io.dijiang4j.attention.fit;

import java.util.SplittableRandom;

/**
 * k-means in float64: k-means++ seeding (Arthur and Vassilvitskii, 2007) from a {@link SplittableRandom} of the
 * given seed, then Lloyd iterations until no assignment changes or the iteration cap. Same points, k and seed give
 * the same result on every run and machine.
 *
 * <p>Conventions: a point goes to its nearest centroid by squared Euclidean distance, ties to the lowest index. A
 * cluster left empty by an iteration is re-seeded at the point farthest from its own centroid (ties: lowest point
 * index; each point re-seeds at most one cluster per iteration), which is deterministic and lowers the inertia.
 * With fewer than k distinct points (in particular n < k) the surplus centroids are copies of points already
 * chosen (once every point coincides with a centroid, seeding takes point {@code c mod n} for centroid c); copies never
 * receive a point, because ties go to the lower index, and are never re-seeded, since every point then sits at
 * distance 0. The result always has exactly k finite centroids.
 */
public final class KMeans {
    /** Lloyd iterations when the caller does not say. */
    public static final int DEFAULT_MAX_ITERATIONS = 100;

    private KMeans() {}

    /**
     * @param centroids [k][d]
     * @param assignments per point, the index of its centroid
     * @param iterations Lloyd iterations run
     * @param converged true when the last iteration changed no assignment
     * @param inertia sum of squared distances of the points to their centroids
     */
    public record Result(double[][] centroids, int[] assignments, int iterations, boolean converged, double inertia) {}

    public static Result fit(double[][] points, int k, long seed) {
        return fit(points, k, seed, DEFAULT_MAX_ITERATIONS);
    }

    /** k-means of {@code points} [n][d] into k clusters; see the class comment for the conventions. */
    public static Result fit(double[][] points, int k, long seed, int maxIterations) {
        if (points == null || points.length == 0)
            throw new IllegalArgumentException("k-means needs at least one point");
        if (k < 1) throw new IllegalArgumentException("k-means needs k >= 1: " + k);
        if (maxIterations < 0) throw new IllegalArgumentException("maxIterations must be >= 0: " + maxIterations);
        int n = points.length, d = points[0].length;
        for (double[] p : points) {
            if (p.length != d) throw new IllegalArgumentException("k-means points differ in dimension");
            for (double v : p) {
                if (!Double.isFinite(v)) throw new IllegalArgumentException("k-means point holds NaN or infinity");
            }
        }
        double[][] centroids = seed(points, k, new SplittableRandom(seed));
        int[] assignments = new int[n];
        double[] distance = new double[n];
        assign(points, centroids, assignments, distance);
        int iterations = 0;
        boolean converged = false;
        int[] counts = new int[k];
        boolean[] reseeded = new boolean[n];
        while (iterations < maxIterations) {
            iterations++;
            update(points, centroids, assignments, counts);
            java.util.Arrays.fill(reseeded, false);
            for (int c = 0; c < k; c++) {
                if (counts[c] > 0) continue;
                int far = -1; // farthest point from its own centroid, not yet used this iteration
                for (int i = 0; i < n; i++) {
                    if (!reseeded[i] && distance[i] > 0 && (far < 0 || distance[i] > distance[far])) far = i;
                }
                if (far < 0) continue; // every point sits on a centroid: c stays a copy
                reseeded[far] = true;
                centroids[c] = points[far].clone();
            }
            boolean changed = assign(points, centroids, assignments, distance);
            if (!changed) {
                converged = true;
                break;
            }
        }
        double inertia = 0;
        for (double v : distance) inertia += v;
        return new Result(centroids, assignments, iterations, converged, inertia);
    }

    /** k-means++: the first centroid uniform, each next one with probability proportional to D(x)^2. */
    private static double[][] seed(double[][] points, int k, SplittableRandom random) {
        int n = points.length;
        double[][] centroids = new double[k][];
        double[] nearest = new double[n];
        centroids[0] = points[random.nextInt(n)].clone();
        for (int i = 0; i < n; i++) nearest[i] = squaredDistance(points[i], centroids[0]);
        for (int c = 1; c < k; c++) {
            double total = 0;
            for (double v : nearest) total += v;
            int chosen;
            if (total > 0) {
                double target = random.nextDouble() * total;
                chosen = -1;
                double running = 0;
                for (int i = 0; i < n; i++) {
                    if (nearest[i] == 0) continue;
                    chosen = i; // the last point with mass, in case rounding leaves target past the sum
                    running += nearest[i];
                    if (running > target) break;
                }
            } else {
                chosen = c % n; // all points already covered: a copy (see the class comment)
            }
            centroids[c] = points[chosen].clone();
            for (int i = 0; i < n; i++) nearest[i] = Math.min(nearest[i], squaredDistance(points[i], centroids[c]));
        }
        return centroids;
    }

    /** Nearest centroid of each point (ties to the lowest index); returns whether any assignment changed. */
    private static boolean assign(double[][] points, double[][] centroids, int[] assignments, double[] distance) {
        boolean changed = false;
        for (int i = 0; i < points.length; i++) {
            int best = 0;
            double bestDistance = squaredDistance(points[i], centroids[0]);
            for (int c = 1; c < centroids.length; c++) {
                double dist = squaredDistance(points[i], centroids[c]);
                if (dist < bestDistance) {
                    bestDistance = dist;
                    best = c;
                }
            }
            changed |= assignments[i] != best;
            assignments[i] = best;
            distance[i] = bestDistance;
        }
        return changed;
    }

    /** Centroids = means of their points; clusters without points keep their centroid (counts[c] = 0). */
    private static void update(double[][] points, double[][] centroids, int[] assignments, int[] counts) {
        int k = centroids.length, d = points[0].length;
        double[][] sums = new double[k][d];
        java.util.Arrays.fill(counts, 0);
        for (int i = 0; i < points.length; i++) {
            int c = assignments[i];
            counts[c]++;
            for (int j = 0; j < d; j++) sums[c][j] += points[i][j];
        }
        for (int c = 0; c < k; c++) {
            if (counts[c] == 0) continue;
            for (int j = 0; j < d; j++) centroids[c][j] = sums[c][j] / counts[c];
        }
    }

    static double squaredDistance(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double t = a[i] - b[i];
            s += t * t;
        }
        return s;
    }
}
