package io.dijiang4j.plugin.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.ModelSupport;
import com.github.tjake.jlama.safetensors.DType;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SmolLM2-135M-Instruct converted from its GGUF (Q4_1, dequantized to F32) against the fixtures that Hugging Face
 * transformers recorded from the same file (plugin/src/test/resources/smollm2/README.md): token ids, and vanilla
 * Jlama's greedy tokens and logits.
 */
class GgufSmolLM2ReferenceTest {
    /**
     * Largest allowed |Jlama - transformers| over the reference's top-5 logits (which lie between about 10 and 25).
     * Both dequantize the same Q4_1 blocks to float32, so what remains is float32 summation order over 30 layers:
     * measured 2.7e-5 at most (4 prompts x 10 steps); the bound leaves about 20x room.
     */
    static final double LOGIT_TOLERANCE = 5e-4;

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path temp;

    static Path modelDir;
    static AbstractModel jlama;

    @BeforeAll
    static void convertAndLoad() throws IOException {
        modelDir = temp.resolve("smollm2");
        GgufConverter.convert(SmolLM2.gguf(), modelDir, GgufConverter.Precision.F32, null);
        jlama = ModelSupport.loadModel(modelDir.toFile(), DType.F32, DType.I8);
    }

    @AfterAll
    static void close() {
        if (jlama != null) jlama.close();
    }

    static JsonNode fixture(String name) throws IOException {
        try (InputStream in = GgufSmolLM2ReferenceTest.class.getResourceAsStream("/smollm2/" + name)) {
            assertTrue(in != null, "fixture /smollm2/" + name + " missing");
            return JSON.readTree(in);
        }
    }

