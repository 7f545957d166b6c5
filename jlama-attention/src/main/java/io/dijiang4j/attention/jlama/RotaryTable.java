package io.dijiang4j.attention.jlama;

import com.github.tjake.jlama.safetensors.Config;

/**
 * Rotary position embedding (rotate-half layout, the Hugging Face permutation Jlama uses) at absolute positions,
 * with no upper bound on the position.
 *
 * <p>Jlama's own table ({@code Config.ropeFreqs}, contextLength * headSize/2 entries) is indexed with a per-head
 * offset and ends at the context length. This table reuses Jlama's entries below the context length (so a layer
 * rotated here matches Jlama's numbers there) and beyond it evaluates cos/sin of {@code position * frequency} in
 * double. The frequencies are recovered from Jlama's table itself, so any theta or linear scaling the model's config
 * sets is honoured without reading config.json again: the angle at position 1 gives each frequency to float
 * precision, the angle at the last tabulated position (unwrapped with that estimate) refines it.
 */
public final class RotaryTable {
    private final int headSize;
    private final int half;
    private final float[][] jlamaTable;
    private final int tabulatedPositions;
    private final double[] frequencies;

    private RotaryTable(int headSize, float[][] jlamaTable, int tabulatedPositions, double[] frequencies) {
        this.headSize = headSize;
        this.half = headSize / 2;
        this.jlamaTable = jlamaTable;
        this.tabulatedPositions = tabulatedPositions;
        this.frequencies = frequencies;
    }

    /** The table of a loaded model; fails with a clear message when the model has no rotary embedding. */
    public static RotaryTable of(Config c) {
        if (c.ropeFreqs.isEmpty()) {
            throw new IllegalArgumentException(
                    "this model has no rotary position embedding; kernelized attention needs RoPE");
        }
        if (c.headSize % 2 != 0) throw new IllegalArgumentException("RoPE needs an even head size: " + c.headSize);
        float[][] table = c.ropeFreqs.get();
        int half = c.headSize / 2;
        int positions = table.length / half;
        if (positions < 2) throw new IllegalArgumentException("RoPE table too short: " + positions + " positions");
        double[] freq = new double[half];
        int last = positions - 1;
        for (int j = 0; j < half; j++) {
            double estimate = Math.atan2(table[half + j][1], table[half + j][0]);
            double wrapped = Math.atan2(table[last * half + j][1], table[last * half + j][0]);
            double turns = Math.rint((last * estimate - wrapped) / (2 * Math.PI));
            freq[j] = (wrapped + 2 * Math.PI * turns) / last;
        }
        return new RotaryTable(c.headSize, table, positions, snapToFormula(freq, c.headSize));
    }

    /**
     * The recovered frequencies are good to about float precision (Jlama's angles are floats). Real models use
     * theta^(-2j/d) / scaling with a whole-number theta and a simple scaling factor: when the recovered values fit
     * that form, return it exactly (in double), so positions far beyond the table do not accumulate the recovery
     * error; otherwise keep the recovered values.
     */
    static double[] snapToFormula(double[] recovered, int headSize) {
        if (recovered.length < 2) return recovered;
        double scaling = 1.0 / recovered[0];
        double roundedScaling = Math.rint(scaling * 1024) / 1024;
        if (Math.abs(roundedScaling - scaling) > 1e-5 * scaling || roundedScaling <= 0) return recovered;
        // the last pair has the longest lever arm: theta's relative error is about the frequency's
        int last = recovered.length - 1;
        double theta = Math.pow(roundedScaling * recovered[last], -headSize / (2.0 * last));
        double roundedTheta = Math.rint(theta);
        if (!(Math.abs(roundedTheta - theta) <= 1e-3 * theta) || roundedTheta <= 1) return recovered;
        double[] exact = new double[recovered.length];
        for (int j = 0; j < exact.length; j++) {
            exact[j] = Math.pow(roundedTheta, -2.0 * j / headSize) / roundedScaling;
            if (Math.abs(exact[j] - recovered[j]) > 1e-6 * exact[j]) return recovered;
        }
        return exact;
    }

    /** A table from explicit frequencies theta^(-2j/d) / scaling (tests; models without a Jlama table). */
    public static RotaryTable of(int headSize, double theta, double scaling) {
        double[] freq = new double[headSize / 2];
        for (int j = 0; j < freq.length; j++) freq[j] = Math.pow(theta, -2.0 * j / headSize) / scaling;
        return new RotaryTable(headSize, new float[0][], 0, freq);
    }

    public int headSize() {
        return headSize;
    }

    /** Frequency (radians per position) of rotation pair j. */
    public double frequency(int j) {
        return frequencies[j];
    }

    /**
     * Rotates {@code rows} rows of {@code heads} heads each, in place; row r is at absolute position
     * {@code startPosition + r}.
     */
    public void rotate(float[] x, int rows, int heads, long startPosition) {
        rotate(x, 0, rows, heads, startPosition);
    }

    /**
     * Rotates rows {@code firstRow .. firstRow + rows - 1} of {@code x} (rows of {@code heads} heads each) in place;
     * row {@code firstRow + r} is at absolute position {@code startPosition + r}.
     */
    public void rotate(float[] x, int firstRow, int rows, int heads, long startPosition) {
        int width = heads * headSize;
        float[] cos = new float[half];
        float[] sin = new float[half];
        for (int r = 0; r < rows; r++) {
            long position = startPosition + r;
            angles(position, cos, sin);
            int rowOff = (firstRow + r) * width;
            for (int h = 0; h < heads; h++) {
                int off = rowOff + h * headSize;
                for (int j = 0; j < half; j++) {
                    float x0 = x[off + j];
                    float x1 = x[off + j + half];
                    x[off + j] = x0 * cos[j] - x1 * sin[j];
                    x[off + j + half] = x0 * sin[j] + x1 * cos[j];
                }
            }
        }
    }

    void angles(long position, float[] cos, float[] sin) {
        if (position < 0) throw new IllegalArgumentException("negative position " + position);
        if (position < tabulatedPositions) {
            int base = (int) position * half;
            for (int j = 0; j < half; j++) {
                cos[j] = jlamaTable[base + j][0];
                sin[j] = jlamaTable[base + j][1];
            }
        } else {
            for (int j = 0; j < half; j++) {
                double angle = position * frequencies[j];
                cos[j] = (float) Math.cos(angle);
                sin[j] = (float) Math.sin(angle);
            }
        }
    }
}
