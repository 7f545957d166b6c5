package io.dijiang4j.tools.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dijiang4j.plugin.Stories260K;
import io.dijiang4j.tools.cli.CliRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dijiang sample} and {@code dijiang eval} in process. */
class EvalAndSampleCommandTest {
    @TempDir
    Path temp;

    static CliRun run(String... args) {
        return CliRun.of(args);
    }

    Path profile(String extra) throws Exception {
        return Files.writeString(
                temp.resolve("profile.yaml"),
                "model: " + Stories260K.dir() + "\nmode: hybrid\nbackend: cpu\nsinks: 2\nwindow: 8\n" + extra);
    }

    @Test
    void sampleWritesTheSameFileForTheSameSeed() throws Exception {
        Path config = profile("");
        Path a = temp.resolve("a.txt");
        Path b = temp.resolve("b.txt");
        Path c = temp.resolve("c.txt");
        String[] common = {"sample", "--config", config.toString(), "--count", "3", "--max-tokens", "40"};
        CliRun first = run(concat(common, "--seed", "77", "--out", a.toString()));
        assertEquals(0, first.exitCode(), first.err());
        assertTrue(first.err().contains("sampled 3/3 texts"), first.err());
        assertEquals(
                0, run(concat(common, "--seed", "77", "--out", b.toString())).exitCode());
        assertEquals(
                0, run(concat(common, "--seed", "78", "--out", c.toString())).exitCode());
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
        assertFalse(Files.readString(a).equals(Files.readString(c)), "another seed, other texts");
        assertEquals(3, StoryTexts.read(a).size());
    }

    @Test
    void evalPrintsTheTableAndWritesTheJson() throws Exception {
        Path config = profile("");
        Path texts = Files.writeString(
                temp.resolve("texts.txt"),
                "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.\r\n"
                        + "<<<STORY>>>\r\n"
                        + "Tom had a big red ball. He liked to throw it high in the sky. One day, the ball fell in"
                        + " the pond.\r\n");
        Path json = temp.resolve("eval.json");
        CliRun r =
                run("eval", "--config", config.toString(), "--text-file", texts.toString(), "--json", json.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().startsWith("metric"), r.out());
        assertTrue(r.out().contains("kl_mean"), r.out());
        assertTrue(r.err().contains("2 texts"), r.err());
        JsonNode j = new ObjectMapper().readTree(json.toFile());
        assertEquals("hybrid", j.get("mode").asText());
        assertEquals(2, j.get("texts").asInt());
        assertEquals(10, j.get("beyond_from").asInt());
        assertEquals(config.toString(), j.get("profile").asText());
        assertTrue(j.get("kl_mean_beyond_window").asDouble() > 0);

        CliRun softmax = run(
                "eval",
                "--config",
                config.toString(),
                "--mode",
                "softmax",
                "--text-file",
                texts.toString(),
                "--beyond-from",
                "5",
                "--json",
                json.toString());
        assertEquals(0, softmax.exitCode(), softmax.err());
        JsonNode s = new ObjectMapper().readTree(json.toFile());
        // the same attention run twice: equal up to float noise of Jlama's kernels (interpreted vs compiled code)
        assertEquals(
                1.0,
                s.get("perplexity").asDouble() / s.get("perplexity_reference").asDouble(),
                1e-6);
        assertTrue(s.get("kl_mean").asDouble() < 1e-9, s.toString());
        assertEquals(5, s.get("beyond_from").asInt());
        assertEquals(j.get("tokens").asLong(), s.get("tokens").asLong());
    }

