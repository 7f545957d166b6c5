package io.dijiang4j.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a main class in a fresh JVM, for the tests that restore a state saved by another process. The child gets
 * this JVM's java binary, flags and test classpath: the flags matter beyond --add-modules jdk.incubator.vector,
 * since another vector width (-XX:MaxVectorSize) sums in another order and states are bit-identical only between
 * JVMs that vectorize alike. On HotSpot every identity hash code of the child is 1 ({@code -XX:hashCode=2}), so a
 * fingerprint that leaned on identity or enum hash codes would differ from this process's.
 */
public final class ChildJvm {
    private ChildJvm() {}

    public static void run(Class<?> mainClass, String... args) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        if (!String.join(" ", cmd).contains("jdk.incubator.vector")) {
            cmd.addAll(List.of("--add-modules", "jdk.incubator.vector"));
        }
        if (System.getProperty("java.vm.name", "").contains("HotSpot")) {
            cmd.addAll(List.of("-XX:+UnlockExperimentalVMOptions", "-XX:hashCode=2"));
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass.getName()));
        cmd.addAll(List.of(args));
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes());
        if (!child.waitFor(120, TimeUnit.SECONDS)) {
            child.destroyForcibly();
            throw new AssertionError("child JVM timed out: " + output);
        }
        assertEquals(0, child.exitValue(), "child JVM failed: " + output);
    }
}
