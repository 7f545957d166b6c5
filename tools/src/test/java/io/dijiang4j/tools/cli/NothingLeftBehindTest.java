package io.dijiang4j.tools.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.Stories260K;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every CLI command, run as bin/dijiang runs it (a JVM of its own, here with a fresh {@code java.io.tmpdir}), leaves
 * the temporary directory and the model directory as it found them, whether it succeeds or fails.
 */
class NothingLeftBehindTest {
    @TempDir
    Path temp;

    /** Every file under {@code dir} with its size and modification time. */
    private static Map<String, String> listing(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.toList()) {
                out.put(
                        dir.relativize(p).toString(),
                        Files.isDirectory(p)
                                ? "dir"
                                : Files.size(p) + "@"
                                        + Files.getLastModifiedTime(p).toMillis());
            }
        }
        return out;
    }

    private int cli(Path tmpdir, String input, String... args) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> !a.startsWith("-Djava.io.tmpdir"))
                .toList());
        cmd.addAll(List.of(
                "-Djava.io.tmpdir=" + tmpdir, "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), output);
        System.err.println(String.join(" ", args) + " -> exit " + p.exitValue());
        return p.exitValue();
    }

    @Test
    void everyCommandLeavesTmpdirAndModelDirectoryAsItFoundThem() throws Exception {
        Path model = temp.resolve("model");
        Files.createDirectories(model);
        try (var files = Files.list(Stories260K.dir())) {
            for (Path f : files.filter(Files::isRegularFile).toList()) Files.copy(f, model.resolve(f.getFileName()));
        }
        Path profile = temp.resolve("p.yaml");
        Files.writeString(profile, "model: model\nmode: hybrid\nmax_tokens: 4\ntemperature: 0\n");
        Path text = temp.resolve("t.txt");
        Files.writeString(text, "Once upon a time there was a cat.\n<<<STORY>>>\nThe dog ran to the park.\n");
        Path out = temp.resolve("out");
        Files.createDirectories(out);
        String p = profile.toString();
        Object[][] runs = {
            {0, "", new String[] {"generate", "--config", p, "--prompt", "Once upon a time"}},
            {
                0,
                "Hello\n/save " + out.resolve("s.snap") + "\n/load " + out.resolve("s.snap") + "\nmore\n/quit\n",
                new String[] {"chat", "--config", p}
            },
            {
                0,
                "",
                new String[] {
                    "sample",
                    "--config",
                    p,
                    "--count",
                    "1",
                    "--max-tokens",
                    "8",
                    "--out",
                    out.resolve("sampled.txt").toString()
                }
            },
            {
                0,
                "",
                new String[] {
                    "eval",
                    "--config",
                    p,
                    "--text-file",
                    text.toString(),
                    "--json",
                    out.resolve("eval.json").toString()
                }
            },
            {
                0,
                "",
                new String[] {
                    "calibrate",
                    "--config",
                    p,
                    "--text-file",
                    text.toString(),
                    "--out",
                    out.resolve("side.safetensors").toString(),
                    "--windows",
                    "8",
                    "--caches",
                    "0",
                    "--features",
                    "8",
                    "--sensitivity-texts",
                    "1"
                }
            },
            {
                0,
                "",
                new String[] {
                    "synth-model",
                    "--shape",
                    "tiny",
                    "--out",
                    out.resolve("synth").toString()
                }
            },
            {2, "", new String[] {"generate", "--config", p, "--prompt", "x", "--top-p", "7"}},
            {2, "/load " + out.resolve("missing") + "\n", new String[] {"chat", "--config", p}},
        };
        Map<String, String> modelBefore = listing(model);
        for (Object[] run : runs) {
            Path tmpdir = Files.createDirectories(temp.resolve(
                    "tmpdir-" + ((String[]) run[2])[0] + "-" + run[0] + "-" + Math.abs(run[1].hashCode())));
            int code = cli(tmpdir, (String) run[1], (String[]) run[2]);
            assertEquals((int) run[0], code, String.join(" ", (String[]) run[2]));
            assertEquals(
                    Map.of("", "dir"), listing(tmpdir), "java.io.tmpdir after " + String.join(" ", (String[]) run[2]));
            assertEquals(
                    modelBefore, listing(model), "the model directory after " + String.join(" ", (String[]) run[2]));
        }
        // a damaged model is refused: nothing written either
        Files.write(model.resolve("model.safetensors"), new byte[] {1, 2, 3});
        Path tmpdir = Files.createDirectories(temp.resolve("tmpdir-damaged"));
        assertEquals(2, cli(tmpdir, "", "generate", "--config", p, "--prompt", "x"));
        assertEquals(Map.of("", "dir"), listing(tmpdir));
    }
}
