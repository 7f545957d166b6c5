package io.dijiang4j.tools.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The long-range slice's selector against its definition (README "Evaluation"). */
class LongRangeSliceTest {
    /** Positions 0..13; the logits at t predict tokens[t+1]. */
    static final int[] TOKENS = {1, 2, 3, 4, 5, 3, 6, 7, 3, 2, 4, 5, 3, 3};

    static List<Integer> selected(LongRangeSlice slice, int[] tokens) {
        boolean[] in = slice.select(tokens);
        assertEquals(Math.max(0, tokens.length - 1), in.length);
        List<Integer> positions = new ArrayList<>();
        for (int t = 0; t < in.length; t++) if (in[t]) positions.add(t);
        return positions;
    }

    @Test
    void handMadeSequenceWithTwoSinksAndSpanThree() {
        // t=4 -> 3: seen at 2, only 3 positions before 5: exact. t=7 -> 3: seen at 5, inside the span.
        // t=8 -> 2: seen only at 1, a sink. t=9 -> 4: seen at 3 only, 7 back: in. t=10 -> 5: seen at 4: in.
        // t=11 -> 3: latest at 8, exactly 4 = span + 1 positions before 12: in. t=12 -> 3: it is token 12 itself.
        assertEquals(List.of(9, 10, 11), selected(new LongRangeSlice(2, 3), TOKENS));
    }

    @Test
    void theBoundaryIsMoreThanSpanPositionsBack() {
        // t=11 predicts position 12; token 3's latest earlier occurrence is 8: 4 positions back
        assertEquals(List.of(9, 10, 11), selected(new LongRangeSlice(2, 3), TOKENS));
        assertEquals(List.of(9, 10), selected(new LongRangeSlice(2, 4), TOKENS));
        assertEquals(List.of(9, 10), selected(new LongRangeSlice(2, 5), TOKENS));
        assertEquals(List.of(9, 10), selected(new LongRangeSlice(2, 6), TOKENS));
        assertEquals(List.of(), selected(new LongRangeSlice(2, 7), TOKENS));
    }

    @Test
    void anOccurrenceAmongTheSinksIsExact() {
        // with 5 sinks, tokens 2, 3, 4 and 5 all sit in positions 0..4: nothing is long-range
        assertEquals(List.of(), selected(new LongRangeSlice(5, 3), TOKENS));
        // without sinks, t=8 -> 2 (seen at 1, 8 back) is long-range too
        assertEquals(List.of(8, 9, 10, 11), selected(new LongRangeSlice(0, 3), TOKENS));
    }

    @Test
    void spanZeroIsEveryRepeatedToken() {
        // pure dijiang: nothing is exact, so every next token seen before counts
        assertEquals(List.of(4, 7, 8, 9, 10, 11, 12), selected(new LongRangeSlice(0, 0), TOKENS));
    }

    @Test
    void shortSequencesAndBadArguments() {
        assertEquals(0, new LongRangeSlice(4, 40).select(new int[] {7}).length);
        assertEquals(0, new LongRangeSlice(4, 40).select(new int[0]).length);
        assertArrayEquals(new boolean[] {false}, new LongRangeSlice(0, 0).select(new int[] {7, 8}));
        assertArrayEquals(new boolean[] {true}, new LongRangeSlice(0, 0).select(new int[] {7, 7}));
        assertThrows(IllegalArgumentException.class, () -> new LongRangeSlice(-1, 4));
        assertThrows(IllegalArgumentException.class, () -> new LongRangeSlice(0, -4));
    }

    @Test
    void equalsTheDefinitionOnRandomSequences() {
        SplittableRandom random = new SplittableRandom(13);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + random.nextInt(120);
            int[] tokens = new int[n];
            int vocabulary = 2 + random.nextInt(30);
            for (int i = 0; i < n; i++) tokens[i] = random.nextInt(vocabulary);
            int sinks = random.nextInt(6);
            int span = sinks + random.nextInt(40);
            boolean[] in = new LongRangeSlice(sinks, span).select(tokens);
            for (int t = 0; t + 1 < n; t++) {
                // the definition, quantifier by quantifier
                int next = tokens[t + 1];
                boolean far = false, exact = false;
                for (int j = 0; j <= t; j++) {
                    if (tokens[j] != next) continue;
                    if (j < sinks || j > t - span) exact = true;
                    else far = true;
                }
                assertEquals(far && !exact, in[t], "trial " + trial + ", t " + t);
            }
        }
    }
}
