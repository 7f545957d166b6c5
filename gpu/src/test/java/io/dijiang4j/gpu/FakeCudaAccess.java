package io.dijiang4j.gpu;

/** Gives tests in other packages the path of the fake libcuda. */
public final class FakeCudaAccess {
    private FakeCudaAccess() {}

    public static String library(String... defines) {
        return FakeCuda.library(defines).toString();
    }

    public static String emulator() {
        return FakeCuda.emulator().toString();
    }
}
