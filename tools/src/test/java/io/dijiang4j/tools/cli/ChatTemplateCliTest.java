package io.dijiang4j.tools.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.gguf.SmolLM2;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dijiang chat} on a real instruct model (SmolLM2, loaded from its GGUF) goes through its chat template. */
class ChatTemplateCliTest {
    @Test
    void twoTurnsThroughTheTemplateInOneSession(@TempDir Path temp) throws Exception {
        Path profile = temp.resolve("smollm2.yaml");
        Files.writeString(
                profile,
                "model: " + SmolLM2.gguf() + "\nmodel_cache: " + temp.resolve("cache") + "\nmode: softmax\n"
                        + "temperature: 0\nmax_tokens: 16\n");
        CliRun r = CliRun.withInput(
                "What is the capital of France?\nAnd of Italy?\n", "chat", "--config", profile.toString());
        assertEquals(0, r.exitCode(), r.err());
        String[] replies = r.out().strip().split("\n");
        assertEquals(2, replies.length, r.out());
        assertTrue(replies[0].contains("Paris"), r.out());
        // the second answer needs the first turn: the session kept it and was fed only the new turn
        assertTrue(replies[1].contains("Rome"), r.out());
        assertFalse(r.err().contains("reading the whole conversation again"), r.err());
        assertFalse(r.out().contains("<|im_start|>") || r.out().contains("<|im_end|>"), r.out());
    }
}
