package io.dijiang4j.attention;

import java.util.Optional;

/**
 * A backend that can run attention kernels (ServiceLoader SPI). The CPU backend lives in this module; the gpu
 * module registers a CUDA provider that is found at run time when its jar is on the class path.
 */
public interface AttentionKernelProvider {
    /** "cpu", "cuda", ... as named by the profile's {@code backend:} key. */
    String name();

    /** Whether this backend can run here (driver present, device found); the reason is logged when it cannot. */
    boolean isAvailable();

    /** Why {@link #isAvailable()} is false, for the one log line or the error of {@code backend: cuda}. */
    default Optional<String> unavailableReason() {
        return Optional.empty();
    }

    /**
     * Why this backend cannot run {@code spec} (it lacks a feature the spec asks for), or empty when it can. A
     * provider that answers non-empty must still not fail or silently ignore the feature in {@link #create}: it
     * hands back the CPU kernel, and {@link AttentionBackends#select(String, AttentionSpec)} picks the CPU for it.
     */
    default Optional<String> unsupportedReason(AttentionSpec spec) {
        return Optional.empty();
    }

    /** Whether this backend runs {@code spec} itself; see {@link #unsupportedReason(AttentionSpec)}. */
    default boolean supports(AttentionSpec spec) {
        return unsupportedReason(spec).isEmpty();
    }

    AttentionKernel create(AttentionShape shape, AttentionSpec spec);
}
