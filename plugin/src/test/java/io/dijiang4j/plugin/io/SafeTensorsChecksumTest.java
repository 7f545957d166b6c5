package io.dijiang4j.plugin.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** A checksummed file (sidecars) refuses every single flipped bit and every truncation. */
class SafeTensorsChecksumTest {
    private static byte[] file() {
        Random random = new Random(5);
        float[] v = new float[37];
        for (int i = 0; i < v.length; i++) v[i] = (float) random.nextGaussian();
        return SafeTensors.writer()
                .checksummed()
                .metadata("plan", "{\"window\":32}")
                .add("a", SafeTensors.DType.F32, new SafeTensors.Tensor(v, new int[] {37}))
                .add("b", SafeTensors.DType.BF16, new SafeTensors.Tensor(Arrays.copyOf(v, 6), new int[] {2, 3}))
                .toBytes();
    }

    @Test
    void readsBackAndIsDeterministic() {
        byte[] bytes = file();
        assertArrayEquals(bytes, file());
        SafeTensors.Reader r = SafeTensors.decode(bytes, "f");
        assertEquals("{\"window\":32}", r.metadata().get("plan"));
        assertTrue(r.metadata().get(SafeTensors.CHECKSUM).matches("[0-9a-f]{8}"));
    }

    @Test
    void everyFlippedBitAndEveryTruncationIsRefused() {
        byte[] bytes = file();
        int refused = 0;
        for (int i = 0; i < bytes.length; i++) {
            for (int bit = 0; bit < 8; bit++) {
                byte[] damaged = bytes.clone();
                damaged[i] ^= (byte) (1 << bit);
                String key = new String(damaged, java.nio.charset.StandardCharsets.ISO_8859_1);
                // a flip inside the key's own name leaves no checksum to check, and changes nothing else
                if (!key.contains("\"" + SafeTensors.CHECKSUM + "\"")) continue;
                assertThrows(IllegalArgumentException.class, () -> SafeTensors.decode(damaged, "f"), "byte " + i);
                refused++;
            }
        }
        assertTrue(refused > 8 * bytes.length - 8 * 8, "refused " + refused);
        for (int n = 0; n < bytes.length; n++) {
            int length = n;
            var e = assertThrows(
                    IllegalArgumentException.class, () -> SafeTensors.decode(Arrays.copyOf(bytes, length), "f"));
            assertTrue(e.getMessage().startsWith("f: "), e.getMessage());
        }
    }
}
