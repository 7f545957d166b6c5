package io.dijiang4j.attention.ops.linear;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.FeatureMaps;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The linear ops with a decay per position and head (TransNormerLLM / DiJiang D1-D2 style recurrences): the chunked
 * form, the recurrent form and chunked-then-recurrent against the float64 naive twin, on fresh random inputs. Odd
 * lengths, GQA, head sizes and feature counts off the SIMD width, blocks that do not divide the length; the strong
 * decays push the summed log decay far below -88 (where exp(-C) overflows a float), which only a form that never
 * divides by a decay survives.
 */
class PositionDecayTest {
    static final double TOLERANCE = 1e-5;

    record Case(int heads, int kvHeads, int d, int m, int length, int block, double minLogDecay, String map) {}

    static Stream<Arguments> cases() {
        return Stream.of(
                        new Case(4, 2, 5, 7, 131, 16, -0.7, "performer"),
                        new Case(3, 1, 8, 12, 67, 8, -0.2, "pff"),
                        new Case(2, 2, 13, 9, 1, 4, -0.5, "wdcf"),
                        new Case(6, 3, 9, 17, 29, 29, -0.05, "dijiang-code"),
                        new Case(4, 1, 16, 33, 1000, 64, -0.02, "pff"),
                        new Case(2, 1, 8, 16, 515, 64, -4.0, "performer"))
                .map(Arguments::of);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void chunkedRecurrentAndMixedEqualNaive(Case c) {
        SplittableRandom random = new SplittableRandom(c.hashCode());
        AttentionShape shape = new AttentionShape(c.heads(), c.kvHeads(), c.d());
        FeatureMap[] maps = new FeatureMap[c.kvHeads()];
        for (int h = 0; h < maps.length; h++) maps[h] = FeatureMaps.create(c.map(), c.d(), c.m(), 11 + h);
        AttentionSpec spec =
                AttentionSpec.linear(maps[0], c.d()).withKvHeadMaps(maps).withBlockSize(c.block());
        int n = c.length(), qw = shape.queryWidth(), kw = shape.kvWidth(), heads = c.heads();
        float[] q = gaussian(random, n * qw), k = gaussian(random, n * kw), v = gaussian(random, n * kw);
        double[] logDecay = new double[n * heads];
        for (int i = 0; i < logDecay.length; i++) logDecay[i] = c.minLogDecay() * (0.05 + 0.95 * random.nextDouble());

        double[] ref = NaiveLinearAttention.forwardWithPositionDecay(shape, spec, q, k, v, n, logDecay);
        double[] constant = NaiveLinearAttention.forward(shape, spec, q, k, v, n);
        if (n > 1) assertTrue(relativeError(toFloat(constant), ref) > 1e-3, "the decay must change the output");

        double chunked = relativeError(run(shape, spec, q, k, v, logDecay, n), ref);
        double recurrent = relativeError(run(shape, spec, q, k, v, logDecay, 0), ref);
        double mixed = relativeError(run(shape, spec, q, k, v, logDecay, n / 2), ref);
        System.out.printf("%s: chunked %.2e recurrent %.2e mixed %.2e%n", c, chunked, recurrent, mixed);
        assertTrue(chunked < TOLERANCE, "chunked vs naive: " + chunked);
        assertTrue(recurrent < TOLERANCE, "recurrent vs naive: " + recurrent);
        assertTrue(mixed < TOLERANCE, "chunked prefill + recurrent decode vs naive: " + mixed);
    }

    /** The first {@code chunkedRows} positions in blocks, the rest one token at a time; one memory per query head. */
    static float[] run(
            AttentionShape shape,
            AttentionSpec spec,
            float[] q,
            float[] k,
            float[] v,
            double[] logDecay,
            int chunkedRows) {
        int d = shape.headDim(), qw = shape.queryWidth(), kw = shape.kvWidth(), heads = shape.numHeads();
        int n = q.length / qw, b = spec.blockSize();
        float[] out = new float[n * qw];
        for (int h = 0; h < heads; h++) {
            int kvh = shape.kvHeadOf(h);
            FeatureMap map = spec.featureMapOf(kvh);
            KernelMemory memory = new KernelMemory(map.numFeatures(), d);
            ChunkLinearAttention chunk = new ChunkLinearAttention(map, d, b, spec.scale());
            for (int t0 = 0; t0 < chunkedRows; t0 += b) {
                int rows = Math.min(b, chunkedRows - t0), kv = t0 * kw + kvh * d;
                chunk.loadKeys(k, kv, kw, v, kv, kw, rows, logDecay, t0 * heads + h, heads);
                chunk.loadState(memory);
                chunk.attend(q, t0 * qw + h * d, qw, rows, true, out);
                chunk.commitKeys(memory);
            }
            FusedRecurrentLinearAttention step = new FusedRecurrentLinearAttention(map, d, spec.scale(), 1.0);
            for (int t = chunkedRows; t < n; t++) {
                step.addKey(memory, k, t * kw + kvh * d, v, t * kw + kvh * d, logDecay[t * heads + h]);
                step.query(memory, q, t * qw + h * d, out, t * qw + h * d);
            }
        }
        return out;
    }

    @Test
    void decayAboveOneOrNotFiniteIsRejected() {
        var map = FeatureMaps.create("pff", 4, 8, 1);
        var chunk = new ChunkLinearAttention(map, 4, 8, 0.5);
        float[] x = {1, -1, 0.5f, 2};
        for (double bad : new double[] {0.1, Double.NaN, Double.NEGATIVE_INFINITY}) {
            assertThrows(
                    IllegalArgumentException.class,
                    () -> chunk.loadKeys(x, 0, 4, x, 0, 4, 1, new double[] {bad}, 0, 1));
            var step = new FusedRecurrentLinearAttention(map, 4, 0.5, 1.0);
            assertThrows(IllegalArgumentException.class, () -> step.addKey(new KernelMemory(8, 4), x, 0, x, 0, bad));
        }
        AttentionSpec decaying = AttentionSpec.linear(map, 4).withDecay(new double[] {0.9});
        var e = assertThrows(
                IllegalArgumentException.class,
                () -> NaiveLinearAttention.forwardWithPositionDecay(
                        new AttentionShape(1, 1, 4), decaying, x, x, x, 1, new double[] {-0.1}));
        assertTrue(e.getMessage().contains("constant decay"), e.getMessage());
    }

    static float[] gaussian(SplittableRandom random, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            double u = random.nextDouble(), w = random.nextDouble();
            a[i] = (float) (Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * w));
        }
        return a;
    }

    static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
        return f;
    }

    /** max |fast - naive| / max |naive|; every output finite. */
    static double relativeError(float[] fast, double[] ref) {
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < ref.length; i++) {
            assertTrue(Float.isFinite(fast[i]), "non-finite output at " + i);
            maxDiff = Math.max(maxDiff, Math.abs(fast[i] - ref[i]));
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
        }
        return maxDiff / maxRef;
    }
}
