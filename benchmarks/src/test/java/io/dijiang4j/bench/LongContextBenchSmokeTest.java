package io.dijiang4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dijiang4j.tools.cli.Main;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Smoke run of {@code dijiang bench} on the tiny synthetic shape: the files appear and hold what they should. */
class LongContextBenchSmokeTest {
    @TempDir
    Path tmp;

    @Test
    void tinyBenchWritesJsonCsvAndPng() throws Exception {
        Path json = tmp.resolve("out/bench.json");
        Path csv = tmp.resolve("out/bench.csv");
        Path png = tmp.resolve("out/bench.png");
        int rc = Main.run(
                "bench",
                "--shape",
                "tiny",
                "--dtype",
                "F32",
                "--contexts",
                "24,80",
                "--modes",
                "softmax,hybrid",
                "--tensor-ops",
                "jlama,fast",
                "--decode-tokens",
                "3",
                "--warmup-tokens",
                "1",
                "--prefill-limit",
                "32",
                "--json",
                json.toString(),
                "--csv",
                csv.toString(),
                "--plot",
                png.toString());
        assertEquals(0, rc);

        JsonNode doc = new ObjectMapper().readTree(json.toFile());
        JsonNode results = doc.get("results");
        assertEquals(8, results.size());
        assertTrue(
                doc.get("meta").get("sgemm_gflops").asDouble() > 0,
                doc.get("meta").toString());
        assertTrue(
                doc.get("meta").get("read_gb_per_s").asDouble() > 0,
                doc.get("meta").toString());
        Set<String> seen = new HashSet<>();
        for (JsonNode r : results) {
            for (String key : new String[] {"mode", "context", "decode_tokens_per_s", "prefill_s", "memory_bytes"})
                assertTrue(r.has(key), "missing key " + key + " in " + r);
            seen.add(r.get("mode").asText() + "/" + r.get("tensor_ops").asText() + "@"
                    + r.get("context").asInt());
            assertTrue(r.get("floor_tokens_per_s").asDouble() > 0, r.toString());
            assertTrue(r.get("decode_tokens_per_s").asDouble() > 0, r.toString());
            assertTrue(r.get("memory_bytes").asLong() > 0, r.toString());
            boolean prefilled = r.get("context").asInt() <= 32;
            assertEquals(
                    prefilled ? "prefill" : "synthetic", r.get("depth_fill").asText());
            assertEquals(prefilled, r.get("prefill_s").isNumber(), r.toString());
            assertEquals(prefilled, r.get("ttft_s").isNumber(), r.toString());
            assertEquals(prefilled, r.get("prefill_gflops").isNumber(), r.toString());
        }
        Set<String> want = new HashSet<>();
        for (String mode : new String[] {"softmax", "hybrid"})
            for (String ops : new String[] {"jlama", "fast"})
                for (int c : new int[] {24, 80}) want.add(mode + "/" + ops + "@" + c);
        assertEquals(want, seen);

        assertEquals(9, Files.readAllLines(csv).size());
        BufferedImage image = ImageIO.read(png.toFile());
        assertTrue(image.getWidth() > image.getHeight(), "two panels side by side");
        try (var files = Files.list(tmp.resolve("out"))) {
            assertEquals(3, files.count(), "no temporary files left");
        }
    }
}
