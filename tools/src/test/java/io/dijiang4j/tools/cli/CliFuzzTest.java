package io.dijiang4j.tools.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.dijiang4j.plugin.Stories260K;
import io.dijiang4j.plugin.calibration.CalibrationFile;
import io.dijiang4j.plugin.profile.ProfileLoader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded fuzzing of the CLI, in process ({@link CliRun}): mutated profiles, damaged model files, sidecars and
 * snapshots, random prompts, extreme option values. Every case must end in exit 0 with the unmodified input's answer
 * where one is defined, or in exit 2 with exactly one {@code error:} line: never a stack trace, another exit code, an
 * uncaught Throwable (OutOfMemoryError included) or a case running past {@link #CASE_TIMEOUT_S}.
 *
 * <p>Each category runs for a time budget ({@code -Dfuzz.seconds}, default 4 per category) from a seed ({@code
 * -Dfuzz.seed}, default 1); a failure names the seed, the case number and the mutation, so it replays.
 * scripts/fuzz.sh runs the same with a longer budget and new seeds.
 */
class CliFuzzTest {
    static final long SEED = Long.getLong("fuzz.seed", 1);
    static final double SECONDS = Double.parseDouble(System.getProperty("fuzz.seconds", "4"));
    static final long CASE_TIMEOUT_S = 120;

    @TempDir
    static Path tmp;

    static ExecutorService runner;
    static Path model;
    static Path baseProfile;
    static String baseAnswer;

    /** The profile every case starts from: hybrid on 3 of 5 layers, calibration off, greedy, 3 tokens. */
    static String profileText(Path modelDir) {
        return "model: " + modelDir + "\n"
                + "mode: hybrid\n"
                + "layers: [0, 2, 4]\n"
                + "features: 16\n"
                + "sinks: 4\n"
                + "window: 8\n"
                + "block_size: 16\n"
                + "decay: 1.0\n"
                + "calibration: none\n"
                + "max_tokens: 3\n"
                + "temperature: 0\n"
                + "top_p: 0.9\n"
                + "top_k: 10\n"
                + "seed: 7\n";
    }

    @BeforeAll
    static void setUp() throws IOException {
        runner = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "cli-fuzz");
            t.setDaemon(true);
            return t;
        });
        model = Stories260K.dir();
        baseProfile = tmp.resolve("base.yaml");
        Files.writeString(baseProfile, profileText(model));
        CliRun base = run("base", "generate", "--config", baseProfile.toString(), "--prompt", "Once upon a time");
        assertEquals(0, base.exitCode(), base.err());
        baseAnswer = base.out();
    }

    @AfterAll
    static void tearDown() {
        runner.shutdownNow();
    }

    /** Runs the CLI in process on the fuzz thread; a case that throws or runs too long fails the test. */
    static CliRun run(String what, String... args) {
        Future<CliRun> f = runner.submit(() -> CliRun.of(args));
        try {
            return f.get(CASE_TIMEOUT_S, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            fail("seed " + SEED + ", " + what + ": no result after " + CASE_TIMEOUT_S + " s (hang?) "
                    + Arrays.toString(args));
        } catch (java.util.concurrent.ExecutionException e) {
            throw new AssertionError(
                    "seed " + SEED + ", " + what + ": " + e.getCause() + " escaped the CLI", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted");
        }
        throw new AssertionError("unreachable");
    }

    /** Exit 2 with one error line and no stack trace, or exit 0 (with {@code expected} on stdout when given). */
    static void assertClean(String what, CliRun r, String expected) {
        String context = "seed " + SEED + ", " + what + ": exit " + r.exitCode() + "\nstderr:\n" + r.err();
        List<String> lines = r.err().lines().toList();
        for (String line : lines) {
            if (line.startsWith("\tat ")
                    || line.contains("Exception in thread")
                    || line.contains("OutOfMemoryError")
                    || line.matches("^\\s+at [\\w.$]+\\(.*")) {
                fail("stack trace: " + context);
            }
        }
        if (r.exitCode() == 0) {
            if (expected != null && !expected.equals(r.out())) {
                fail("a silently different answer: " + context + "\nstdout: " + r.out() + "\nexpected: " + expected);
            }
            return;
        }
        if (r.exitCode() != 2) fail("exit code " + r.exitCode() + " for bad input: " + context);
        long errors = lines.stream().filter(l -> l.startsWith("error:")).count();
        if (errors != 1) fail(errors + " error lines: " + context);
    }

    /** Runs cases from {@code cases} until the category's time budget is spent; returns how many ran. */
    static int budget(String category, Random random, CaseMaker cases) throws IOException {
        long end = System.nanoTime() + (long) (SECONDS * 1e9);
        int n = 0;
        double slowest = 0;
        do {
            long start = System.nanoTime();
            cases.run(category + " case " + n, random);
            slowest = Math.max(slowest, (System.nanoTime() - start) / 1e9);
            n++;
        } while (System.nanoTime() < end);
        System.err.printf(
                java.util.Locale.ROOT, "fuzz %s: %d cases, seed %d, slowest case %.1f s%n", category, n, SEED, slowest);
        return n;
    }

    @FunctionalInterface
    interface CaseMaker {
        void run(String what, Random random) throws IOException;
    }

    // ---- profiles ----

    static final String[] VALUES = {
        "-1",
        "0",
        "1",
        "2147483647",
        "2147483648",
        "-2147483649",
        "9223372036854775808",
        "1e308",
        "-1e-320",
        "NaN",
        ".nan",
        ".inf",
        "-.inf",
        "~",
        "null",
        "",
        "[]",
        "{}",
        "[1, [2]]",
        "{a: 1}",
        "'text'",
        "\"\\u0000\"",
        "yes",
        "no",
        "true",
        "0x10",
        "1_000",
        "!!binary AAAA",
        "&a x",
        "*a",
        "é",
        "1.5",
        "99999999",
        "2000000000",
        "1000000",
        "65537",
        "[0, 99]",
        "[-1]",
        "all",
        "none",
        "softmax",
        "dijiang",
        "hybrid",
        "online",
        "centroids",
        "auto",
        "wdcf",
        "cuda",
        "heavy_hitter",
        "hf:",
        "/nonexistent",
        "\"\"",
        "'",
        "\"",
        "[",
        "{",
        "- x",
        "!!python/object:os.system x",
        "%YAML 1.1",
        "\t",
        "1e-45",
        "0.0000001"
    };

    /** Every profile key (the loader's own list) and a few that are not keys. */
    static final String[] KEYS = java.util.stream.Stream.concat(
                    ProfileLoader.KEYS.stream(), java.util.stream.Stream.of("modle", "", "?", "é", "x y"))
            .toArray(String[]::new);

    static byte[] mutateProfile(String text, Random random, StringBuilder how) {
        List<String> lines = new ArrayList<>(text.lines().toList());
        int mutations = 1 + random.nextInt(3);
        for (int m = 0; m < mutations; m++) {
            int i = random.nextInt(lines.size());
            String line = lines.get(i);
            int colon = line.indexOf(':');
            switch (random.nextInt(8)) {
                case 0, 1 -> {
                    String value = VALUES[random.nextInt(VALUES.length)];
                    how.append(" value ").append(i).append('=').append(value);
                    if (colon > 0) lines.set(i, line.substring(0, colon + 1) + " " + value);
                }
                case 2 -> {
                    String key = KEYS[random.nextInt(KEYS.length)];
                    how.append(" key ").append(i).append('=').append(key);
                    if (colon > 0) lines.set(i, key + line.substring(colon));
                }
                case 3 -> {
                    how.append(" delete ").append(i);
                    lines.remove(i);
                    if (lines.isEmpty()) lines.add("");
                }
                case 4 -> {
                    how.append(" duplicate ").append(i);
                    lines.add(random.nextInt(lines.size() + 1), line);
                }
                case 5 -> {
                    String[] shapes = {
                        "  " + line, "- " + line, line + ":", "a:\n  " + line, "[" + line + "]", line + " #"
                    };
                    String shaped = shapes[random.nextInt(shapes.length)];
                    how.append(" structure ").append(i).append('=').append(shaped.replace("\n", "\\n"));
                    lines.set(i, shaped);
                }
                case 6 -> {
                    how.append(" swap ").append(i);
                    int j = random.nextInt(lines.size());
                    lines.set(i, lines.get(j));
                    lines.set(j, line);
                }
                default -> {
                    if (line.isEmpty()) break;
                    int at = random.nextInt(line.length());
                    char c = (char) (random.nextBoolean() ? 32 + random.nextInt(95) : random.nextInt(0x3000));
                    how.append(" char ")
                            .append(i)
                            .append('@')
                            .append(at)
                            .append('=')
                            .append((int) c);
                    lines.set(i, line.substring(0, at) + c + line.substring(at + 1));
                }
            }
        }
        byte[] bytes = (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8);
        switch (random.nextInt(8)) {
            case 0 -> {
                how.append(" utf16");
                bytes = ("\uFEFF" + new String(bytes, StandardCharsets.UTF_8))
                        .getBytes(random.nextBoolean() ? StandardCharsets.UTF_16LE : StandardCharsets.UTF_16BE);
            }
            case 1 -> {
                how.append(" bom");
                byte[] b = new byte[bytes.length + 3];
                b[0] = (byte) 0xEF;
                b[1] = (byte) 0xBB;
                b[2] = (byte) 0xBF;
                System.arraycopy(bytes, 0, b, 3, bytes.length);
                bytes = b;
            }
            case 2 -> {
                int at = random.nextInt(bytes.length);
                how.append(" byte@").append(at);
                bytes[at] = (byte) (0x80 + random.nextInt(128)); // invalid UTF-8 on its own
            }
            default -> {}
        }
        return bytes;
    }

    @Test
    void mutatedProfiles() throws IOException {
        Random random = new Random(SEED);
        String text = profileText(model);
        budget("profiles", random, (what, r) -> {
            StringBuilder how = new StringBuilder();
            Path file = tmp.resolve("p.yaml");
            Files.write(file, mutateProfile(text, r, how));
            // --max-tokens: a mutated max_tokens is parsed, but the run stays short
            CliRun result = run(
                    what + how,
                    "generate",
                    "--config",
                    file.toString(),
                    "--prompt",
                    "Once upon a time",
                    "--max-tokens",
                    "3");
            assertClean(what + how, result, null);
        });
    }

    // ---- model files, sidecars, snapshots ----

    static final int[] WORDS = {0x7fffffff, 0x80000000, 0xffffffff, 0x7fc00000, 0x7f800000, 0, 0x40000000};

    /**
     * A damaged copy of {@code good}: truncated anywhere or inside the header, one bit flipped in {@code
     * [0, region)} (any bit, or a high bit: a float's sign or exponent in either byte order), or a 4-byte word there
     * overwritten with an extreme value (lengths, counts, NaN, infinity).
     */
    static byte[] damage(byte[] good, int region, Random random, StringBuilder how) {
        byte[] bytes = good.clone();
        switch (random.nextInt(6)) {
            case 0 -> {
                int n = random.nextInt(good.length);
                how.append(" truncate ").append(n);
                return Arrays.copyOf(bytes, n);
            }
            case 1 -> {
                int n = random.nextInt(Math.min(good.length, Math.min(region, 256) + 16));
                how.append(" truncate-early ").append(n);
                return Arrays.copyOf(bytes, n);
            }
            case 2, 3 -> {
                int at = random.nextInt(region);
                int bit = random.nextBoolean() ? random.nextInt(8) : 6 + random.nextInt(2);
                how.append(" flip ").append(at).append('.').append(bit);
                bytes[at] ^= (byte) (1 << bit);
                return bytes;
            }
            default -> {
                // words near the start hold the lengths and counts: pick there half of the time
                int span = Math.max(1, (random.nextBoolean() ? Math.min(region, 64) : region) - 3);
                int at = random.nextInt(span);
                int word = WORDS[random.nextInt(WORDS.length)];
                how.append(" word ").append(at).append('=').append(Integer.toHexString(word));
                java.nio.ByteBuffer.wrap(bytes, at, 4)
                        .order(random.nextBoolean() ? java.nio.ByteOrder.BIG_ENDIAN : java.nio.ByteOrder.LITTLE_ENDIAN)
                        .putInt(word);
                return bytes;
            }
        }
    }

    static int safetensorsHeaderEnd(byte[] file) {
        return 8
                + (int) java.nio.ByteBuffer.wrap(file, 0, 8)
                        .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                        .getLong();
    }

    @Test
    void damagedModelFiles() throws IOException {
        Random random = new Random(SEED + 1);
        byte[] good = Files.readAllBytes(model.resolve("model.safetensors"));
        Path dir = tmp.resolve("model");
        Files.createDirectories(dir);
        for (String f : List.of("config.json", "tokenizer.json", "tokenizer_config.json")) {
            Files.copy(model.resolve(f), dir.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        budget("model files", random, (what, r) -> {
            StringBuilder how = new StringBuilder();
            Files.write(dir.resolve("model.safetensors"), damage(good, safetensorsHeaderEnd(good), r, how));
            CliRun result = run(
                    what + how,
                    "generate",
                    "--config",
                    baseProfile.toString(),
                    "--model",
                    dir.toString(),
                    "--prompt",
                    "Once upon a time");
            assertClean(what + how, result, baseAnswer);
        });
    }

    /**
     * A prompt long enough (about 90 tokens) that every layer's memory holds evicted tokens: a damaged number
     * anywhere in a sidecar or a state then reaches the answer (with a short prompt the memory is never read).
     */
    static final String LONG_PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play outside"
            + " in the park with her friends. One day, she saw a big red ball under a tree. She ran to the ball and"
            + " picked it up. Her mom said, \"Lily, be careful!\" Lily smiled and threw the ball to her dog, who"
            + " caught it and ran";

    @Test
    void damagedSidecars() throws IOException {
        Random random = new Random(SEED + 2);
        // the shipped sidecar, written again by this build (with its checksum)
        Path sidecar = tmp.resolve("side.safetensors");
        CalibrationFile.write(
                sidecar,
                CalibrationFile.read(Path.of(System.getProperty("dijiang.configs", "../configs"))
                        .resolve("hybrid.calibration.safetensors")));
        byte[] good = Files.readAllBytes(sidecar);
        Path profile = tmp.resolve("sidecar.yaml");
        Files.writeString(
                profile,
                "model: " + model + "\nmode: hybrid\ncalibration: side.safetensors\n"
                        + "temperature: 0\nmax_tokens: 3\n");
        // the answer compared: eval's perplexities and KL to four decimals, which any changed number in the memory
        // moves (greedy tokens did not move even with every centroid tripled)
        Path text = tmp.resolve("long-prompt.txt");
        Files.writeString(text, LONG_PROMPT);
        String[] eval = {"eval", "--config", profile.toString(), "--text-file", text.toString(), "--beyond-from", "0"};
        CliRun base = run("sidecar base", eval);
        assertEquals(0, base.exitCode(), base.err());
        budget("sidecars", random, (what, r) -> {
            StringBuilder how = new StringBuilder();
            // headers and data alike: the checksum covers the whole file
            Files.write(sidecar, damage(good, good.length, r, how));
            CliRun result = run(what + how, eval);
            assertClean(what + how, result, base.out());
            if (result.exitCode() == 0) {
                // accepted: then it must hold the same numbers (the sidecar encodes deterministically)
                Path again = tmp.resolve("again.safetensors");
                CalibrationFile.write(again, CalibrationFile.read(sidecar));
                if (!Arrays.equals(good, Files.readAllBytes(again))) {
                    fail("seed " + SEED + ", " + what + how + ": a damaged sidecar was read as other numbers");
                }
            }
        });
        // another model's sidecar
        Files.write(sidecar, good);
        CliRun other = run(
                "sidecar of another model",
                "generate",
                "--config",
                profile.toString(),
                "--model",
                tmp.resolve("model").toString(),
                "--prompt",
                "x");
        assertClean("sidecar of another model", other, null);
    }

    @Test
    void damagedSnapshots() throws IOException {
        Random random = new Random(SEED + 3);
        Path snapshot = tmp.resolve("s.snapshot");
        // a session long enough that sinks, window and memory all hold tokens
        CliRun saved = CliRun.withInput(
                LONG_PROMPT + "\n/save " + snapshot + "\n/quit\n",
                "chat",
                "--config",
                baseProfile.toString(),
                "--max-tokens",
                "20");
        assertEquals(0, saved.exitCode(), saved.err());
        byte[] good = Files.readAllBytes(snapshot);
        Path resaved = tmp.resolve("resaved.snapshot");
        String script = "/load " + snapshot + "\n/save " + resaved + "\nand then\n/quit\n";
        CliRun base = CliRun.withInput(script, "chat", "--config", baseProfile.toString());
        byte[] goodResaved = Files.readAllBytes(resaved);
        assertEquals(0, base.exitCode(), base.err());
        budget("snapshots", random, (what, r) -> {
            StringBuilder how = new StringBuilder();
            Files.write(snapshot, damage(good, good.length, r, how));
            CliRun result = runWithInput(what + how, script, "chat", "--config", baseProfile.toString());
            assertClean(what + how, result, base.out());
            if (result.exitCode() == 0 && !Arrays.equals(goodResaved, Files.readAllBytes(resaved))) {
                // accepted: then the restored state must be the one saved
                fail("seed " + SEED + ", " + what + how + ": a damaged snapshot was restored as another state");
            }
        });
        // a snapshot of another profile (mode dijiang), and of none at all
        Files.write(snapshot, good);
        for (String[] args : List.of(
                new String[] {"chat", "--config", baseProfile.toString(), "--mode", "dijiang"},
                new String[] {"chat", "--config", baseProfile.toString(), "--mode", "softmax"})) {
            assertClean("snapshot of another profile", runWithInput("other", script, args), null);
            assertEquals(2, runWithInput("other", script, args).exitCode());
        }
        assertEquals(
                2,
                runWithInput(
                                "missing",
                                "/load " + tmp.resolve("none") + "\n",
                                "chat",
                                "--config",
                                baseProfile.toString())
                        .exitCode());
    }

    static CliRun runWithInput(String what, String input, String... args) {
        Future<CliRun> f = runner.submit(() -> CliRun.withInput(input, args));
        try {
            return f.get(CASE_TIMEOUT_S, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("seed " + SEED + ", " + what + ": " + e, e);
        }
    }

    // ---- prompts and options ----

    @Test
    void randomPrompts() throws IOException {
        Random random = new Random(SEED + 4);
        budget("prompts", random, (what, r) -> {
            byte[] raw = new byte[r.nextInt(200)];
            r.nextBytes(raw);
            // as a JVM decodes an argument it was given: invalid UTF-8 becomes U+FFFD; lone surrogates too
            String prompt = r.nextBoolean()
                    ? new String(raw, StandardCharsets.UTF_8)
                    : new String(new char[] {(char) (0xD800 + r.nextInt(0x800)), 'a', (char) r.nextInt(32)});
            CliRun result = run(what, "generate", "--config", baseProfile.toString(), "--prompt", prompt);
            assertClean(what + " prompt " + Arrays.toString(raw), result, null);
            Files.write(tmp.resolve("text.txt"), raw);
            CliRun eval = run(
                    what,
                    "eval",
                    "--config",
                    baseProfile.toString(),
                    "--text-file",
                    tmp.resolve("text.txt").toString());
            assertClean(what + " eval text " + Arrays.toString(raw), eval, null);
        });
    }

    static final String[] NUMBERS = {
        "-1",
        "0",
        "-5",
        "2147483648",
        "-2147483649",
        "9223372036854775807",
        "99999999999999999999",
        "NaN",
        "Infinity",
        "-Infinity",
        "1e39",
        "-0",
        "0x10",
        "",
        " ",
        "abc",
        "1.5",
        "--",
        "1e-50"
    };

    /** Every numeric option of every command, with extreme values; the runs stay short (few tokens, tiny texts). */
    @Test
    void extremeOptionValues() throws IOException {
        Random random = new Random(SEED + 5);
        Path text = tmp.resolve("story.txt");
        Files.writeString(text, "Once upon a time there was a cat.\n<<<STORY>>>\nThe dog ran.\n");
        String config = baseProfile.toString();
        List<String[]> commands = List.of(
                new String[] {"generate", "--config", config, "--prompt", "Once", "--max-tokens", "2"},
                new String[] {
                    "sample",
                    "--config",
                    config,
                    "--count",
                    "1",
                    "--max-tokens",
                    "4",
                    "--out",
                    tmp.resolve("s.txt").toString()
                },
                new String[] {"eval", "--config", config, "--text-file", text.toString()},
                new String[] {
                    "synth-model",
                    "--shape",
                    "tiny",
                    "--out",
                    tmp.resolve("synth").toString()
                });
        String[][] options = {
            {"--max-tokens", "--temperature", "--top-p", "--top-k", "--seed"},
            {"--count", "--max-tokens", "--seed", "--temperature", "--top-p", "--top-k"},
            {"--beyond-from", "--long-range-span"},
            {"--seed", "--context-length"}
        };
        budget("options", random, (what, r) -> {
            int c = r.nextInt(commands.size());
            String option = options[c][r.nextInt(options[c].length)];
            String value = NUMBERS[r.nextInt(NUMBERS.length)];
            List<String> args = new ArrayList<>(Arrays.asList(commands.get(c)));
            args.add(option);
            args.add(value);
            // keep runs short: a huge --max-tokens or --count must be refused or capped, not run for hours
            boolean long_ = (option.equals("--max-tokens") || option.equals("--count"))
                    && !value.strip().startsWith("-")
                    && !value.isBlank()
                    && value.matches("[0-9]{3,}");
            if (long_) return;
            CliRun result = run(what + " " + args, args.toArray(String[]::new));
            assertClean(what + " " + args, result, null);
            io.dijiang4j.plugin.io.AtomicFiles.deleteTree(tmp.resolve("synth"));
        });
    }
}
