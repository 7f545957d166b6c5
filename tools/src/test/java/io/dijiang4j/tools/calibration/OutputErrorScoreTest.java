package io.dijiang4j.tools.calibration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.CentroidFeatureMap;
import io.dijiang4j.attention.features.OnlineCentroidMap;
import io.dijiang4j.attention.ops.hybrid.NaiveHybridAttention;
import io.dijiang4j.attention.ops.softmax.NaiveSoftmaxAttention;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The proxy of the recording calibration against its definition in float64 (naive hybrid, naive softmax, W_o). */
class OutputErrorScoreTest {
    private static final int D = 8, HEADS = 4, KV = 2, HIDDEN = 12, M = 6;
    private static final double TAU = 1 / Math.sqrt(D);
    private static final AttentionShape SHAPE = new AttentionShape(HEADS, KV, D);
    private static final ExecutorService POOL = Executors.newFixedThreadPool(2);

    @AfterAll
    static void stop() {
        POOL.shutdownNow();
    }

    @Test
    void scoreMatchesTheFloat64Definition() {
        SplittableRandom random = new SplittableRandom(3);
        int[] lengths = {37, 50, 23};
        AttentionRecorder.LayerRows rows = rows(random, lengths);
        double[][] oProj = gaussian(random, HIDDEN, HEADS * D, 1 / Math.sqrt(HEADS * D));
        OutputErrorScore score = new OutputErrorScore(SHAPE, oProj);
        FeatureMap[] maps = new FeatureMap[KV];
        for (int h = 0; h < KV; h++) {
            float[] centroids = new float[M * D], logWeights = new float[M];
            for (int i = 0; i < centroids.length; i++) centroids[i] = (float) (0.6 * random.nextGaussian());
            for (int i = 0; i < M; i++) logWeights[i] = (float) (0.5 * random.nextGaussian());
            maps[h] = new CentroidFeatureMap(D, centroids, logWeights);
        }
        List<AttentionSpec> candidates = new ArrayList<>();
        AttentionSpec hybrid = AttentionSpec.hybrid(maps[0], D, 2, 5)
                .withScale(TAU)
                .withBlockSize(16)
                .withKvHeadMaps(maps)
                .withMemoryGain(new double[] {0.7, 0, 1.3, 2.1});
        candidates.add(hybrid);
        candidates.add(hybrid.withMemoryGain(new double[4])); // memory off
        candidates.add(hybrid.withExactCache(3, ExactCachePolicy.HEAVY_HITTER));
        candidates.add(hybrid.withExactCache(2, ExactCachePolicy.SELF_RECALL));
        // the online centroid memory (the calibration-free candidate): no per-KV-head maps, gains per head
        AttentionSpec online = AttentionSpec.hybrid(new OnlineCentroidMap(D, 3), D, 2, 5)
                .withScale(TAU)
                .withBlockSize(16)
                .withMemoryGain(new double[] {1, 1, 0, 1});
        candidates.add(online);
        candidates.add(online.withExactCache(3, ExactCachePolicy.HEAVY_HITTER));
        for (AttentionSpec spec : candidates) {
            double expected = reference(rows, spec, oProj);
            double got = score.score(rows, h -> OutputErrorScore.kvHeadSpec(spec, SHAPE, h), POOL);
            assertTrue(expected > 1e-3, "a candidate with evicted tokens has an error: " + expected);
            assertEquals(expected, got, 1e-4 * expected, spec.exactCache() + " " + spec.cachePolicy());
        }
        // the window covers every text: the candidate is softmax, its score the float rounding of the recording
        AttentionSpec exact = AttentionSpec.hybrid(maps[0], D, 0, 64)
                .withScale(TAU)
                .withKvHeadMaps(maps)
                .withMemoryGain(new double[4]);
        double zero = score.score(rows, h -> OutputErrorScore.kvHeadSpec(exact, SHAPE, h), POOL);
        assertTrue(zero < 1e-9, "exact candidate scores " + zero);
    }