    @Test
    void evalAblatePrintsOneRowPerVariantAndTheLongRangeSlice() throws Exception {
        Path config = profile("exact_cache: 4\n");
        StringBuilder story = new StringBuilder();
        for (int i = 0; i < 6; i++) {
            story.append("Lily and Tom went to the park. They saw a big dog and a red ball. The dog was happy. ");
        }
        Path texts = Files.writeString(temp.resolve("texts.txt"), story.toString());
        Path json = temp.resolve("ablate.json");
        CliRun r = run(
                "eval",
                "--config",
                config.toString(),
                "--text-file",
                texts.toString(),
                "--ablate",
                "--json",
                json.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("long range (next token seen before only more than 14 positions back"), r.out());
        for (String variant : List.of("window ", "window+cache ", "full ")) {
            assertEquals(1, r.out().lines().filter(l -> l.startsWith(variant)).count(), variant + " in\n" + r.out());
        }
        JsonNode j = new ObjectMapper().readTree(json.toFile());
        assertEquals(14, j.get("long_range_span").asInt());
        assertEquals(2, j.get("long_range_sinks").asInt());
        JsonNode rows = j.get("ablation");
        assertEquals(3, rows.size());
        assertEquals("window+cache", rows.get(1).get("variant").asText());
        // a repeated story: most next tokens were seen more than 14 positions back and nowhere nearer
        assertTrue(j.get("tokens_long_range").asLong() > 50, j.toString());
        assertEquals(
                j.get("kl_mean_long_range").asDouble(),
                rows.get(2).get("kl_mean_long_range").asDouble());
        assertTrue(rows.get(0).get("kl_mean_long_range").asDouble() > 0);
    }

    @Test
    void badInputExitsWithCodeTwoAndOneLine() throws Exception {
        Path config = profile("");
        Path texts = Files.writeString(temp.resolve("t.txt"), "One day.\n");
        Path empty = Files.writeString(temp.resolve("empty.txt"), "<<<STORY>>>\n\n");
        Path badConfig = Files.writeString(temp.resolve("bad.yaml"), "model: " + Stories260K.dir() + "\nwindw: 3\n");
        List<String[]> cases = List.of(
                new String[] {
                    "eval",
                    "--config",
                    config.toString(),
                    "--text-file",
                    temp.resolve("no.txt").toString()
                },
                new String[] {"eval", "--config", config.toString(), "--text-file", empty.toString()},
                new String[] {"eval", "--config", badConfig.toString(), "--text-file", texts.toString()},
                new String[] {"eval", "--config", temp.resolve("none.yaml").toString(), "--text-file", texts.toString()
                },
                new String[] {"eval", "--config", config.toString(), "--text-file", texts.toString(), "--mode", "x"},
                new String[] {
                    "eval", "--config", config.toString(), "--text-file", texts.toString(), "--beyond-from", "-1"
                },
                new String[] {"eval", "--config", config.toString()},
                new String[] {
                    "eval",
                    "--config",
                    config.toString(),
                    "--text-file",
                    texts.toString(),
                    "--mode",
                    "dijiang",
                    "--ablate"
                },
                new String[] {
                    "eval", "--config", config.toString(), "--text-file", texts.toString(), "--long-range-span", "-2"
                },
                new String[] {"eval", "--config", config.toString(), "--text-file", texts.toString(), "--seed", "3"},
                new String[] {"sample", "--config", config.toString(), "--count", "0", "--out", "x.txt"},
                new String[] {
                    "sample",
                    "--config",
                    config.toString(),
                    "--count",
                    "1",
                    "--max-tokens",
                    "600",
                    "--out",
                    temp.resolve("x.txt").toString()
                },
                new String[] {"sample", "--config", badConfig.toString(), "--count", "1", "--out", "x.txt"},
                new String[] {
                    "sample", "--config", config.toString(), "--count", "1", "--mode", "hybrid", "--out", "x.txt"
                });
        for (String[] args : cases) {
            CliRun r = run(args);
            String what = String.join(" ", args) + " -> " + r.err();
            assertEquals(2, r.exitCode(), what);
            // loading lines ("dijiang: ...") may precede an error found once the model is loaded; then one line
            List<String> lines =
                    r.err().lines().filter(l -> !l.startsWith("dijiang: ")).toList();
            assertEquals(1, lines.size(), what);
            assertTrue(lines.get(0).startsWith("error: "), what);
        }
        assertFalse(Files.exists(temp.resolve("x.txt")));
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
