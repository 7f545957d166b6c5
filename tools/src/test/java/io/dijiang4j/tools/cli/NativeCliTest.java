package io.dijiang4j.tools.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.nativemodels.NativeModels;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dijiang synth-native} then {@code dijiang generate --model DIR} for each architecture. */
class NativeCliTest {

    @TempDir
    Path tmp;

    @Test
    void synthNativeThenGenerateRunsEachArchitecture() throws Exception {
        Path profile = tmp.resolve("p.yaml");
        Files.writeString(profile, Files.readString(Path.of("../configs/dijiang.yaml")));
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        try {
            for (String arch : new String[] {"dijiang", "transnormer", "mcsd"}) {
                Path dir = tmp.resolve(arch);
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                ByteArrayOutputStream err = new ByteArrayOutputStream();
                System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
                System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
                assertEquals(0, Main.run("synth-native", "--arch", arch, "--out", dir.toString()));
                assertTrue(NativeModels.isNative(dir));
                int rc = Main.run(
                        "generate",
                        "--config",
                        profile.toString(),
                        "--model",
                        dir.toString(),
                        "--prompt",
                        "Once upon",
                        "--max-tokens",
                        "12",
                        "--temperature",
                        "0");
                String stderr = err.toString(StandardCharsets.UTF_8);
                assertEquals(0, rc, stderr);
                assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("Once upon"));
                assertTrue(stderr.contains("native " + arch + " model, 9 prompt tokens, 12 generated"), stderr);
                // trained with linear attention: configs/dijiang.yaml's warning is for softmax-trained models only
                assertTrue(!stderr.contains("without training"), stderr);
            }
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            assertEquals(
                    2,
                    Main.run(
                            "synth-native",
                            "--arch",
                            "rwkv",
                            "--out",
                            tmp.resolve("x").toString()));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }
}
