package io.dijiang4j.plugin.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.dijiang4j.plugin.generation.GenerationResult.StopReason;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The decode loop's stopping rules and what it feeds, on a toy model whose next token is fixed by its position. */
class GeneratorTest {
    /** Token i is the letter 'a' + i (ids 0..25); 26 is the end token. Greedy picks script[position]. */
    private static final class Scripted implements StepModel, Vocabulary {
        final int[] script;
        final long limit;
        final List<Integer> fed = new ArrayList<>();

        Scripted(String text, long limit) {
            script = text.chars().map(c -> c == '$' ? 26 : c - 'a').toArray();
            this.limit = limit;
        }

        private float[] logits() {
            float[] l = new float[27];
            l[script[Math.min(fed.size(), script.length - 1)]] = 1;
            return l;
        }

        @Override
        public long position() {
            return fed.size();
        }

        @Override
        public long positionLimit() {
            return limit;
        }

        @Override
        public float[] prefill(int[] tokens) {
            for (int t : tokens) fed.add(t);
            return logits();
        }

        @Override
        public float[] step(int token) {
            fed.add(token);
            return logits();
        }

        @Override
        public String decode(int token) {
            return token == 26 ? "" : String.valueOf((char) ('a' + token));
        }

        @Override
        public boolean isEndToken(int token) {
            return token == 26;
        }
    }

    private static GenerationResult run(Scripted m, GenerationOptions o, Generator.LastToken last, List<String> out) {
        return Generator.generate(m, m, new int[] {0}, o, new Sampler(o, 1), last, out::add);
    }

    @Test
    void stopsAtTheEndTokenWithoutFeedingIt() {
        Scripted m = new Scripted("xhello$world", Long.MAX_VALUE);
        List<String> pieces = new ArrayList<>();
        GenerationResult r = run(m, GenerationOptions.greedy(50), Generator.LastToken.FED, pieces);
        assertEquals("hello", r.text());
        assertEquals(List.of("h", "e", "l", "l", "o"), pieces);
        assertEquals(StopReason.END_TOKEN, r.stopReason());
        assertEquals(6, r.generatedTokens());
        assertEquals(6, m.position()); // the prompt and hello
    }

    @Test
    void maxTokensFeedsTheLastTokenOnlyWhenAsked() {
        Scripted fed = new Scripted("xhello$", Long.MAX_VALUE);
        assertEquals(
                "hel",
                run(fed, GenerationOptions.greedy(3), Generator.LastToken.FED, new ArrayList<>())
                        .text());
        assertEquals(4, fed.position());
        Scripted notFed = new Scripted("xhello$", Long.MAX_VALUE);
        GenerationResult r = run(notFed, GenerationOptions.greedy(3), Generator.LastToken.NOT_FED, new ArrayList<>());
        assertEquals(StopReason.MAX_TOKENS, r.stopReason());
        assertEquals(3, notFed.position());
        assertEquals(3, r.position());
    }

    @Test
    void stopSequenceCutsTheTextAndHoldsBackItsPossibleStart() {
        Scripted m = new Scripted("xhelloworld$", Long.MAX_VALUE);
        List<String> pieces = new ArrayList<>();
        GenerationResult r = run(
                m,
                GenerationOptions.greedy(50).withStopSequences(List.of("low", "lz")),
                Generator.LastToken.NOT_FED,
                pieces);
        assertEquals("hel", r.text());
        assertEquals(StopReason.STOP_SEQUENCE, r.stopReason());
        assertEquals("hel", String.join("", pieces));
        assertEquals(List.of("h", "e"), pieces.subList(0, 2)); // "l" waited: it could start "low"
    }

    @Test
    void contextLimitStopsWithoutFeedingPastIt() {
        Scripted m = new Scripted("xhelloworld$", 4);
        GenerationResult r = run(m, GenerationOptions.greedy(50), Generator.LastToken.FED, new ArrayList<>());
        assertEquals(StopReason.CONTEXT_LIMIT, r.stopReason());
        assertEquals("hell", r.text()); // h, e, l fed (positions 1..3), the fourth sampled at the limit
        assertEquals(4, m.position());
    }
}
