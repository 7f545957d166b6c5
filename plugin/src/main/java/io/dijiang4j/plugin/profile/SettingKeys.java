package io.dijiang4j.plugin.profile;

import io.dijiang4j.attention.ExactCachePolicy;
import java.util.Arrays;
import java.util.Locale;
import java.util.function.Function;
import java.util.stream.Collectors;

/** The text form of enum-valued settings (profile keys, sidecar metadata): one parser, one error wording. */
public final class SettingKeys {
    private SettingKeys() {}

    /** The default key of an enum constant: its name in lower case ({@code HEAVY_HITTER} -> {@code heavy_hitter}). */
    public static String key(Enum<?> value) {
        return value.name().toLowerCase(Locale.ROOT);
    }

    /**
     * The constant whose key equals {@code text} (ignoring case and surrounding blanks).
     *
     * @throws IllegalArgumentException "must be one of a, b, c, got 'x'"
     */
    public static <E extends Enum<E>> E parse(E[] values, Function<E, String> key, String text) {
        String wanted = text == null ? "" : text.strip();
        for (E v : values) if (key.apply(v).equalsIgnoreCase(wanted)) return v;
        throw new IllegalArgumentException("must be one of " + keys(values, key) + ", got '" + text + "'");
    }

    /** An exact-cache policy by its key ({@code heavy_hitter}, {@code self_recall}), in profiles and sidecars. */
    public static ExactCachePolicy cachePolicy(String text) {
        return parse(ExactCachePolicy.values(), SettingKeys::key, text);
    }

    /** The keys of {@code values}, comma-separated, for messages and help texts. */
    public static <E extends Enum<E>> String keys(E[] values, Function<E, String> key) {
        return Arrays.stream(values).map(key).collect(Collectors.joining(", "));
    }
}
