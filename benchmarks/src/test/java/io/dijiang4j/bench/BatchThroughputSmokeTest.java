package io.dijiang4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dijiang4j.tools.cli.Main;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Smoke run of {@code dijiang bench-batch} on the tiny synthetic shape: the files appear and hold what they should. */
class BatchThroughputSmokeTest {
    @TempDir
    Path tmp;

    @Test
    void tinyBenchWritesJsonAndPng() throws Exception {
        Path json = tmp.resolve("out/batch.json");
        Path png = tmp.resolve("out/batch.png");
        int rc = Main.run(
                "bench-batch",
                "--shape",
                "tiny",
                "--dtype",
                "F32",
                "--modes",
                "hybrid,softmax",
                "--clients",
                "1,3",
                "--prompt-tokens",
                "4",
                "--new-tokens",
                "3",
                "--repeats",
                "1",
                "--json",
                json.toString(),
                "--plot",
                png.toString());
        assertEquals(0, rc);
        JsonNode results = new ObjectMapper().readTree(json.toFile()).get("results");
        assertEquals(4, results.size());
        for (JsonNode r : results) {
            assertTrue(r.get("serialized_tokens_per_s").asDouble() > 0, r.toString());
            assertTrue(r.get("batched_tokens_per_s").asDouble() > 0, r.toString());
            double rows = r.get("mean_rows_per_pass").asDouble();
            assertTrue(rows >= 1 && rows <= r.get("clients").asInt(), r.toString());
            JsonNode state = r.get("state_bytes");
            boolean softmax = r.get("mode").asText().equals("softmax");
            // a kernelized state is fixed-size; softmax KV grows with the position
            assertEquals(softmax, state.get(1).asLong() > state.get(0).asLong(), r.toString());
        }
        BufferedImage image = ImageIO.read(png.toFile());
        assertTrue(image.getWidth() > image.getHeight(), "two panels side by side");
        assertEquals(2, Main.run("bench-batch"), "no model given: one line, exit 2");
    }
}
