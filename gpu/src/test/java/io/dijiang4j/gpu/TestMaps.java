package io.dijiang4j.gpu;

import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.SpecFingerprint;
import java.util.Random;

/** Feature maps for the gpu tests, in the common projected form, evaluated in float64 on the host. */
public final class TestMaps {
    private TestMaps() {}

    /** A map whose log features are computed in double from {@link FeatureMapParameters}. */
    public record ProjectedMap(String name, FeatureMapParameters parameters) implements FeatureMap {
        @Override
        public int inputDim() {
            return parameters.inputDim();
        }

        @Override
        public void addTo(SpecFingerprint h) {
            FeatureMap.super.addTo(h);
            parameters.addTo(h);
        }

        @Override
        public int numFeatures() {
            return parameters.numFeatures();
        }

        @Override
        public void logQueryFeatures(float[] x, int off, float[] out, int outOff) {
            double[] f = logFeatures(parameters, x, off, 1.0, true);
            for (int l = 0; l < f.length; l++) out[outOff + l] = (float) f[l];
        }

        @Override
        public void logKeyFeatures(float[] x, int off, float[] out, int outOff) {
            double[] f = logFeatures(parameters, x, off, 1.0, false);
            for (int l = 0; l < f.length; l++) out[outOff + l] = (float) f[l];
        }
    }

    /** log phi(prescale * x) in float64, the formula features.cu implements. */
    public static double[] logFeatures(FeatureMapParameters p, float[] x, int off, double prescale, boolean query) {
        int d = p.inputDim(), m = p.numFeatures();
        float[] proj = query ? p.queryProjection() : p.keyProjection();
        float[] logW = query ? p.queryLogWeights() : p.keyLogWeights();
        double[] projected = new double[m];
        double sq = 0;
        for (int i = 0; i < d; i++) {
            double xi = prescale * x[off + i];
            sq += xi * xi;
            for (int l = 0; l < m; l++) projected[l] += xi * proj[i * m + l];
        }
        double norm = 0;
        switch (p.normalization()) {
            case NONE -> {}
            case GAUSSIAN -> norm = -0.5 * sq;
            case SOFTMAX -> {
                double max = Double.NEGATIVE_INFINITY;
                for (double v : projected) max = Math.max(max, v);
                double s = 0;
                for (double v : projected) s += Math.exp(v - max);
                norm = -(max + Math.log(s));
            }
        }
        double[] out = new double[m];
        for (int l = 0; l < m; l++) out[l] = projected[l] + logW[l] + norm;
        return out;
    }

    /** Random Gaussian projection, random log weights; asymmetric when asked. */
    public static FeatureMapParameters random(
            int d, int m, FeatureMap.Normalization normalization, boolean asymmetric, long seed) {
        Random rnd = new Random(seed);
        float[] pq = new float[d * m];
        for (int i = 0; i < pq.length; i++) pq[i] = (float) rnd.nextGaussian();
        float[] pk = pq;
        if (asymmetric) {
            pk = new float[d * m];
            for (int i = 0; i < pk.length; i++) pk[i] = (float) rnd.nextGaussian();
        }
        float[] wq = new float[m], wk = new float[m];
        for (int l = 0; l < m; l++) {
            wq[l] = (float) (-0.5 * Math.log(m) + 0.3 * rnd.nextGaussian());
            wk[l] = asymmetric ? (float) (-0.5 * Math.log(m) + 0.3 * rnd.nextGaussian()) : wq[l];
        }
        return new FeatureMapParameters(d, m, pq, pk, wq, wk, normalization);
    }

    public static FeatureMap identityLike(int d) {
        return new ProjectedMap("test-projected", random(d, d, FeatureMap.Normalization.GAUSSIAN, false, 1));
    }
}
