package io.dijiang4j.plugin.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class JsonConstraintTest {
    static final ObjectMapper JSON = new ObjectMapper();

    /** Single characters, some multi-character pieces (as BPE vocabularies have), an end token (id 0). */
    static final class PieceVocabulary implements Vocabulary {
        final List<String> pieces = new ArrayList<>();

        PieceVocabulary() {
            pieces.add(""); // end token
            for (char c = ' '; c < 127; c++) pieces.add(String.valueOf(c));
            pieces.addAll(List.of(
                    "\n", "{\"", "\":", "\",\"", "\"}", "true", "false", "null", "12", "-0.5e3", " the", "ing", "\\n",
                    "\\u00e9", "é", "name", "age", "ok\"", "[1,", "]}", "}}", "\":\""));
        }

        @Override
        public String decode(int token) {
            return pieces.get(token);
        }

        @Override
        public boolean isEndToken(int token) {
            return token == 0;
        }
    }

    static final JsonShape PERSON = new JsonShape.ObjectOf(ordered(
            "name", new JsonShape.StringValue(),
            "age", new JsonShape.IntegerValue(),
            "tags", new JsonShape.ArrayOf(new JsonShape.OneOf(List.of("a", "bc"))),
            "ok", new JsonShape.BooleanValue(),
            "score", new JsonShape.NumberValue(),
            "extra", new JsonShape.AnyValue()));

    static Map<String, JsonShape> ordered(Object... keysAndShapes) {
        Map<String, JsonShape> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndShapes.length; i += 2)
            map.put((String) keysAndShapes[i], (JsonShape) keysAndShapes[i + 1]);
        return map;
    }

    /** Generates from random logits under the constraint, as the decode loop does; returns the text. */
    static String generate(PieceVocabulary vocabulary, JsonShape shape, int budget, float temperature, long seed) {
        JsonConstraint constraint = new JsonConstraint(vocabulary, shape, budget);
        Sampler sampler = new Sampler(new GenerationOptions(budget, temperature, 1f, 0, seed, true), seed)
                .constrainedBy(constraint);
        SplittableRandom random = new SplittableRandom(seed);
        StringBuilder text = new StringBuilder();
        for (int step = 0; step < budget + 1; step++) {
            float[] logits = new float[vocabulary.pieces.size()];
            for (int i = 0; i < logits.length; i++) logits[i] = (float) (random.nextGaussian() * 3);
            int token = sampler.next(logits);
            if (vocabulary.isEndToken(token)) {
                assertTrue(constraint.complete());
                return text.toString();
            }
            text.append(vocabulary.decode(token));
        }
        throw new AssertionError("no end token within " + budget + " tokens: " + text);
    }

    @Test
    void randomModelsAlwaysWriteValidJsonOfTheShapeWithinTheBudget() throws Exception {
        PieceVocabulary vocabulary = new PieceVocabulary();
        int shortest = JsonShape.shortest(PERSON);
        for (long seed = 1; seed <= 60; seed++) {
            int budget = seed % 3 == 0 ? shortest : shortest + (int) (seed * 7 % 120);
            String text = generate(vocabulary, PERSON, budget, seed % 2 == 0 ? 0f : 1.5f, seed);
            JsonNode node = JSON.readTree(text);
            assertEquals(List.of("name", "age", "tags", "ok", "score", "extra"), fieldNames(node), text);
            assertTrue(node.get("name").isTextual(), text);
            assertTrue(node.get("age").isIntegralNumber(), text);
            assertTrue(node.get("ok").isBoolean(), text);
            assertTrue(node.get("score").isNumber(), text);
            for (JsonNode tag : node.get("tags")) assertTrue(List.of("a", "bc").contains(tag.asText()), text);
        }
    }

    @Test
    void plainJsonModeWritesAnObject() throws Exception {
        PieceVocabulary vocabulary = new PieceVocabulary();
        for (long seed = 1; seed <= 40; seed++) {
            String text = generate(vocabulary, new JsonShape.AnyObject(), 3 + (int) seed * 5, 1.5f, seed);
            assertTrue(JSON.readTree(text).isObject(), text);
        }
    }

    @Test
    void prefixesOfValuesAreAcceptedAndOthersNot() {
        assertTrue(
                JsonConstraint.isPrefix(PERSON, "{\"name\":\"Al\\\"i\\u00e9\",\"age\":-12,\"tags\":[\"bc\", \"a\"]"));
        assertFalse(JsonConstraint.isPrefix(PERSON, "{\"age\""), "properties come in order");
        assertFalse(JsonConstraint.isPrefix(PERSON, "{\"name\":\"x\",\"age\":1.5"), "an integer has no fraction");
        assertFalse(JsonConstraint.isPrefix(PERSON, "{\"name\":\"x\",\"age\":01"), "no leading zeros");
        assertFalse(JsonConstraint.isPrefix(PERSON, "{\"name\":\"x\",\"age\":1,\"tags\":[\"b\"]"), "b is no tag");
        assertFalse(JsonConstraint.isPrefix(new JsonShape.AnyObject(), "{}x"), "nothing after the value");
        assertFalse(JsonConstraint.isPrefix(new JsonShape.AnyValue(), "\"a\nb\""), "control characters are escaped");
        assertTrue(JsonConstraint.isPrefix(new JsonShape.AnyValue(), "[1, {\"a\": [true, null, \"x\"]}, -0.5e+3]"));
    }

    @Test
    void aBudgetBelowTheShortestValueIsAClearError() {
        PieceVocabulary vocabulary = new PieceVocabulary();
        var error = assertThrows(IllegalStateException.class, () -> generate(vocabulary, PERSON, 3, 0f, 1));
        assertTrue(error.getMessage().startsWith("no token continues the JSON output within"), error.getMessage());
    }

    private static List<String> fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
