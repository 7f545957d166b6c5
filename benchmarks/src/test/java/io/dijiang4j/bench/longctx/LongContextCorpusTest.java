package io.dijiang4j.bench.longctx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.tools.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Teacher-forced cells are skipped by profile, corpus and length: a different text under a corpus name that already
 * has rows is refused in one line, and the results file keeps only the first text's rows.
 */
class LongContextCorpusTest {
    @TempDir
    Path tmp;

    private static final String FIRST = "Once upon a time, there was a little girl named Lily. She loved to play"
            + " outside in the park with her dog. One day, she saw a big tree with a red ball in it. She wanted the"
            + " ball, so she asked her mom for help. Her mom smiled and got the ball down for her.";
    private static final String SECOND = "Tom had a big red ball. He liked to throw it high in the sky. One day, the"
            + " ball fell in the pond and Tom was sad. His friend Sam came to help him get the ball out of the water."
            + " They laughed and played together until the sun went down.";

    /** {@code long-context} teacher-forced at 40 tokens, vanilla and one profile, on one text; stderr into err. */
    private static int run(ByteArrayOutputStream err, Path vanilla, String profile, String text, Path out) {
        PrintStream old = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            return Main.run(
                    "long-context",
                    "--profile",
                    "vanilla=" + vanilla,
                    "--profile",
                    profile,
                    "--eval-text",
                    text,
                    "--eval-lengths",
                    "40",
                    "--out",
                    out.toString());
        } finally {
            System.setErr(old);
        }
    }

    @Test
    void aNewTextUnderAMeasuredCorpusNameIsRefused() throws Exception {
        String model = "model: " + Path.of("../models/stories260K").toAbsolutePath() + "\nbackend: cpu\n";
        Path vanilla = Files.writeString(tmp.resolve("vanilla.yaml"), model + "mode: softmax\n");
        Path hybrid =
                Files.writeString(tmp.resolve("hybrid.yaml"), model + "mode: hybrid\nbudget: 24\ncalibration: none\n");
        Path window = Files.writeString(
                tmp.resolve("window.yaml"), model + "mode: hybrid\nbudget: 16\nfeature_map: none\ncalibration: none\n");
        Path first = Files.writeString(tmp.resolve("first.txt"), FIRST);
        Path second = Files.writeString(tmp.resolve("second.txt"), SECOND);
        Path out = tmp.resolve("out");

        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = run(err, vanilla, "hybrid=" + hybrid, "stories=" + first, out);
        assertEquals(0, rc, err.toString(StandardCharsets.UTF_8));
        String rows = Files.readString(out.resolve("eval.csv"));
        assertTrue(rows.contains("hybrid,stories,40,"), rows);

        err.reset();
        rc = run(err, vanilla, "window=" + window, "stories=" + second, out);
        String message = err.toString(StandardCharsets.UTF_8);
        assertEquals(2, rc, message);
        assertTrue(
                message.contains("error: corpus 'stories' of ") && message.contains("was measured on another text"),
                message);
        assertFalse(message.contains("\tat "), "no stack trace: " + message);
        assertEquals(rows, Files.readString(out.resolve("eval.csv")), "the first text's rows alone");

        err.reset();
        rc = run(err, vanilla, "window=" + window, "stories=" + first, out);
        assertEquals(0, rc, err.toString(StandardCharsets.UTF_8));
        assertTrue(Files.readString(out.resolve("eval.csv")).contains("window,stories,40,"));
    }
}
