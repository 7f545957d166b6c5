package io.dijiang4j.adapters;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.adapters.engine.InferenceSession;
import io.dijiang4j.plugin.generation.ChatTurn;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The state saved for a conversation's next turn ({@link DiJiangRuntime#savePrefix}, {@link NextTurnPrefix}) and
 * the prompt budget of forward passes beside decode rows ({@link Scheduling#decodingPrefill()}), on the toy engine.
 */
class NextTurnStateTest {
    private static final GenerationOptions GREEDY = GenerationOptions.greedy(12).withStopAtEndToken(false);
    private static final GenerationOptions LONG = GenerationOptions.greedy(40).withStopAtEndToken(false);
    /** Prompts fed 50 tokens per pass, 4 beside decode rows. */
    private static final Scheduling SLICED = Scheduling.DEFAULT
            .withMaxActive(4)
            .withPrefillChunk(50)
            .withDecodingPrefill(4)
            .withLinger(Duration.ofMillis(1));

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void theNextTurnRestoresAStateSavedUnderOtherTokensThanThoseGenerated() throws Exception {
        FakeEngine engine = new FakeEngine();
        try (DiJiangRuntime runtime = new DiJiangRuntime(engine, 8)) {
            int[] prompt = engine.encodePrompt("the cat sat on the mat ");
            GenerationResult first = runtime.generate(prompt, GREEDY, TextSink.NONE);
            // the client sends back an answer that encodes to other tokens than those generated (as a detokenized
            // random answer can): the next prompt shares only the first prompt with what the runtime saw
            int[] answer = Arrays.copyOfRange(engine.encodePrompt("then it slept all day "), 1, 23);
            assertTrue(!Arrays.equals(
                    answer, first.tokens().stream().mapToInt(Integer::intValue).toArray()));
            int[] next = concat(prompt, answer);
            int consumedBefore = engine.consumedTokens.get();
            assertEquals(answer.length, runtime.savePrefix(next).get(10, TimeUnit.SECONDS), "prefilled");
            assertEquals(answer.length, engine.consumedTokens.get() - consumedBefore, "only the answer prefilled");
            assertEquals(answer.length, runtime.savedPrefixTokens());
            // saved already: nothing to do
            assertEquals(0, runtime.savePrefix(next).get(10, TimeUnit.SECONDS));

            int[] question = Arrays.copyOfRange(engine.encodePrompt("and then "), 1, 10);
            int[] turn2 = concat(next, question);
            GenerationResult second = runtime.generate(turn2, GREEDY, TextSink.NONE);
            assertEquals(next.length, second.reusedPromptTokens(), "all but the new message restored");
            try (DiJiangRuntime cold = new DiJiangRuntime(new FakeEngine(), 0)) {
                GenerationResult again = cold.generate(turn2, GREEDY, TextSink.NONE);
                assertEquals(0, again.reusedPromptTokens());
                assertEquals(again.text(), second.text(), "the restored turn answers as a cold prefill does");
            }
        }
    }

    @Test
    void nextTurnPrefixIsTheRenderedConversationUpToTheNextMessage() {
        FakeEngine engine = new FakeEngine(); // renders turns joined by a space, and a space after the last
        List<ChatTurn> turns = List.of(ChatTurn.user("tell a story"));
        int[] prefix = NextTurnPrefix.tokens(engine, turns, "once upon a time");
        assertArrayEquals(engine.encodePrompt("tell a story once upon a time "), prefix);
        int[] nextPrompt = engine.encodePrompt(engine.renderChat(
                List.of(ChatTurn.user("tell a story"), ChatTurn.assistant("once upon a time"), ChatTurn.user("more"))));
        assertArrayEquals(prefix, Arrays.copyOf(nextPrompt, prefix.length), "a prefix of the next prompt");
    }

    @Test
    void savingAfterTheRuntimeClosedIsSkippedNotFailed() throws Exception {
        DiJiangRuntime runtime = new DiJiangRuntime(new FakeEngine(), 4);
        runtime.close();
        assertEquals(0, runtime.savePrefix(new int[] {1, 5, 6}).get(10, TimeUnit.SECONDS));
    }

    /** The toy engine, recording the tokens of each session in each forward pass. */
    private static final class RecordingEngine implements InferenceEngine {
        final FakeEngine fake = new FakeEngine();
        final List<int[][]> passes = new ArrayList<>(); // per pass: the rows' tokens

        @Override
        public synchronized float[][] advance(List<InferenceSession> sessions, List<int[]> tokens) {
            passes.add(tokens.toArray(int[][]::new));
            return InferenceEngine.super.advance(sessions, tokens);
        }

        @Override
        public String modelName() {
            return fake.modelName();
        }

        @Override
        public int positionLimit() {
            return fake.positionLimit();
        }

        @Override
        public int[] encodePrompt(String prompt) {
            return fake.encodePrompt(prompt);
        }

        @Override
        public String renderChat(List<ChatTurn> turns) {
            return fake.renderChat(turns);
        }

        @Override
        public InferenceSession openSession() {
            return fake.openSession();
        }

        @Override
        public InferenceSession restoreSession(byte[] state) {
            return fake.restoreSession(state);
        }

        @Override
        public String decode(int token) {
            return fake.decode(token);
        }

        @Override
        public boolean isEndToken(int token) {
            return fake.isEndToken(token);
        }

        @Override
        public void close() {}
    }

    private static List<int[]> rowLengths(RecordingEngine engine) {
        synchronized (engine) {
            return engine.passes.stream()
                    .map(rows -> Arrays.stream(rows).mapToInt(r -> r.length).toArray())
                    .toList();
        }
    }

    /** A sink that takes a while per piece, so that a stream lasts long enough for other work to arrive beside it. */
    private static TextSink slow(CountDownLatch streaming) {
        return text -> {
            streaming.countDown();
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
    }

    @Test
    void backgroundWorkWaitsForTheStreamsToEnd() throws Exception {
        RecordingEngine engine = new RecordingEngine();
        int[] saved = engine.encodePrompt("z".repeat(199)); // 'z' is token 28
        String expected;
        try (DiJiangRuntime alone = new DiJiangRuntime(new FakeEngine(), 0, Scheduling.serial())) {
            expected = alone.generate("one", LONG, TextSink.NONE).text();
        }
        try (DiJiangRuntime runtime = new DiJiangRuntime(engine, 4, SLICED)) {
            CountDownLatch streaming = new CountDownLatch(1);
            Generation stream = runtime.submit("one", LONG, slow(streaming));
            assertTrue(streaming.await(10, TimeUnit.SECONDS));
            var save = runtime.savePrefix(saved);
            assertEquals(expected, stream.result().get(10, TimeUnit.SECONDS).text());
            assertEquals(saved.length, save.get(10, TimeUnit.SECONDS), "saved once the stream ended");
        }
        synchronized (engine) {
            for (int[][] rows : engine.passes) {
                boolean decodeRow = Arrays.stream(rows).anyMatch(r -> r.length == 1);
                boolean background = Arrays.stream(rows).anyMatch(r -> r.length > 1 && r[r.length - 1] == 28);
                assertTrue(!(decodeRow && background), "background prompt beside a decode row");
            }
        }
    }

    /**
     * Background work holds sessions apart from the requests: a save that waits for the streams to end must not take
     * the slot a new request needs (it did: a busy server's saves held every slot and its requests queued behind
     * them until no stream was left).
     */
    @Test
    void backgroundWorkNeverKeepsARequestFromASlot() throws Exception {
        String expectedA, expectedB;
        try (DiJiangRuntime alone = new DiJiangRuntime(new FakeEngine(), 0, Scheduling.serial())) {
            expectedA = alone.generate("one", LONG, TextSink.NONE).text();
            expectedB = alone.generate("two", LONG, TextSink.NONE).text();
        }
        FakeEngine engine = new FakeEngine();
        try (DiJiangRuntime runtime = new DiJiangRuntime(engine, 4, SLICED.withMaxActive(2))) {
            // A decodes, then holds its stream on its second piece (after its first step: a stream is running)
            CountDownLatch aHeld = new CountDownLatch(1), releaseA = new CountDownLatch(1);
            AtomicInteger piecesA = new AtomicInteger();
            Generation a = runtime.submit("one", LONG, piece -> {
                if (piecesA.incrementAndGet() == 2) {
                    aHeld.countDown();
                    try {
                        releaseA.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            });
            assertTrue(aHeld.await(10, TimeUnit.SECONDS));
            // a save now waits for the stream to end, holding a session of its own
            int[] saved = engine.encodePrompt("z".repeat(99));
            var save = runtime.savePrefix(saved);
            CountDownLatch bStreams = new CountDownLatch(1);
            Generation b = runtime.submit("two", LONG, piece -> bStreams.countDown());
            assertTrue(bStreams.await(10, TimeUnit.SECONDS), "the request waited behind the background save");
            releaseA.countDown();
            assertEquals(expectedA, a.result().get(10, TimeUnit.SECONDS).text());
            assertEquals(expectedB, b.result().get(10, TimeUnit.SECONDS).text());
            assertEquals(saved.length, save.get(10, TimeUnit.SECONDS), "saved once the streams ended");
        }
        assertEquals(0, engine.concurrentSessions.get(), "a session left open");
    }

    @Test
    void aPromptBesideDecodeRowsIsFedAtMostDecodingPrefillTokensPerPass() throws Exception {
        RecordingEngine engine = new RecordingEngine();
        String longPrompt = "a long prompt about many things ".repeat(7); // 225 tokens with BOS
        String expected;
        try (DiJiangRuntime alone = new DiJiangRuntime(new FakeEngine(), 0, Scheduling.serial())) {
            expected = alone.generate(longPrompt, GREEDY, TextSink.NONE).text();
        }
        try (DiJiangRuntime runtime = new DiJiangRuntime(engine, 0, SLICED)) {
            CountDownLatch streaming = new CountDownLatch(2);
            Generation a = runtime.submit("one", LONG, slow(streaming));
            Generation b = runtime.submit("two", LONG, slow(streaming));
            assertTrue(streaming.await(10, TimeUnit.SECONDS));
            GenerationResult prompted = runtime.generate(longPrompt, GREEDY, TextSink.NONE);
            a.result().get(10, TimeUnit.SECONDS);
            b.result().get(10, TimeUnit.SECONDS);
            assertEquals(expected, prompted.text(), "sliced prefill answers as alone");
        }
        int interleaved = 0;
        for (int[] rows : rowLengths(engine)) {
            int decodeRows = (int) Arrays.stream(rows).filter(n -> n == 1).count();
            int promptTokens = Arrays.stream(rows).filter(n -> n > 1).sum();
            if (decodeRows > 0 && promptTokens > 0) interleaved++;
            int budget = decodeRows > 0 ? 4 : 50;
            assertTrue(
                    promptTokens <= budget,
                    "a pass with " + decodeRows + " decode rows fed " + promptTokens + " prompt tokens: "
                            + Arrays.toString(rows));
        }
        assertTrue(interleaved > 0, "no pass had the prompt beside decode rows: nothing was tested");
    }
}
