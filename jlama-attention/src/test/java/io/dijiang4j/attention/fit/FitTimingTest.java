package io.dijiang4j.attention.fit;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.FeatureMaps;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Speed of the calibration fits at calibration size: one KV head with 8 query heads over 2000 positions, m = 64.
 * Not a unit test (excluded by the "slow" tag); run with {@code mvn -pl jlama-attention test -Dtest=FitTimingTest
 * -Dsurefire.excludedGroups=gpu -Dsurefire.failIfNoSpecifiedTests=false}. Prints the timings.
 */
@Tag("slow")
class FitTimingTest {
    @Test
    void fitsAtCalibrationSize() {
        for (int d : new int[] {8, 64}) {
            double tau = 1 / Math.sqrt(d);
            List<KvHeadSequence> data =
                    List.of(FitData.attentionLike(new SplittableRandom(d), 8, 2000, d, 2 * Math.sqrt(d)));
            FitSettings settings = FitSettings.of(tau, 4, 32);
            for (int repeat = 0; repeat < 3; repeat++) { // the first round includes JIT warm-up
                long t0 = System.nanoTime();
                FeatureMap centroids = MemoryFit.fitCentroids(MemoryFit.keysOf(data, 4), 64, tau, 1);
                long t1 = System.nanoTime();
                MemoryFit.Result centroidFit = MemoryFit.fitWeights(centroids, data, settings);
                long t2 = System.nanoTime();
                FeatureMap performer = FeatureMaps.create("performer", d, 64, 1);
                MemoryFit.Result performerFit = MemoryFit.fitWeights(performer, data, settings);
                long t3 = System.nanoTime();
                GainSearch.HeadGain[] gains = GainSearch.search(centroidFit.apply(centroids), data, settings);
                long t4 = System.nanoTime();
                System.out.printf(
                        Locale.ROOT,
                        "d=%d round %d: k-means %.3f s, NNLS fit centroids %.3f s (%d of %d pairs), performer %.3f s,"
                                + " gain search %.3f s; centroid objective %.4g -> %.4g, head 0 g=%.3g error %.4g"
                                + " (window %.4g)%n",
                        d,
                        repeat,
                        (t1 - t0) / 1e9,
                        (t2 - t1) / 1e9,
                        centroidFit.sampledPairs(),
                        centroidFit.candidatePairs(),
                        (t3 - t2) / 1e9,
                        (t4 - t3) / 1e9,
                        centroidFit.uniformObjective(),
                        centroidFit.fittedObjective(),
                        gains[0].gain(),
                        gains[0].error(),
                        gains[0].windowError());
                assertTrue(performerFit.fittedObjective() <= performerFit.uniformObjective());
            }
        }
    }
}
