package io.dijiang4j.plugin.profile;

import java.util.Locale;

/** What the selected layers run. */
public enum Mode {
    /** Jlama's own softmax attention, untouched. */
    SOFTMAX,
    /** Pure kernelized (linear) attention. */
    DIJIANG,
    /** Attention sinks + an exact recent window + kernelized memory of the rest. */
    HYBRID;

    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Mode parse(String text) {
        for (Mode m : values()) if (m.key().equalsIgnoreCase(text.strip())) return m;
        throw new IllegalArgumentException("mode must be one of softmax, dijiang, hybrid (got '" + text + "')");
    }
}
