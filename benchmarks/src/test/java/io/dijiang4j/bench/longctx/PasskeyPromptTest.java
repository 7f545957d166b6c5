package io.dijiang4j.bench.longctx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.ToIntFunction;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class PasskeyPromptTest {
    /** A stand-in tokenizer: words, digits one by one (as SmolLM2's pre-tokenizer splits them), punctuation. */
    static final Pattern TOKEN = Pattern.compile("[A-Za-z]+|[0-9]|[^\\sA-Za-z0-9]");

    static final ToIntFunction<String> COUNT = s -> {
        Matcher m = TOKEN.matcher(s);
        int n = 0;
        while (m.find()) n++;
        return n;
    };

    static final UnaryOperator<String> CHATML =
            user -> "<|im_start|>user\n" + user + "<|im_end|>\n<|im_start|>assistant\n";

    @Test
    void lengthWithinOnePercentAndPasskeyExactlyOnce() {
        for (int length : new int[] {1024, 2048, 4096, 8160}) {
            for (double depth : new double[] {0.1, 0.5, 0.9}) {
                PasskeyPrompt p = PasskeyPrompt.build(length, depth, 48213, COUNT, CHATML);
                assertEquals(COUNT.applyAsInt(p.prompt()), p.tokens());
                assertTrue(Math.abs(p.tokens() - length) <= 0.01 * length, length + " vs " + p.tokens());
                assertEquals(1, occurrences(p.prompt(), "48213"));
                assertEquals(5, p.prompt().chars().filter(Character::isDigit).count(), "no other digit");
                assertTrue(p.prompt().startsWith("<|im_start|>user\n")
                        && p.prompt().endsWith("assistant\n"));
                assertTrue(p.prompt().indexOf("48213") < p.prompt().indexOf(PasskeyPrompt.QUESTION));
            }
        }
    }

    @Test
    void passkeyAtTheRequestedDepthOfTheFiller() {
        for (double depth : new double[] {0.0, 0.1, 0.5, 0.9, 1.0}) {
            PasskeyPrompt p = PasskeyPrompt.build(2048, depth, 10001, COUNT, UnaryOperator.identity());
            assertEquals(depth, p.actualDepth(), 1.0 / p.fillerUnits());
            String before = p.prompt().substring(0, p.prompt().indexOf("10001"));
            String after = p.prompt().substring(p.prompt().indexOf("10001"));
            assertEquals(p.unitsBefore(), occurrences(before, PasskeyPrompt.FILLER));
            assertEquals(p.fillerUnits() - p.unitsBefore(), occurrences(after, PasskeyPrompt.FILLER));
            // in tokens: the passkey's position over the prompt is close to the depth (the header and question are
            // short against 2048 tokens)
            double tokenDepth = (double) COUNT.applyAsInt(before) / p.tokens();
            assertEquals(depth, tokenDepth, 0.03);
        }
    }

    @Test
    void rejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> PasskeyPrompt.build(1024, 0.5, 9999, COUNT, CHATML));
        assertThrows(IllegalArgumentException.class, () -> PasskeyPrompt.build(1024, 1.5, 12345, COUNT, CHATML));
    }

    @Test
    void passkeysOfACellAreFiveDigitsAndTheSameForEveryProfile() {
        int a = LongContextCommand.passkey(7, 4096, 50, 3);
        assertEquals(a, LongContextCommand.passkey(7, 4096, 50, 3));
        assertTrue(a >= 10000 && a <= 99999);
        assertTrue(a != LongContextCommand.passkey(7, 4096, 50, 4) || a != LongContextCommand.passkey(7, 4096, 90, 3));
    }

    static int occurrences(String text, String part) {
        int n = 0;
        for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + part.length())) n++;
        return n;
    }
}
