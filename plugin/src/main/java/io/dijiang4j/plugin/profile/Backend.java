package io.dijiang4j.plugin.profile;

import io.dijiang4j.attention.AttentionBackends;

/** The profile's {@code backend}: where the kernels run ({@link AttentionBackends} owns the names and the choice). */
public enum Backend {
    /** CUDA when a GPU provider loads, else the CPU. */
    AUTO(AttentionBackends.AUTO),
    CPU(AttentionBackends.CPU),
    CUDA(AttentionBackends.CUDA);

    private final String key;

    Backend(String key) {
        this.key = key;
    }

    public String key() {
        return key;
    }

    /** @throws IllegalArgumentException naming the known backends */
    public static Backend parse(String text) {
        return SettingKeys.parse(values(), Backend::key, text);
    }

    @Override
    public String toString() {
        return key;
    }
}
