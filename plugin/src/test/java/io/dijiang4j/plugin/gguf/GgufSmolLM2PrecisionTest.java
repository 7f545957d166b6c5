package io.dijiang4j.plugin.gguf;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.ModelSupport;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.safetensors.SafeTensorSupport;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What storing SmolLM2's weights in less than F32 costs, against the transformers reference (slow: two conversions
 * and a re-quantization; run with {@code -Dsurefire.excludedGroups=gpu -Dtest=GgufSmolLM2PrecisionTest}). Prints the
 * measurements; the assertions are loose bounds around what was measured, to catch a broken path, not to grade it.
 */
@Tag("slow")
class GgufSmolLM2PrecisionTest {
    @TempDir
    Path temp;

    @Test
    void bf16AndJlamaQ4AgainstTheReference() throws IOException {
        Path f32 = temp.resolve("f32"), bf16 = temp.resolve("bf16"), q4 = temp.resolve("q4");
        Path gguf = SmolLM2.gguf();
        GgufConverter.convert(gguf, f32, GgufConverter.Precision.F32, null);
        GgufConverter.convert(gguf, bf16, GgufConverter.Precision.BF16, null);
        // Jlama's own offline Q4 (blocks of 32, one F32 scale each), norms and the embedding (= tied head) kept F32
        SafeTensorSupport.quantizeModel(f32, DType.Q4, new String[] {"norm", "embed_tokens"}, null, Optional.of(q4));

        Summary b = measure("BF16 weights", bf16);
        assertTrue(b.greedy >= 38 && b.maxDiff < 0.5, "BF16 far worse than measured: " + b);
        Summary q = measure("Jlama Q4 re-quantized", q4);
        assertTrue(q.greedy >= 24, "Q4 far worse than measured: " + q);
    }

    record Summary(int steps, int greedy, int top5, double maxDiff) {}

    private static Summary measure(String label, Path dir) throws IOException {
        AbstractModel model = ModelSupport.loadModel(dir.toFile(), DType.F32, DType.I8);
        try {
            List<TeacherForcing.Step> steps =
                    TeacherForcing.run(model, GgufSmolLM2ReferenceTest.fixture("generation.json"));
            Summary s = new Summary(
                    steps.size(),
                    (int) steps.stream()
                            .filter(x -> x.token() == x.expectedToken())
                            .count(),
                    (int) steps.stream().filter(TeacherForcing.Step::sameTop).count(),
                    steps.stream()
                            .mapToDouble(TeacherForcing.Step::maxDiff)
                            .max()
                            .orElseThrow());
            System.out.printf(
                    Locale.ROOT,
                    "%s: greedy token %d/%d, top-5 ids in order %d/%d, max |dlogit| over the top 5 %.3g%n",
                    label,
                    s.greedy,
                    s.steps,
                    s.top5,
                    s.steps,
                    s.maxDiff);
            return s;
        } finally {
            model.close();
        }
    }
}
