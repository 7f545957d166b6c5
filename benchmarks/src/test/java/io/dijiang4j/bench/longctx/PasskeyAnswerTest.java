package io.dijiang4j.bench.longctx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

class PasskeyAnswerTest {
    @Test
    void firstFiveDigitNumber() {
        assertEquals(OptionalInt.of(48213), PasskeyAnswer.parse("48213"));
        assertEquals(OptionalInt.of(48213), PasskeyAnswer.parse("The pass key is 48213. Remember it."));
        assertEquals(OptionalInt.of(11111), PasskeyAnswer.parse("11111 or 48213"));
        assertEquals(OptionalInt.of(48213), PasskeyAnswer.parse("123456 then 1234 then 48213"));
        assertEquals(OptionalInt.empty(), PasskeyAnswer.parse("I don't know."));
        assertEquals(OptionalInt.empty(), PasskeyAnswer.parse("4821"));
        assertEquals(OptionalInt.empty(), PasskeyAnswer.parse(null));
    }

    @Test
    void correctOnlyForThePasskey() {
        assertTrue(PasskeyAnswer.correct("The pass key is 48213.", 48213));
        assertFalse(PasskeyAnswer.correct("The pass key is 48231.", 48213));
        assertFalse(PasskeyAnswer.correct("482130", 48213));
        assertFalse(PasskeyAnswer.correct("", 48213));
    }
}
