package io.dijiang4j.bench.longctx;

import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads a passkey answer: the first run of exactly five digits in the reply (longer or shorter runs do not count). */
public final class PasskeyAnswer {
    private static final Pattern FIVE_DIGITS = Pattern.compile("(?<![0-9])[0-9]{5}(?![0-9])");

    private PasskeyAnswer() {}

    /** The first five-digit number in {@code reply}, empty when there is none. */
    public static OptionalInt parse(String reply) {
        Matcher m = FIVE_DIGITS.matcher(reply == null ? "" : reply);
        return m.find() ? OptionalInt.of(Integer.parseInt(m.group())) : OptionalInt.empty();
    }

    /** Whether {@code reply} answers {@code passkey}: its first five-digit number is the passkey. */
    public static boolean correct(String reply, int passkey) {
        OptionalInt answer = parse(reply);
        return answer.isPresent() && answer.getAsInt() == passkey;
    }
}
