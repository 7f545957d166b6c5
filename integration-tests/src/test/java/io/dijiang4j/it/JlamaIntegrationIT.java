package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.ModelSupport;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.safetensors.prompt.PromptContext;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.dijiang4j.plugin.profile.Backend;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The plugin against vanilla Jlama 0.8.4 on the real stories260K weights. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JlamaIntegrationIT {
    static final String GOLDEN = "Once upon a time, there was a little girl named Lily. She loved to play outside in"
            + " the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily";
    static final List<String> PROMPTS =
            List.of("Once upon a time", "", "Tom and his dog", "The little bird was sad because", "One day, Lily");

    Path dir;
    AbstractModel vanilla;
    final List<List<String>> vanillaPieces = new ArrayList<>();

    @BeforeAll
    void loadVanilla() {
        dir = Stories260K.dir();
        vanilla = ModelSupport.loadModel(dir.toFile(), DType.F32, DType.F32);
        for (String prompt : PROMPTS) vanillaPieces.add(vanillaGreedy(prompt, 200));
    }

    @AfterAll
    void close() {
        if (vanilla != null) vanilla.close();
    }

    /** Vanilla Jlama's greedy pieces: generate's ntokens counts positions, the first token comes from the prefill. */
    List<String> vanillaGreedy(String prompt, int tokens) {
        List<String> pieces = new ArrayList<>();
        int promptPositions = vanilla.encodePrompt(PromptContext.of(prompt)).length;
        vanilla.generate(
                UUID.randomUUID(), PromptContext.of(prompt), 0f, promptPositions + tokens - 1, (s, t) -> pieces.add(s));
        return pieces;
    }

    Profile profile(Mode mode) {
        return Profile.defaults(ModelReference.local(dir)).withMode(mode).withBackend(Backend.CPU);
    }

    static List<String> pieces(Session s, String prompt, int tokens) {
        List<String> pieces = new ArrayList<>();
        s.generate(prompt, GenerationOptions.greedy(tokens), pieces::add);
        return pieces;
    }

    @Test
    void softmaxModeReproducesVanillaTokenForTokenAndTheGoldenText() {
        try (DiJiangModel model = DiJiang.load(profile(Mode.SOFTMAX))) {
            for (int i = 0; i < PROMPTS.size(); i++) {
                try (Session s = model.newSession()) {
                    List<String> mine = pieces(s, PROMPTS.get(i), 200);
                    assertTrue(
                            vanillaPieces.get(i).size() >= 20, "vanilla produced too little: " + vanillaPieces.get(i));
                    assertEquals(vanillaPieces.get(i), mine, "prompt '" + PROMPTS.get(i) + "'");
                }
            }
            try (Session s = model.newSession()) {
                int promptPositions = model.encode("Once upon a time", true).length;
                GenerationResult g =
                        s.generate("Once upon a time", GenerationOptions.greedy(64 - promptPositions + 1), t -> {});
                assertEquals(GOLDEN, "Once upon a time" + g.text());
            }
        }
    }

    @Test
    void hybridWithAWindowOfTheWholeContextIsVanilla() {
        Profile hybrid = profile(Mode.HYBRID).withHybrid(4, 512);
        try (DiJiangModel model = DiJiang.load(hybrid);
                DiJiangModel softmax = DiJiang.load(profile(Mode.SOFTMAX))) {
            for (int i = 0; i < PROMPTS.size(); i++) {
                try (Session s = model.newSession()) {
                    assertEquals(
                            vanillaPieces.get(i), pieces(s, PROMPTS.get(i), 200), "prompt '" + PROMPTS.get(i) + "'");
                }
            }
            int[] tokens = model.encode("Once upon a time, there was a little girl named Lily. She loved", true);
            try (Session s = model.newSession();
                    Session reference = softmax.newSession()) {
                // teacher-forced on vanilla's own continuation, 200+ positions
                GenerationResult g =
                        reference.generate(tokens, GenerationOptions.greedy(200).withStopAtEndToken(false), t -> {});
                int[] all = new int[tokens.length + g.tokens().size()];
                System.arraycopy(tokens, 0, all, 0, tokens.length);
                for (int j = 0; j < g.tokens().size(); j++)
                    all[tokens.length + j] = g.tokens().get(j);
                try (Session exact = softmax.newSession()) {
                    float[][] expected = exact.appendAll(all);
                    float[][] actual = s.appendAll(all);
                    double worst = 0;
                    for (int p = 0; p < all.length; p++) {
                        for (int v = 0; v < expected[p].length; v++) {
                            worst = Math.max(worst, Math.abs(expected[p][v] - actual[p][v]));
                        }
                    }
                    System.out.printf(
                            "hybrid(window 512) vs vanilla: %d positions, max |logit difference| %.3g%n",
                            all.length, worst);
                    assertTrue(worst < 1e-3, "max logit difference " + worst);
                }
            }
        }
    }

    @Test
    void kernelizedModesRunToThreeTimesTheContextWithFiniteLogits() {
        for (Profile p : List.of(profile(Mode.DIJIANG), profile(Mode.HYBRID).withHybrid(4, 64))) {
            try (DiJiangModel model = DiJiang.load(p);
                    Session s = model.newSession()) {
                assertEquals(Long.MAX_VALUE, model.maxPositions());
                int[] prompt = model.encode("Once upon a time", true);
                float[][] prefill = s.appendAll(prompt);
                for (float[] row : prefill) assertFinite(row);
                List<Float> maxima = new ArrayList<>();
                GenerationResult g = s.generate(
                        new int[0], new GenerationOptions(1500 - prompt.length, 0.8f, 0.95f, 40, 7L, false), t -> {
                            float[] last = s.lastLogits().orElseThrow();
                            assertFinite(last);
                        });
                assertEquals(1500, g.position());
                assertEquals(1500, s.position());
                float[] last = s.lastLogits().orElseThrow();
                assertFinite(last);
                System.out.printf(
                        "%s: 1500 positions (3x context 512), text: %s%n",
                        p.mode().key(),
                        g.text().substring(0, Math.min(120, g.text().length())).replace('\n', ' '));
            }
        }
    }

    @Test
    void snapshotAndRestoreMidGenerationContinueIdentically(@org.junit.jupiter.api.io.TempDir Path temp) {
        for (Profile p :
                List.of(profile(Mode.HYBRID).withHybrid(2, 16), profile(Mode.SOFTMAX), profile(Mode.DIJIANG))) {
            try (DiJiangModel model = DiJiang.load(p)) {
                GenerationOptions sampled = new GenerationOptions(120, 0.9f, 0.95f, 40, 11L, false);
                List<Integer> uninterrupted;
                try (Session s = model.newSession()) {
                    uninterrupted =
                            s.generate("Once upon a time", sampled, t -> {}).tokens();
                }
                List<Integer> resumed = new ArrayList<>();
                Path file = temp.resolve(p.mode().key() + ".snapshot");
                try (Session s = model.newSession()) {
                    resumed.addAll(s.generate("Once upon a time", sampled.withMaxTokens(50), t -> {})
                            .tokens());
                    s.snapshotTo(file);
                    // the original goes on with something else: the snapshot must not share its state
                    s.generate("The dog", sampled.withMaxTokens(5).withSeed(99L), t -> {});
                }
                try (Session restored = model.restoreSession(file)) {
                    resumed.addAll(restored.generate(
                                    new int[0], sampled.withMaxTokens(70).withSeed(null), t -> {})
                            .tokens());
                }
                assertEquals(uninterrupted, resumed, p.mode().key());
            }
        }
    }

    @Test
    void interleavedSessionsDoNotBleed() {
        try (DiJiangModel model = DiJiang.load(profile(Mode.HYBRID).withHybrid(2, 8))) {
            List<Integer> a;
            List<Integer> b;
            try (Session s = model.newSession()) {
                a = s.generate("Once upon a time", GenerationOptions.greedy(40), t -> {})
                        .tokens();
            }
            try (Session s = model.newSession()) {
                b = s.generate("Tom and his dog", GenerationOptions.greedy(40), t -> {})
                        .tokens();
            }
            try (Session s1 = model.newSession();
                    Session s2 = model.newSession()) {
                List<Integer> ia =
                        new ArrayList<>(s1.generate("Once upon a time", GenerationOptions.greedy(10), t -> {})
                                .tokens());
                List<Integer> ib = new ArrayList<>(s2.generate("Tom and his dog", GenerationOptions.greedy(20), t -> {})
                        .tokens());
                for (int round = 0; round < 3; round++) {
                    ia.addAll(s1.generate(new int[0], GenerationOptions.greedy(10), t -> {})
                            .tokens());
                    if (round < 2)
                        ib.addAll(s2.generate(new int[0], GenerationOptions.greedy(10), t -> {})
                                .tokens());
                }
                assertEquals(a, ia);
                assertEquals(b, ib);
            }
        }
    }

    @Test
    void softmaxModeStopsAtTheContextWithAClearError() {
        try (DiJiangModel model = DiJiang.load(profile(Mode.SOFTMAX));
                Session s = model.newSession()) {
            GenerationResult g =
                    s.generate("Once", GenerationOptions.greedy(600).withStopAtEndToken(false), t -> {});
            // 512 minus Jlama's RoPE-table overrun of 2 positions per KV head after the first (4 KV heads)
            assertEquals(506, model.maxPositions());
            assertEquals(GenerationResult.StopReason.CONTEXT_LIMIT, g.stopReason());
            assertEquals(506, s.position());
            var e = org.junit.jupiter.api.Assertions.assertThrows(
                    IllegalStateException.class, () -> s.generate(new int[] {1}, GenerationOptions.greedy(1), t -> {}));
            assertTrue(e.getMessage().contains("context limit reached"), e.getMessage());
        }
    }

    @Test
    void noKvPageFilesStayOnDisk() throws Exception {
        // this model's own working directory, not a listing of java.io.tmpdir (other processes use it too)
        Path workingDirectory;
        try (DiJiangModel model = DiJiang.load(profile(Mode.SOFTMAX))) {
            workingDirectory =
                    model.jlama().getConfig().workingDirectory().orElseThrow().toPath();
            try (Session s = model.newSession()) {
                s.generate("Once upon a time", GenerationOptions.greedy(50), t -> {});
            }
            // Jlama's own generate on the same model (as LangChain4j calls it) writes pages into our directory
            model.jlama().generate(UUID.randomUUID(), PromptContext.of("Once"), 0f, 20, (x, y) -> {});
            assertTrue(Files.isDirectory(workingDirectory), "the model's working directory exists while it is open");
        }
        assertFalse(Files.exists(workingDirectory), "working directory left behind: " + workingDirectory);
    }

    static void assertFinite(float[] row) {
        for (float v : row) assertTrue(Float.isFinite(v), "non-finite logit " + v);
    }
}
