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
 * Every CLI command leaves the temporary directory and the model directory as it found them, whether it succeeds or
 * fails: the commands run one after another in a child JVM whose {@code java.io.tmpdir} is a fresh directory (the
 * JDK reads that property once), which is listed after each.
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

    /**
     * Runs the commands in one child JVM ({@link Runner}) whose {@code java.io.tmpdir} is {@code tmpdir}; returns
     * its report: one line per command, "EXIT code LISTING of tmpdir after it".
     */
    private static List<String> runAll(Path tmpdir, Path script) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> !a.startsWith("-Djava.io.tmpdir"))
                .toList());
        cmd.addAll(List.of(
                "-Djava.io.tmpdir=" + tmpdir,
                "-cp",
                System.getProperty("java.class.path"),
                Runner.class.getName(),
                script.toString()));
        Process p = new ProcessBuilder(cmd)
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), output);
        assertEquals(0, p.exitValue(), output);
        return output.lines().filter(l -> l.startsWith("EXIT ")).toList();
    }

    /**
     * The child: each line of the script file is a command (arguments separated by TAB, then the stdin text after a
     * TAB-TAB, with \\n for newlines); prints "EXIT code entries" after each, entries = what java.io.tmpdir holds.
     */
    public static final class Runner {
        public static void main(String[] args) throws Exception {
            Path tmpdir = Path.of(System.getProperty("java.io.tmpdir"));
            java.io.PrintStream report = System.out;
            for (String line : Files.readAllLines(Path.of(args[0]))) {
                String[] parts = line.split("\t\t", -1);
                String input = parts.length > 1 ? parts[1].replace("\\n", "\n") : "";
                CliRun r = CliRun.withInput(input, parts[0].split("\t"));
                List<String> left;
                try (Stream<Path> s = Files.list(tmpdir)) {
                    left = s.map(p -> p.getFileName().toString()).sorted().toList();
                }
                report.println("EXIT " + r.exitCode() + " " + left);
            }
            System.exit(0);
        }
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
        // a damaged model is refused: nothing written either
        Path damaged = temp.resolve("damaged");
        Files.createDirectories(damaged);
        for (String f : List.of("config.json", "tokenizer.json", "tokenizer_config.json")) {
            Files.copy(model.resolve(f), damaged.resolve(f));
        }
        Files.write(damaged.resolve("model.safetensors"), new byte[] {1, 2, 3});
        Path script = temp.resolve("script.txt");
        StringBuilder lines = new StringBuilder();
        List<Object[]> all = new ArrayList<>(List.of(runs));
        all.add(new Object[] {
            2, "", new String[] {"generate", "--config", p, "--model", damaged.toString(), "--prompt", "x"}
        });
        for (Object[] run : all) {
            lines.append(String.join("\t", (String[]) run[2]))
                    .append("\t\t")
                    .append(((String) run[1]).replace("\n", "\\n"))
                    .append('\n');
        }
        Files.writeString(script, lines.toString());
        Map<String, String> modelBefore = listing(model);
        Path tmpdir = Files.createDirectories(temp.resolve("tmpdir"));
        List<String> report = runAll(tmpdir, script);
        assertEquals(all.size(), report.size(), report.toString());
        for (int i = 0; i < all.size(); i++) {
            String command = String.join(" ", (String[]) all.get(i)[2]);
            assertEquals("EXIT " + all.get(i)[0] + " []", report.get(i), command);
        }
        assertEquals(modelBefore, listing(model), "the model directory after every command");
    }
}
