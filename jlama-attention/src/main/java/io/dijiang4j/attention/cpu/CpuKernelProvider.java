package io.dijiang4j.attention.cpu;

import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionKernelProvider;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;

/** The CPU backend ("cpu"): always available. */
public final class CpuKernelProvider implements AttentionKernelProvider {
    public static final String NAME = "cpu";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean isAvailable() {
        return true;
    }

    @Override
    public AttentionKernel create(AttentionShape shape, AttentionSpec spec) {
        return switch (spec.method()) {
            case LINEAR -> new CpuLinearKernel(shape, spec);
            case HYBRID -> new CpuHybridKernel(shape, spec);
        };
    }
}