    /** Memory off: the one-feature spec the calibration runs gives the same score, bit for bit, as the fitted map. */
    @Test
    void memoryOffIgnoresTheMap() {
        SplittableRandom random = new SplittableRandom(11);
        AttentionRecorder.LayerRows rows = rows(random, new int[] {41, 29});
        OutputErrorScore score =
                new OutputErrorScore(SHAPE, gaussian(random, HIDDEN, HEADS * D, 1 / Math.sqrt(HEADS * D)));
        float[] centroids = new float[M * D], logWeights = new float[M];
        for (int i = 0; i < centroids.length; i++) centroids[i] = (float) (0.6 * random.nextGaussian());
        FeatureMap map = new CentroidFeatureMap(D, centroids, logWeights);
        AttentionSpec off = AttentionSpec.hybrid(map, D, 2, 6)
                .withScale(TAU)
                .withBlockSize(16)
                .withKvHeadMaps(new FeatureMap[] {map, map})
                .withMemoryGain(new double[HEADS]);
        for (AttentionSpec spec : List.of(off, off.withExactCache(3, ExactCachePolicy.HEAVY_HITTER))) {
            for (int h = 0; h < KV; h++) {
                AttentionSpec head = OutputErrorScore.kvHeadSpec(spec, SHAPE, h);
                AttentionSpec cheap = OutputErrorScore.withoutMemory(head, SHAPE.groupSize());
                assertEquals(1, cheap.featureMap().numFeatures());
                double expected = score.headScore(rows, h, head);
                assertTrue(expected > 0, "tokens are evicted");
                assertEquals(expected, score.headScore(rows, h, cheap), 0.0, "cache " + spec.exactCache());
            }
        }
    }

    @Test
    void choleskyFactorReproducesTheGram() {
        SplittableRandom random = new SplittableRandom(8);
        int n = 7;
        double[][] w = gaussian(random, 5, n, 1); // rank 5 < 7: semidefinite
        double[] gram = new double[n * n];
        for (double[] row : w)
            for (int a = 0; a < n; a++) for (int b = 0; b <= a; b++) gram[a * n + b] += row[a] * row[b];
        float[] l = OutputErrorScore.cholesky(gram, n);
        for (int t = 0; t < 5; t++) {
            double[] e = new double[n];
            for (int i = 0; i < n; i++) e[i] = random.nextGaussian();
            double direct = 0;
            for (double[] row : w) {
                double s = 0;
                for (int i = 0; i < n; i++) s += row[i] * e[i];
                direct += s * s;
            }
            double factored = 0;
            for (int b = 0; b < n; b++) {
                double s = 0;
                for (int a = 0; a < n; a++) s += e[a] * l[a * n + b];
                factored += s * s;
            }
            assertEquals(direct, factored, 1e-5 * direct);
        }
    }

    /** (1/N) sum_n sum_h |W_h (o_h - o*_h)|^2 in float64 from the naive forms. */
    private static double reference(AttentionRecorder.LayerRows rows, AttentionSpec spec, double[][] oProj) {
        int gd = SHAPE.groupSize() * D, qw = SHAPE.queryWidth();
        double sum = 0;
        long positions = 0;
        for (int t = 0; t < rows.texts(); t++) {
            int length = rows.length(t);
            float[] q = rows.q().get(t), k = rows.k().get(t), v = rows.v().get(t);
            double[] hybrid = NaiveHybridAttention.forward(SHAPE, spec, q, k, v, length);
            double[] full = NaiveSoftmaxAttention.forward(SHAPE, TAU, true, q, k, v, length);
            for (int n = 0; n < length; n++) {
                for (int h = 0; h < KV; h++) {
                    for (double[] row : oProj) {
                        double s = 0;
                        for (int c = h * gd; c < (h + 1) * gd; c++)
                            s += row[c] * (hybrid[n * qw + c] - full[n * qw + c]);
                        sum += s * s;
                    }
                }
            }
            positions += length;
        }
        return sum / positions;
    }

    /** Random q, k, v and, as recorded, the float softmax output. */
    private static AttentionRecorder.LayerRows rows(SplittableRandom random, int[] lengths) {
        List<float[]> q = new ArrayList<>(), k = new ArrayList<>(), v = new ArrayList<>(), o = new ArrayList<>();
        for (int length : lengths) {
            float[] qs = floats(random, length * SHAPE.queryWidth(), 1.3);
            float[] ks = floats(random, length * SHAPE.kvWidth(), 1.3);
            float[] vs = floats(random, length * SHAPE.kvWidth(), 1);
            double[] full = NaiveSoftmaxAttention.forward(SHAPE, TAU, true, qs, ks, vs, length);
            float[] os = new float[full.length];
            for (int i = 0; i < os.length; i++) os[i] = (float) full[i];
            q.add(qs);
            k.add(ks);
            v.add(vs);
            o.add(os);
        }
        return new AttentionRecorder.LayerRows(SHAPE, q, k, v, o);
    }

    private static float[] floats(SplittableRandom random, int n, double sigma) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (sigma * random.nextGaussian());
        return a;
    }

    private static double[][] gaussian(SplittableRandom random, int rows, int cols, double sigma) {
        double[][] a = new double[rows][cols];
        for (double[] row : a) for (int i = 0; i < cols; i++) row[i] = sigma * random.nextGaussian();
        return a;
    }
}
