package io.dijiang4j.attention.fit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.CentroidFeatureMap;
import io.dijiang4j.attention.features.FeatureMaps;
import io.dijiang4j.attention.features.ProjectionFeatureMap;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class MemoryFitTest {
    private static final int D = 8;
    private static final double TAU = 1 / Math.sqrt(D);

    @Test
    void objectiveMatchesTheDefinition() {
        SplittableRandom random = new SplittableRandom(2);
        List<KvHeadSequence> data =
                List.of(FitData.attentionLike(random, 2, 37, D, 4), FitData.attentionLike(random, 2, 21, D, 4));
        FitSettings settings = FitSettings.of(TAU, 2, 5);
        for (String kind : List.of("performer", "wdcf", "dijiang-code")) {
            FeatureMap map = FeatureMaps.create(kind, D, 12, 7);
            double expected = naiveObjective(map, data, settings, null);
            assertEquals(expected, MemoryFit.objective(map, data, settings), 1e-10 * expected, kind);
        }
    }

    @Test
    void fittedWeightsLowerTheObjectiveForEveryMap() {
        SplittableRandom random = new SplittableRandom(3);
        List<KvHeadSequence> data =
                List.of(FitData.attentionLike(random, 2, 70, D, 4), FitData.attentionLike(random, 2, 45, D, 4));
        FitSettings settings = FitSettings.of(TAU, 2, 8); // 3k candidate pairs: no subsampling
        List<FeatureMap> maps = List.of(
                FeatureMaps.create("performer", D, 16, 1),
                FeatureMaps.create("pff", D, 16, 1),
                FeatureMaps.create("wdcf", D, 16, 1),
                FeatureMaps.create("dijiang-code", D, 16, 1),
                MemoryFit.fitCentroids(MemoryFit.keysOf(data, 2), 16, TAU, 5));
        for (FeatureMap base : maps) {
            MemoryFit.Result fit = MemoryFit.fitWeights(base, data, settings);
            assertEquals(fit.candidatePairs(), fit.sampledPairs());
            for (double x : fit.weights()) assertTrue(Double.isFinite(x) && x >= 0, base.name() + ": " + x);
            double uniform = MemoryFit.objective(base, data, settings);
            assertEquals(uniform, fit.uniformObjective(), 1e-9 * uniform, base.name());
            assertEquals(naiveObjective(base, data, settings, null), uniform, 1e-9 * uniform);
            assertTrue(fit.fittedObjective() < 0.99 * uniform, base.name() + " " + fit);
            assertTrue(fit.fittedObjective() < fit.zeroObjective(), base.name() + " better than no memory");
            // the map the weights give (log weights rounded to float) has the fitted objective
            FeatureMap fitted = fit.apply(base);
            assertEquals(base.getClass(), fitted.getClass());
            double applied = MemoryFit.objective(fitted, data, settings);
            assertEquals(fit.fittedObjective(), applied, 1e-4 * uniform, base.name());
            assertEquals(naiveObjective(base, data, settings, fit.weights()), fit.fittedObjective(), 1e-9 * uniform);
        }
    }

    @Test
    void recoversPlantedWeightsOfAnExactCentroidMap() {
        SplittableRandom random = new SplittableRandom(4);
        int m = 16;
        double[][] centers = FitData.centers(random, m, D);
        List<KvHeadSequence> data = List.of(FitData.onCenters(random, centers, 2, 90));
        double[] planted = new double[m];
        for (int l = 0; l < m; l++) planted[l] = 0.2 + 4 * random.nextDouble();
        CentroidFeatureMap base =
                CentroidFeatureMap.fromKeyCentroids(centers, TAU).withWeights(planted);
        MemoryFit.Result fit = MemoryFit.fitWeights(base, data, FitSettings.of(TAU, 1, 6));
        for (int l = 0; l < m; l++) assertEquals(1 / planted[l], fit.weights()[l], 1e-4 / planted[l], "feature " + l);
        assertTrue(fit.fittedObjective() < 1e-8 * fit.zeroObjective(), fit.toString());
        CentroidFeatureMap exact = (CentroidFeatureMap) fit.apply(base);
        for (double w : exact.weights()) assertEquals(1, w, 1e-4);
    }

    /**
     * One pass for several windows solves each window's own objective: without subsampling every window's weights
     * equal its single-window fit (same pairs; only the shared column scaling and the summation order differ).
     */
    @Test
    void severalWindowsInOnePassEqualSingleWindowFits() {
        SplittableRandom random = new SplittableRandom(7);
        List<KvHeadSequence> data =
                List.of(FitData.attentionLike(random, 2, 41, D, 4), FitData.attentionLike(random, 2, 33, D, 4));
        int[] windows = {3, 6, 11, 20};
        FeatureMap base = FeatureMaps.create("pff", D, 6, 3);
        FitSettings settings = FitSettings.of(TAU, 2, 0);
        MemoryFit.Result[] all = MemoryFit.fitWeights(base, data, settings, windows);
        assertEquals(windows.length, all.length);
        for (int i = 0; i < windows.length; i++) {
            FitSettings one = FitSettings.of(TAU, 2, windows[i]);
            MemoryFit.Result single = MemoryFit.fitWeights(base, data, one);
            assertEquals(single.candidatePairs(), all[i].candidatePairs(), "window " + windows[i]);
            assertEquals(single.sampledPairs(), all[i].sampledPairs(), "window " + windows[i]);
            assertEquals(single.zeroObjective(), all[i].zeroObjective(), 1e-12 * single.zeroObjective());
            double scale = 0;
            for (double x : single.weights()) scale = Math.max(scale, x);
            for (int l = 0; l < single.weights().length; l++) {
                assertEquals(single.weights()[l], all[i].weights()[l], 1e-6 * scale, "window " + windows[i] + " w" + l);
            }
            // and it is the optimum of that window's objective: no worse than the single fit's
            double a = MemoryFit.objective(all[i].apply(base), data, one);
            double b = MemoryFit.objective(single.apply(base), data, one);
            assertEquals(b, a, 1e-6 * b);
        }
        assertThrows(
                IllegalArgumentException.class, () -> MemoryFit.fitWeights(base, data, settings, new int[] {6, 3}));
    }

    @Test
    void subsamplingIsDeterministicCappedAndStillHelps() {
        SplittableRandom random = new SplittableRandom(5);
        List<KvHeadSequence> data = List.of(FitData.attentionLike(random, 3, 160, D, 4));
        FitSettings settings = FitSettings.of(TAU, 2, 8).withSampling(2000, 11);
        FeatureMap base = FeatureMaps.create("pff", D, 16, 3);
        MemoryFit.Result a = MemoryFit.fitWeights(base, data, settings);
        MemoryFit.Result b = MemoryFit.fitWeights(base, data, settings);
        assertArrayEquals(a.weights(), b.weights(), 0);
        assertTrue(a.candidatePairs() > 10 * settings.maxPairs());
        assertTrue(a.sampledPairs() > 1000 && a.sampledPairs() < 3000, "about maxPairs pairs: " + a.sampledPairs());
        MemoryFit.Result other = MemoryFit.fitWeights(base, data, settings.withSampling(2000, 12));
        assertTrue(other.sampledPairs() != a.sampledPairs() || !java.util.Arrays.equals(other.weights(), a.weights()));
        double uniform = MemoryFit.objective(base, data, settings);
        double fitted = MemoryFit.objective(a.apply(base), data, settings);
        assertTrue(fitted < 0.99 * uniform, "the sampled fit generalizes to every pair: " + fitted + " vs " + uniform);
    }

    @Test
    void fitCentroidsFindsPlantedKeyClusters() {
        SplittableRandom random = new SplittableRandom(6);
        int m = 6;
        double[][] centers = FitData.centers(random, m, D);
        double[][] keys = new double[120][D];
        for (int n = 0; n < keys.length; n++) {
            for (int i = 0; i < D; i++) keys[n][i] = centers[n % m][i] + 0.05 * random.nextGaussian();
        }
        CentroidFeatureMap map = MemoryFit.fitCentroids(keys, m, TAU, 9);
        assertEquals(map, MemoryFit.fitCentroids(keys, m, TAU, 9));
        assertEquals(m, map.numFeatures());
        float[] scaled = map.scaledCentroids();
        double root = Math.sqrt(TAU);
        for (double[] c : centers) {
            double best = Double.POSITIVE_INFINITY;
            for (int l = 0; l < m; l++) {
                double s = 0;
                for (int i = 0; i < D; i++) s += Math.pow(scaled[l * D + i] - root * c[i], 2);
                best = Math.min(best, Math.sqrt(s));
            }
            assertTrue(best < 0.05, "a planted center is a fitted centroid (scaled by sqrt(tau)): " + best);
        }
    }

    @Test
    void kernelWeightsMultiplyEveryFeatureTermOfProjectionMaps() {
        SplittableRandom random = new SplittableRandom(8);
        double[] x = new double[] {2, 0, 0.5, 1, 7, 0.01};
        for (String kind : FeatureMaps.KINDS) {
            ProjectionFeatureMap base = FeatureMaps.create(kind, D, 6, 4);
            ProjectionFeatureMap weighted = base.withKernelWeights(x);
            assertEquals(base.isSymmetric(), weighted.isSymmetric());
            double[] q = new double[D], k = new double[D];
            for (int i = 0; i < D; i++) {
                q[i] = random.nextGaussian();
                k[i] = random.nextGaussian();
            }
            double[] bq = new double[6], bk = new double[6], wq = new double[6], wk = new double[6];
            base.logQueryFeatures(q, 0, bq, 0);
            base.logKeyFeatures(k, 0, bk, 0);
            weighted.logQueryFeatures(q, 0, wq, 0);
            weighted.logKeyFeatures(k, 0, wk, 0);
            for (int l = 0; l < 6; l++) {
                assertTrue(Double.isFinite(wq[l]) && Double.isFinite(wk[l]), kind);
                double term = Math.exp(wq[l] + wk[l]);
                if (x[l] == 0) assertEquals(0, term, kind + " feature switched off");
                else assertEquals(x[l] * Math.exp(bq[l] + bk[l]), term, 1e-5 * term, kind + " feature " + l);
            }
            assertEquals(weighted, FeatureMaps.withKernelWeights(base, x));
        }
        ProjectionFeatureMap map = FeatureMaps.create("wdcf", D, 3, 1);
        assertThrows(IllegalArgumentException.class, () -> map.withKernelWeights(new double[] {0, 0, 0}));
        assertThrows(IllegalArgumentException.class, () -> map.withKernelWeights(new double[] {1, Double.NaN, 1}));
        assertThrows(IllegalArgumentException.class, () -> map.withKernelWeights(new double[] {1, 1}));
    }

    @Test
    void rejectsDataWithoutEvictedPairs() {
        SplittableRandom random = new SplittableRandom(9);
        List<KvHeadSequence> shortData = List.of(FitData.attentionLike(random, 1, 10, D, 3));
        FeatureMap map = FeatureMaps.create("pff", D, 4, 1);
        var e = assertThrows(
                IllegalArgumentException.class, () -> MemoryFit.fitWeights(map, shortData, FitSettings.of(TAU, 4, 6)));
        assertTrue(e.getMessage().contains("no evicted pairs"), e.getMessage());
    }

    /** The objective straight from its definition (weights x multiply the kernel terms; null: 1). */
    private static double naiveObjective(FeatureMap map, List<KvHeadSequence> data, FitSettings s, double[] x) {
        int m = map.numFeatures();
        double root = Math.sqrt(s.scale());
        double total = 0;
        for (KvHeadSequence seq : data) {
            for (double[][] head : seq.queries()) {
                for (int n = s.sinks() + s.window(); n < seq.length(); n++) {
                    double[] logits = new double[n + 1];
                    double c = Double.NEGATIVE_INFINITY, z = 0;
                    for (int j = 0; j <= n; j++) {
                        double dot = 0;
                        for (int i = 0; i < D; i++) dot += head[n][i] * seq.keys()[j][i];
                        logits[j] = s.scale() * dot;
                        c = Math.max(c, logits[j]);
                    }
                    for (int j = 0; j <= n; j++) z += Math.exp(logits[j] - c);
                    double[] xq = new double[D], fq = new double[m];
                    for (int i = 0; i < D; i++) xq[i] = root * head[n][i];
                    map.logQueryFeatures(xq, 0, fq, 0);
                    for (int j = s.sinks(); j <= n - s.window(); j++) {
                        double[] xk = new double[D], fk = new double[m];
                        for (int i = 0; i < D; i++) xk[i] = root * seq.keys()[j][i];
                        map.logKeyFeatures(xk, 0, fk, 0);
                        double kernel = 0;
                        for (int l = 0; l < m; l++) kernel += (x == null ? 1 : x[l]) * Math.exp(fq[l] + fk[l] - c);
                        double t = Math.exp(logits[j] - c);
                        total += t / z * (kernel - t) * (kernel - t);
                    }
                }
            }
        }
        return total;
    }
}
