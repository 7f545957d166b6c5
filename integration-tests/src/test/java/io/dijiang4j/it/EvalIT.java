package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dijiang4j.tools.eval.EvalResult;
import io.dijiang4j.tools.eval.StoryTexts;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dijiang sample} then {@code dijiang eval} on the repository's profiles, in process. */
class EvalIT {
    @TempDir
    Path temp;

    @Test
    void sampledTextsEvaluateUnderTheReadyProfiles() throws Exception {
        String model = CliIT.model();
        Path texts = temp.resolve("stories.txt");
        CliIT.Run sample = CliIT.run(
                "",
                "sample",
                "--config",
                CliIT.CONFIGS.resolve("vanilla.yaml").toString(),
                "--model",
                model,
                "--count",
                "3",
                "--max-tokens",
                "200",
                "--seed",
                "1234",
                "--out",
                texts.toString());
        assertEquals(0, sample.exitCode(), sample.err());
        assertEquals(3, StoryTexts.read(texts).size());

        JsonNode vanilla = eval("vanilla.yaml", model, texts);
        assertEquals("softmax", vanilla.get("mode").asText());
        double ppl = vanilla.get("perplexity_reference").asDouble();
        // the model on its own temperature-1 samples: a low perplexity (about 4 on 8 texts of 500 tokens)
        assertTrue(ppl > 1.5 && ppl < 10, "reference perplexity " + ppl);
        assertEquals(1.0, vanilla.get("perplexity").asDouble() / ppl, 1e-6);
        assertTrue(vanilla.get("kl_mean").asDouble() < 1e-9, vanilla.toString());

        JsonNode hybrid = eval("hybrid.yaml", model, texts);
        assertEquals("hybrid", hybrid.get("mode").asText());
        // the calibrated plan's widest layer (configs/hybrid.calibration.safetensors): 4 sinks + window 64 + cache 4
        assertEquals(72, hybrid.get("beyond_from").asInt());
        assertEquals(vanilla.get("tokens").asLong(), hybrid.get("tokens").asLong());
        assertEquals(ppl, hybrid.get("perplexity_reference").asDouble(), 1e-6 * ppl);
        for (String key : EvalResult.METRIC_KEYS) {
            for (String k : new String[] {key, key + EvalResult.BEYOND_SUFFIX}) {
                assertTrue(hybrid.get(k).isNumber(), k + " in " + hybrid);
            }
        }
        long beyond = hybrid.get("tokens_beyond_window").asLong();
        assertTrue(beyond > 0 && beyond < hybrid.get("tokens").asLong(), hybrid.toString());
    }

    private JsonNode eval(String profile, String model, Path texts) throws Exception {
        Path json = temp.resolve(profile + ".json");
        CliIT.Run r = CliIT.run(
                "",
                "eval",
                "--config",
                CliIT.CONFIGS.resolve(profile).toString(),
                "--model",
                model,
                "--text-file",
                texts.toString(),
                "--json",
                json.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("kl_mean"), r.out());
        return new ObjectMapper().readTree(json.toFile());
    }
}
