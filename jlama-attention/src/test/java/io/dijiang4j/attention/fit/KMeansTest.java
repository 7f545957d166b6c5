package io.dijiang4j.attention.fit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class KMeansTest {
    @Test
    void deterministicForASeed() {
        double[][] points = randomPoints(new SplittableRandom(1), 300, 5);
        KMeans.Result a = KMeans.fit(points, 8, 42);
        KMeans.Result b = KMeans.fit(points, 8, 42);
        assertTrue(Arrays.deepEquals(a.centroids(), b.centroids()));
        assertArrayEquals(a.assignments(), b.assignments());
        assertEquals(a.inertia(), b.inertia());
        int differing = 0;
        for (long seed = 43; seed < 48; seed++) {
            differing +=
                    Arrays.deepEquals(a.centroids(), KMeans.fit(points, 8, seed).centroids()) ? 0 : 1;
        }
        assertTrue(differing > 0, "other seeds give other local optima on unstructured data");
    }

    @Test
    void recoversWellSeparatedPlantedClusters() {
        SplittableRandom random = new SplittableRandom(7);
        int k = 5, d = 6, perCluster = 40;
        double[][] centers = new double[k][d];
        for (int c = 0; c < k; c++) centers[c][c] = 50 + 10 * random.nextDouble(); // pairwise distance >= 70
        double[][] points = new double[k * perCluster][d];
        for (int p = 0; p < points.length; p++) {
            for (int i = 0; i < d; i++) points[p][i] = centers[p % k][i] + random.nextGaussian();
        }
        for (long seed = 0; seed < 5; seed++) {
            KMeans.Result result = KMeans.fit(points, k, seed);
            assertTrue(result.converged());
            int[] clusterOf = new int[k];
            Arrays.fill(clusterOf, -1);
            Set<Integer> used = new HashSet<>();
            for (int p = 0; p < points.length; p++) {
                int planted = p % k, found = result.assignments()[p];
                if (clusterOf[planted] < 0) {
                    clusterOf[planted] = found;
                    assertTrue(used.add(found), "two planted clusters merged");
                }
                assertEquals(clusterOf[planted], found, "a planted cluster was split");
            }
            for (int c = 0; c < k; c++) {
                double dist = Math.sqrt(KMeans.squaredDistance(result.centroids()[clusterOf[c]], centers[c]));
                assertTrue(dist < 1.0, "centroid " + c + " off by " + dist);
            }
        }
    }

    @Test
    void fewerPointsThanClustersGiveFiniteCopiesThatStayEmpty() {
        double[][] points = {{1.5, -2}, {3, 4}, {-7, 0.25}};
        KMeans.Result result = KMeans.fit(points, 6, 9);
        assertEquals(6, result.centroids().length);
        for (double[] c : result.centroids()) {
            for (double v : c) assertTrue(Double.isFinite(v));
            assertTrue(Arrays.stream(points).anyMatch(p -> Arrays.equals(p, c)), "every centroid is a point");
        }
        assertEquals(0, result.inertia());
        Set<Integer> used = new HashSet<>();
        for (int a : result.assignments()) used.add(a);
        assertEquals(3, used.size(), "each point its own cluster; the copies get none");
        for (int p = 0; p < 3; p++) assertArrayEquals(points[p], result.centroids()[result.assignments()[p]]);
        // two distinct points repeated: k = 4 gives two real clusters and two copies
        double[][] repeated = new double[10][];
        for (int p = 0; p < 10; p++) repeated[p] = p % 2 == 0 ? new double[] {1, 1} : new double[] {-2, 5};
        KMeans.Result r2 = KMeans.fit(repeated, 4, 3);
        assertEquals(0, r2.inertia());
        assertEquals(2, Arrays.stream(r2.assignments()).distinct().count());
    }

    @Test
    void rejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> KMeans.fit(new double[0][], 2, 0));
        assertThrows(IllegalArgumentException.class, () -> KMeans.fit(new double[][] {{1}}, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> KMeans.fit(new double[][] {{1}, {Double.NaN}}, 1, 0));
    }

    private static double[][] randomPoints(SplittableRandom random, int n, int d) {
        double[][] p = new double[n][d];
        for (double[] row : p) {
            for (int i = 0; i < d; i++) row[i] = random.nextGaussian() * (1 + i);
        }
        return p;
    }
}