    static long[] longs(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false)
                .mapToLong(JsonNode::asLong)
                .toArray();
    }

    @Test
    void fixturesWereMadeFromTheFetchedFile() throws IOException {
        String recorded =
                fixture("generation.json").path("made_by").path("gguf_sha256").asText();
        assertEquals(GgufModels.sha256(SmolLM2.gguf()), recorded);
        assertEquals(
                recorded,
                fixture("tokenization.json").path("made_by").path("gguf_sha256").asText());
    }

    /**
     * Every converted weight (Q4_1 / Q8_0 dequantized, Q and K un-permuted) is bit-identical to the float32 tensor
     * transformers builds from the same GGUF with its own dequantization.
     */
    @Test
    void weightsAreBitIdenticalToTransformersDequantization() throws Exception {
        JsonNode expected = fixture("weights.json").path("tensors");
        Path file = modelDir.resolve("model.safetensors");
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file)) {
            java.nio.ByteBuffer length = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            ch.read(length, 0);
            long headerLength = length.getLong(0);
            java.nio.ByteBuffer headerBytes = java.nio.ByteBuffer.allocate((int) headerLength);
            ch.read(headerBytes, 8);
            JsonNode header = JSON.readTree(headerBytes.array());
            List<String> names = new ArrayList<>();
            header.fieldNames().forEachRemaining(n -> {
                if (!n.equals("__metadata__")) names.add(n);
            });
            assertEquals(
                    StreamSupport.stream(((Iterable<String>) expected::fieldNames).spliterator(), false)
                            .sorted()
                            .toList(),
                    names.stream().sorted().toList());
            for (String name : names) {
                JsonNode info = header.path(name);
                assertEquals("F32", info.path("dtype").asText());
                assertEquals(expected.path(name).path("shape"), info.path("shape"), name);
                long begin = 8 + headerLength + info.path("data_offsets").get(0).asLong();
                long end = 8 + headerLength + info.path("data_offsets").get(1).asLong();
                java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
                sha.update(ch.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, begin, end - begin));
                assertEquals(
                        expected.path(name).path("sha256").asText(),
                        java.util.HexFormat.of().formatHex(sha.digest()),
                        name);
            }
        }
    }

    @Test
    void byteLevelTokenizerMatchesTransformersOnEveryText() throws IOException {
        ByteLevelBpeTokenizer tokenizer = new ByteLevelBpeTokenizer(modelDir);
        for (JsonNode t : fixture("tokenization.json").path("texts")) {
            String text = t.path("text").asText();
            long[] ids = tokenizer.encode(text);
            assertArrayEquals(longs(t.path("ids")), ids, t.path("name").asText());
            assertEquals(
                    text,
                    tokenizer.decode(ids),
                    "round trip of " + t.path("name").asText());
            StringBuilder oneByOne = new StringBuilder();
            for (long id : ids) oneByOne.append(tokenizer.decode(id));
            assertEquals(
                    text,
                    oneByOne.toString(),
                    "token-by-token decoding of " + t.path("name").asText());
        }
    }

    /**
     * The pre-tokenizer as Hugging Face's own SmolLM2 tokenizer.json writes it (individual Digits, then ByteLevel
     * with its GPT-2 regex; Jlama runs neither) gives the same ids through {@link ByteLevelBpeTokenizer}.
     */
    @Test
    void byteLevelTokenizerReadsHuggingFaceStylePreTokenizers(@TempDir Path hfStyle) throws IOException {
        com.fasterxml.jackson.databind.node.ObjectNode json = (com.fasterxml.jackson.databind.node.ObjectNode)
                JSON.readTree(modelDir.resolve("tokenizer.json").toFile());
        json.set(
                "pre_tokenizer",
                JSON.readTree(
                        "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":true},"
                                + "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true}]}"));
        JSON.writeValue(hfStyle.resolve("tokenizer.json").toFile(), json);
        ByteLevelBpeTokenizer tokenizer = new ByteLevelBpeTokenizer(hfStyle);
        for (JsonNode t : fixture("tokenization.json").path("texts")) {
            assertArrayEquals(
                    longs(t.path("ids")),
                    tokenizer.encode(t.path("text").asText()),
                    t.path("name").asText());
        }
    }

    /**
     * Jlama 0.8.4's own tokenizer on the converted tokenizer.json: right on ASCII text, wrong on non-ASCII (it maps
     * code points, not UTF-8 bytes, to GPT-2's byte symbols). The second half is a canary: if a Jlama upgrade fixes
     * it, this fails and {@link ByteLevelBpeTokenizer} may no longer be needed.
     */
    @Test
    void jlamasOwnTokenizerMatchesOnAsciiOnly() throws IOException {
        var tokenizer = jlama.getTokenizer();
        int asciiTexts = 0, nonAscii = 0;
        for (JsonNode t : fixture("tokenization.json").path("texts")) {
            String text = t.path("text").asText();
            long[] expected = longs(t.path("ids"));
            if (text.chars().allMatch(c -> c < 128)) {
                assertArrayEquals(
                        expected, tokenizer.encode(text), t.path("name").asText());
                asciiTexts++;
            } else {
                assertTrue(
                        !java.util.Arrays.equals(expected, tokenizer.encode(text)),
                        "Jlama's tokenizer now matches on " + t.path("name").asText() + ": the known bug is fixed");
                nonAscii++;
            }
        }
        assertTrue(asciiTexts >= 4 && nonAscii >= 2, asciiTexts + " ASCII and " + nonAscii + " non-ASCII texts");
    }

    @Test
    void chatTemplateRendersAsTransformersDid() throws IOException {
        for (JsonNode p : fixture("generation.json").path("prompts")) {
            if (!p.path("kind").asText().equals("chat")) continue;
            String rendered = jlama.promptSupport()
                    .orElseThrow()
                    .builder()
                    .addUserMessage(p.path("question").asText())
                    .build()
                    .getPrompt();
            assertEquals(p.path("text").asText(), rendered);
            assertArrayEquals(longs(p.path("prompt_ids")), new ByteLevelBpeTokenizer(modelDir).encode(rendered));
        }
    }

    /**
     * Jlama's own greedy generate on a chat prompt answers as transformers did, and stops at {@code <|im_end|>} (the
     * GGUF's eos id, written to config.json). Its BOS is {@code <|im_start|>}, which the ChatML prompt starts with.
     */
    @Test
    void jlamaChatsAndStopsAtImEnd() throws IOException {
        for (JsonNode p : fixture("generation.json").path("prompts")) {
            if (!p.path("name").asText().equals("chat_capital")) continue;
            String expected = p.path("continuation").asText();
            expected = expected.substring(0, expected.indexOf("<|im_end|>"));
            var prompt = jlama.promptSupport()
                    .orElseThrow()
                    .builder()
                    .addUserMessage(p.path("question").asText())
                    .build();
            var response = jlama.generate(java.util.UUID.randomUUID(), prompt, 0f, 64, (token, time) -> {});
            assertEquals(expected, response.responseText);
            assertEquals(
                    com.github.tjake.jlama.model.functions.Generator.FinishReason.STOP_TOKEN, response.finishReason);
            return;
        }
        throw new AssertionError("no chat_capital prompt in generation.json");
    }

    /**
     * Loaded with {@link GgufModels#loadByteLevelLlama}, Jlama's own generate encodes and decodes non-ASCII text
     * right: the prompt's ids are transformers', and the streamed pieces join to the decoded answer, valid UTF-8.
     */
    @Test
    void byteLevelLoaderChatsInUnicode(@TempDir Path work) throws IOException {
        AbstractModel model = GgufModels.loadByteLevelLlama(modelDir, work, DType.F32, DType.I8);
        try {
            String accents = fixture("tokenization.json")
                    .path("texts")
                    .get(1)
                    .path("text")
                    .asText();
            assertArrayEquals(
                    longs(fixture("tokenization.json").path("texts").get(1).path("ids")),
                    model.getTokenizer().encode(accents));
            // a copy task (accents: 2-byte UTF-8) and an emoji (4 bytes, split over several tokens)
            for (String question : List.of(
                    "Repeat exactly: Cr\u00e8me br\u00fbl\u00e9e \u00e0 la fran\u00e7aise.",
                    "Give me a smiley emoji.")) {
                var prompt = model.promptSupport()
                        .orElseThrow()
                        .builder()
                        .addUserMessage(question)
                        .build();
                StringBuilder streamed = new StringBuilder();
                var response = model.generate(
                        java.util.UUID.randomUUID(), prompt, 0f, 52, (piece, time) -> streamed.append(piece));
                String answer = response.responseText;
                System.out.println(question + " -> " + answer);
                assertEquals(answer, streamed.toString(), "streamed pieces join to the answer");
                assertTrue(answer.chars().anyMatch(ch -> ch > 127), "non-ASCII expected in: " + answer);
                assertTrue(
                        !answer.contains("\u00c3") && !answer.contains("\ufffd") && !answer.contains("\u00f0"),
                        "mojibake: " + answer);
            }
        } finally {
            model.close();
        }
    }

    /**
     * Teacher-forced along the reference's greedy path: at every step Jlama's argmax must be the reference's token,
     * its top-5 the same ids, and the logits of those ids within {@link #LOGIT_TOLERANCE}.
     */
    @Test
    void vanillaJlamaMatchesGreedyTokensAndLogits() throws IOException {
        List<TeacherForcing.Step> steps = TeacherForcing.run(jlama, fixture("generation.json"));
        assertEquals(40, steps.size(), "4 prompts x 10 steps");
        double worst = 0;
        for (TeacherForcing.Step s : steps) {
            String where = s.prompt() + " step " + s.step();
            assertEquals(s.expectedToken(), s.token(), where + ": greedy token");
            assertArrayEquals(s.expectedTop(), s.top(), where + ": top-" + s.top().length + " ids");
            assertTrue(
                    s.maxDiff() <= LOGIT_TOLERANCE,
                    String.format(
                            Locale.ROOT,
                            "%s: a top-5 logit differs by %.3g (tolerance %.1g)",
                            where,
                            s.maxDiff(),
                            LOGIT_TOLERANCE));
            worst = Math.max(worst, s.maxDiff());
        }
        System.out.printf(Locale.ROOT, "max |dlogit| over %d steps: %.2e%n", steps.size(), worst);
    }
}
