package io.dijiang4j.attention.fit;

import io.dijiang4j.attention.AttentionShape;

/**
 * Calibration rows of one KV head over one sequence, post-RoPE and unscaled (the softmax temperature is applied by
 * the fits): the queries of the query heads of its group, its keys and its values, at positions 0..length-1 (row
 * index = position; a sequence always starts at position 0, so the sinks are its first rows).
 *
 * @param queries [groupHeads][length][d]
 * @param keys [length][d]
 * @param values [length][d], or null where only keys are needed ({@link MemoryFit}); {@link GainSearch} needs them
 * @param outputs [groupHeads][length][d], the full softmax attention output of each query head where it was recorded
 *     with the rows (then {@link GainSearch} reads it instead of recomputing it, O(N^2 d)), or null
 */
public record KvHeadSequence(double[][][] queries, double[][] keys, double[][] values, double[][][] outputs) {
    public KvHeadSequence(double[][][] queries, double[][] keys, double[][] values) {
        this(queries, keys, values, null);
    }

    public KvHeadSequence {
        if (queries == null || queries.length == 0 || keys == null || keys.length == 0) {
            throw new IllegalArgumentException("a calibration sequence needs at least one query head and one position");
        }
        int length = keys.length, d = keys[0].length;
        if (d == 0) throw new IllegalArgumentException("head size must be >= 1");
        for (double[][] head : queries) checkRows(head, length, d, "queries");
        checkRows(keys, length, d, "keys");
        if (values != null) checkRows(values, length, d, "values");
        if (outputs != null) {
            if (outputs.length != queries.length) throw new IllegalArgumentException("outputs need every group head");
            for (double[][] head : outputs) checkRows(head, length, d, "outputs");
        }
    }

    private static void checkRows(double[][] rows, int length, int d, String what) {
        if (rows == null || rows.length != length) {
            throw new IllegalArgumentException(what + " must have " + length + " positions");
        }
        for (double[] row : rows) {
            if (row == null || row.length != d) throw new IllegalArgumentException(what + " rows must have size " + d);
            for (double v : row) {
                if (!Double.isFinite(v)) throw new IllegalArgumentException(what + " hold a NaN or infinite value");
            }
        }
    }

    /**
     * KV head {@code kvHead} of a layer's rows in the kernels' layout: {@code q[n * queryWidth + h * d + i]}, {@code
     * k[n * kvWidth + kvHead * d + i]} (values likewise, or null), positions 0..length-1.
     */
    public static KvHeadSequence fromLayer(
            AttentionShape shape, int kvHead, float[] q, float[] k, float[] v, int length) {
        return fromLayer(shape, kvHead, q, k, v, null, length);
    }

    /** As {@link #fromLayer(AttentionShape, int, float[], float[], float[], int)}, with the outputs (q's layout). */
    public static KvHeadSequence fromLayer(
            AttentionShape shape, int kvHead, float[] q, float[] k, float[] v, float[] out, int length) {
        int d = shape.headDim(), group = shape.groupSize(), qw = shape.queryWidth(), kw = shape.kvWidth();
        if (kvHead < 0 || kvHead >= shape.numKvHeads()) throw new IllegalArgumentException("no KV head " + kvHead);
        if (length < 1 || q.length < length * qw || k.length < length * kw || (v != null && v.length < length * kw)) {
            throw new IllegalArgumentException("rows shorter than " + length + " positions of " + shape);
        }
        double[][][] queries = new double[group][length][d];
        double[][] keys = new double[length][d];
        double[][] values = v == null ? null : new double[length][d];
        double[][][] outputs = out == null ? null : new double[group][length][d];
        if (out != null && out.length < length * qw) throw new IllegalArgumentException("outputs shorter than q");
        for (int n = 0; n < length; n++) {
            for (int g = 0; g < group; g++) {
                int head = kvHead * group + g;
                for (int i = 0; i < d; i++) queries[g][n][i] = q[n * qw + head * d + i];
                if (out != null) for (int i = 0; i < d; i++) outputs[g][n][i] = out[n * qw + head * d + i];
            }
            for (int i = 0; i < d; i++) {
                keys[n][i] = k[n * kw + kvHead * d + i];
                if (values != null) values[n][i] = v[n * kw + kvHead * d + i];
            }
        }
        return new KvHeadSequence(queries, keys, values, outputs);
    }

    public int length() {
        return keys.length;
    }

    public int headDim() {
        return keys[0].length;
    }

    public int groupHeads() {
        return queries.length;
    }
}
