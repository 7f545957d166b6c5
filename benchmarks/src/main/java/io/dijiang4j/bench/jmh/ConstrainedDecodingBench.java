package io.dijiang4j.bench.jmh;

import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.JsonConstraint;
import io.dijiang4j.plugin.generation.JsonShape;
import io.dijiang4j.plugin.generation.Sampler;
import io.dijiang4j.plugin.generation.Vocabulary;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost per generated token of JSON-constrained decoding ({@link JsonConstraint#mask}, the logits mask run before
 * each pick) next to the unconstrained pick itself ({@link Sampler#next}: temperature, top-k 40, top-p 0.95) in the
 * same run. Vocabularies of stories260K's size (512) and SmolLM2's (49152): every printable ASCII character, then
 * random lowercase pieces of 2 to 9 characters, half with a leading space, as BPE vocabularies look. Two output
 * states: inside a string value (nearly every token allowed, each fed through the automaton: the worst case) and
 * after a value (a comma or a brace expected: most tokens rejected by their first character).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ConstrainedDecodingBench {
    @Param({"512", "49152"})
    int vocabulary;

    @Param({"string", "structure"})
    String state;

    private Pieces pieces;
    private JsonConstraint constraint;
    private Sampler sampler;
    private float[] logits;
    private float[] scratch;

    /** Piece texts; end token id 0. */
    record Pieces(List<String> texts) implements Vocabulary {
        @Override
        public String decode(int token) {
            return texts.get(token);
        }

        @Override
        public boolean isEndToken(int token) {
            return token == 0;
        }

        int id(char c) {
            return texts.indexOf(String.valueOf(c));
        }
    }

    @Setup
    public void setUp() {
        SplittableRandom random = new SplittableRandom(42);
        List<String> texts = new ArrayList<>();
        texts.add("");
        for (char c = ' '; c < 127; c++) texts.add(String.valueOf(c));
        while (texts.size() < vocabulary) {
            StringBuilder piece = new StringBuilder(random.nextBoolean() ? " " : "");
            int length = 2 + random.nextInt(8);
            for (int i = 0; i < length; i++) piece.append((char) ('a' + random.nextInt(26)));
            texts.add(piece.toString());
        }
        pieces = new Pieces(texts);
        Map<String, JsonShape> properties = new LinkedHashMap<>();
        properties.put("name", new JsonShape.StringValue());
        properties.put("age", new JsonShape.IntegerValue());
        constraint = new JsonConstraint(pieces, new JsonShape.ObjectOf(properties), 1 << 20);
        String written = state.equals("string") ? "{\"name\":\"Ann" : "{\"name\":\"Ann\",\"age\":7";
        for (char c : written.toCharArray()) constraint.accept(pieces.id(c));
        logits = new float[vocabulary];
        for (int i = 0; i < vocabulary; i++) logits[i] = (float) random.nextGaussian() * 3;
        scratch = new float[vocabulary];
        sampler = new Sampler(new GenerationOptions(1 << 20, 0.8f, 0.95f, 40, 1L, true), 1L);
        constraint.mask(scratch.clone()); // reads the piece texts once, as the first step of a generation does
    }

    /** The constraint's work for one token: mask the logits (accepting the pick is a few automaton steps more). */
    @Benchmark
    public float[] mask() {
        System.arraycopy(logits, 0, scratch, 0, vocabulary);
        constraint.mask(scratch);
        return scratch;
    }

    /** The pick the mask comes before, unconstrained. */
    @Benchmark
    public int pick() {
        return sampler.next(logits);
    }
}
