package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.generation.ChatTemplate;
import io.dijiang4j.plugin.generation.ChatTurn;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.plugin.profile.ProfileLoader;
import io.dijiang4j.tools.cli.Main;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dijiang generate} and {@code dijiang chat} in process, with the repository's configs/ profiles. */
class CliIT {
    static final Path CONFIGS = Path.of("..", "configs").toAbsolutePath().normalize();

    record Run(int exitCode, String out, String err) {}

    static Run run(String stdin, String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        InputStream oldIn = System.in;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
            int code = Main.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
            System.setIn(oldIn);
        }
    }

    static String model() {
        return Stories260K.dir().toString();
    }

    @Test
    void hybridProfilePrintsAStory() {
        Run r = run(
                "",
                "generate",
                "--config",
                CONFIGS.resolve("hybrid.yaml").toString(),
                "--model",
                model(),
                "--prompt",
                "Once upon a time",
                "--max-tokens",
                "40");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().startsWith("Once upon a time"), r.out());
        assertTrue(r.out().length() > "Once upon a time".length() + 40, r.out());
        assertTrue(r.err().contains("mode hybrid on 5 of 5 layers"), r.err());
    }

    @Test
    void softmaxGreedyPrintsTheGoldenText() {
        // the golden text is 64 positions: BOS + 4 prompt tokens + 60 generated (PROVENANCE.md)
        Run r = run(
                "",
                "generate",
                "--config",
                CONFIGS.resolve("vanilla.yaml").toString(),
                "--model",
                model(),
                "--mode",
                "softmax",
                "--temperature",
                "0",
                "--max-tokens",
                "60",
                "--prompt",
                "Once upon a time");
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(JlamaIntegrationIT.GOLDEN + "\n", r.out());
    }

    @Test
    void theConfigsPointAtTheEmbeddedModel() {
        Run r = run(
                "",
                "generate",
                "--config",
                CONFIGS.resolve("dijiang.yaml").toString(),
                "--prompt",
                "Tom",
                "--max-tokens",
                "8");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().startsWith("Tom"), r.out());
    }

    @Test
    void aTypoInTheProfileIsOneLineAndExitCode2(@TempDir Path temp) throws Exception {
        Path yaml = temp.resolve("typo.yaml");
        Files.writeString(yaml, "model: " + model() + "\nmode: hybrid\nwindw: 64\n");
        Run r = run("", "generate", "--config", yaml.toString(), "--prompt", "hi");
        assertEquals(2, r.exitCode());
        assertEquals("", r.out());
        String[] lines = r.err().strip().split("\n");
        assertEquals(1, lines.length, r.err());
        assertTrue(lines[0].contains(yaml + ":line 3: key 'windw': unknown key"), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace");
    }

    @Test
    void badArgumentsExitWith2() {
        Run r = run(
                "",
                "generate",
                "--config",
                CONFIGS.resolve("hybrid.yaml").toString(),
                "--model",
                "/no/such/dir",
                "--prompt",
                "hi");
        assertEquals(2, r.exitCode());
        assertEquals(
                "error: --model /no/such/dir: neither a model directory nor a .gguf file",
                r.err().strip());
        Run missing =
                run("", "generate", "--config", CONFIGS.resolve("hybrid.yaml").toString());
        assertEquals(2, missing.exitCode());
        Run badSampling = run(
                "",
                "generate",
                "--config",
                CONFIGS.resolve("hybrid.yaml").toString(),
                "--top-p",
                "2",
                "--prompt",
                "hi");
        assertEquals(2, badSampling.exitCode());
        assertEquals(
                "error: top_p must be in (0, 1], got 2.0", badSampling.err().strip());
    }

    @Test
    void chatKeepsOneSessionAcrossTurns(@TempDir Path temp) {
        Path first = temp.resolve("first.session");
        Path second = temp.resolve("second.session");
        Run r = run(
                "Once upon a time\n/save " + first + "\nThe end\n/save " + second + "\n/quit\n",
                "chat",
                "--config",
                CONFIGS.resolve("hybrid.yaml").toString(),
                "--model",
                model(),
                "--max-tokens",
                "20",
                "--temperature",
                "0");
        assertEquals(0, r.exitCode(), r.err());
        assertFalse(r.out().isBlank(), "replies on stdout");
        Profile profile = ProfileLoader.load(CONFIGS.resolve("hybrid.yaml")).withModel(ModelReference.parse(model()));
        try (DiJiangModel model = DiJiang.load(profile);
                Session afterFirst = model.restoreSession(first);
                Session afterSecond = model.restoreSession(second)) {
            // the first line through the model's chat template (BOS included) + 20 replies; the second turn holds the
            // first, its reply, the second line and 20 more (stories260K's template puts a newline between turns
            // only once a turn follows, so this conversation is re-read as a whole: see TemplatedConversation)
            String firstPrompt =
                    ChatTemplate.of(model.jlama()).orElseThrow().render(List.of(ChatTurn.user("Once upon a time")));
            long firstTurn = model.encode(firstPrompt, true).length + 20;
            assertEquals(firstTurn, afterFirst.position());
            assertTrue(afterSecond.position() > firstTurn + 20, "second turn appended: " + afterSecond.position());
        }
    }
}
