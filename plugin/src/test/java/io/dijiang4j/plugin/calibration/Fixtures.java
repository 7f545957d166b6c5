package io.dijiang4j.plugin.calibration;

import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.attention.features.FeatureMaps;
import io.dijiang4j.plugin.profile.FeatureMapKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** Calibrations with random numbers and settings that differ per layer, for file and loading tests. */
public final class Fixtures {
    private Fixtures() {}

    /** Layer i: sinks 1 + i % 3, window 5 + 7 i, cache 2 i (policies alternating), every third head's memory off. */
    public static Calibration random(Calibration.ModelInfo model, String mapKind, int features, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        boolean centroids = mapKind.equals(FeatureMaps.CENTROIDS);
        List<Calibration.Layer> layers = new ArrayList<>();
        int d = model.headSize();
        for (int i = 0; i < model.layers(); i++) {
            float[] gains = new float[model.heads()];
            for (int h = 0; h < gains.length; h++) gains[h] = h % 3 == 0 ? 0f : (float) (0.1 + 2 * r.nextDouble());
            float[][] c = centroids ? new float[model.kvHeads()][features * d] : null;
            float[][] w = new float[model.kvHeads()][features];
            for (int h = 0; h < model.kvHeads(); h++) {
                for (int l = 0; l < features; l++) {
                    w[h][l] = centroids ? (float) (-3 + 4 * r.nextDouble()) : (float) (0.05 + r.nextDouble());
                    if (centroids) for (int k = 0; k < d; k++) c[h][l * d + k] = (float) (3 * r.nextGaussian());
                }
            }
            layers.add(new Calibration.Layer(
                    1 + i % 3,
                    5 + 7 * i,
                    2 * i,
                    i % 2 == 0 ? ExactCachePolicy.HEAVY_HITTER : ExactCachePolicy.SELF_RECALL,
                    gains,
                    c,
                    w,
                    r.nextDouble(),
                    r.nextDouble(),
                    i == 1 ? Double.NaN : r.nextDouble()));
        }
        return new Calibration(
                model,
                new Calibration.MapInfo(FeatureMapKind.parse(mapKind), features, seed),
                new Calibration.Settings("sampled", 3, 777, seed, 12.5),
                layers,
                Map.of("calibrated_kl_mean", 0.0625, "plain_window_kl_mean", 0.125));
    }

    public static Calibration.ModelInfo model(String fingerprint, int layers, int heads, int kvHeads, int headSize) {
        return new Calibration.ModelInfo(
                "test-model", fingerprint, layers, heads, kvHeads, headSize, 1 / Math.sqrt(headSize));
    }
}
