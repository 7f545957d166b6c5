package io.dijiang4j.plugin.profile;

/**
 * The profile's {@code tensor_ops}: whose matrix products Jlama runs for this model's weights. {@code fast}: the
 * project's kernels ({@code io.dijiang4j.attention.tensorops}); {@code jlama}: Jlama's own Panama operations.
 */
public enum TensorOps {
    FAST,
    JLAMA;

    public String key() {
        return SettingKeys.key(this);
    }

    /** @throws IllegalArgumentException naming the known values */
    public static TensorOps parse(String text) {
        return SettingKeys.parse(values(), TensorOps::key, text);
    }

    @Override
    public String toString() {
        return key();
    }
}
