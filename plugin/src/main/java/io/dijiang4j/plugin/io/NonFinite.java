package io.dijiang4j.plugin.io;

import java.nio.IntBuffer;
import java.nio.ShortBuffer;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Finds NaN and infinite values among stored float bits: a value is NaN or infinite exactly when its exponent field
 * is all ones, so one AND and one compare per lane test a whole vector of values (F32, and F16/BF16 bits as shorts).
 */
final class NonFinite {
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> SHORTS = ShortVector.SPECIES_PREFERRED;

    private NonFinite() {}

    /** Copies {@code n} values of {@code bits} into {@code scratch}; the index of the first with the exponent all ones, or -1. */
    static int firstIn(int[] scratch, IntBuffer bits, int n, int exponent) {
        bits.get(scratch, 0, n);
        int i = 0;
        for (int bound = INTS.loopBound(n); i < bound; i += INTS.length()) {
            if (IntVector.fromArray(INTS, scratch, i)
                    .and(exponent)
                    .compare(VectorOperators.EQ, exponent)
                    .anyTrue()) break;
        }
        for (; i < n; i++) if ((scratch[i] & exponent) == exponent) return i;
        return -1;
    }

    /** As {@link #firstIn(int[], IntBuffer, int, int)} for 16-bit floats. */
    static int firstIn(short[] scratch, ShortBuffer bits, int n, short exponent) {
        bits.get(scratch, 0, n);
        int i = 0;
        for (int bound = SHORTS.loopBound(n); i < bound; i += SHORTS.length()) {
            if (ShortVector.fromArray(SHORTS, scratch, i)
                    .and(exponent)
                    .compare(VectorOperators.EQ, exponent)
                    .anyTrue()) break;
        }
        for (; i < n; i++) if ((scratch[i] & exponent) == exponent) return i;
        return -1;
    }
}
