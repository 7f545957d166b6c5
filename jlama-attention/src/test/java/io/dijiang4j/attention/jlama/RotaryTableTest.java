package io.dijiang4j.attention.jlama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tjake.jlama.model.llama.LlamaConfig;
import com.github.tjake.jlama.safetensors.Config;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class RotaryTableTest {
    static Config config(int context, int heads, int kvHeads, int hidden, double theta, String scaling)
            throws Exception {
        String json = "{\"max_position_embeddings\":" + context + ",\"hidden_size\":" + hidden
                + ",\"intermediate_size\":" + (2 * hidden) + ",\"num_attention_heads\":" + heads
                + ",\"num_key_value_heads\":" + kvHeads + ",\"num_hidden_layers\":1,\"rms_norm_eps\":1e-5,"
                + "\"vocab_size\":300,\"bos_token_id\":1,\"eos_token_id\":2,\"hidden_act\":\"SILU\",\"rope_theta\":"
                + theta + (scaling == null ? "" : ",\"rope_scaling\":" + scaling) + "}";
        return new ObjectMapper().readValue(json, LlamaConfig.class);
    }

    /** Naive rotate-half RoPE in double: pair (j, j + d/2) of each head turned by position * freq_j. */
    static double[] naive(float[] x, int rows, int heads, int d, long start, double[] freq) {
        double[] out = new double[x.length];
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++)
                for (int j = 0; j < d / 2; j++) {
                    int i0 = r * heads * d + h * d + j;
                    int i1 = i0 + d / 2;
                    double a = (start + r) * freq[j];
                    out[i0] = x[i0] * Math.cos(a) - x[i1] * Math.sin(a);
                    out[i1] = x[i0] * Math.sin(a) + x[i1] * Math.cos(a);
                }
        return out;
    }

    @Test
    void recoversTheFrequenciesOfJlamasTable() throws Exception {
        for (double theta : new double[] {10000, 500000, 1e6}) {
            for (int d : new int[] {8, 16, 64}) {
                RotaryTable t = RotaryTable.of(config(512, 4, 2, 4 * d, theta, null));
                for (int j = 0; j < d / 2; j++) {
                    double expected = Math.pow(theta, -2.0 * j / d);
                    assertEquals(expected, t.frequency(j), 1e-15 * expected, "theta " + theta + " d " + d);
                }
            }
        }
        RotaryTable scaled =
                RotaryTable.of(config(256, 2, 2, 32, 10000, "{\"rope_type\":\"linear\",\"factor\":\"4.0\"}"));
        assertEquals(0.25, scaled.frequency(0), 1e-15);
        assertEquals(0.25 * Math.pow(10000, -2.0 / 16), scaled.frequency(1), 1e-15);
    }

    @Test
    void rotatesAtAbsolutePositionsInsideAndFarBeyondTheContext() throws Exception {
        int d = 16;
        int heads = 3;
        Config c = config(128, heads, heads, heads * d, 10000, null);
        RotaryTable t = RotaryTable.of(c);
        double[] freq = new double[d / 2];
        for (int j = 0; j < freq.length; j++) freq[j] = Math.pow(10000, -2.0 * j / d);
        SplittableRandom random = new SplittableRandom(5);
        for (long start : new long[] {0, 1, 77, 125, 128, 1000, 123_457, 3_000_001}) {
            int rows = 5;
            float[] x = new float[rows * heads * d];
            for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
            double[] expected = naive(x, rows, heads, d, start, freq);
            t.rotate(x, rows, heads, start);
            // within the table Jlama's float angles (a float product, then cos/sin) set the error; beyond it the
            // angles are exact in double and only the float result rounds
            double tolerance = start < 128 ? 1e-4 : 1e-5;
            for (int i = 0; i < x.length; i++) assertEquals(expected[i], x[i], tolerance, "start " + start);
        }
        assertThrows(IllegalArgumentException.class, () -> t.rotate(new float[d], 1, 1, -1));
    }

    @Test
    void usesJlamasOwnEntriesBelowTheContextLength() throws Exception {
        int d = 8;
        Config c = config(64, 2, 1, 2 * d, 10000, null);
        RotaryTable t = RotaryTable.of(c);
        float[][] table = c.ropeFreqs.orElseThrow();
        float[] cos = new float[d / 2];
        float[] sin = new float[d / 2];
        for (int p = 0; p < 64; p++) {
            t.angles(p, cos, sin);
            for (int j = 0; j < d / 2; j++) {
                assertEquals(table[p * d / 2 + j][0], cos[j], 0f);
                assertEquals(table[p * d / 2 + j][1], sin[j], 0f);
            }
        }
    }
}
