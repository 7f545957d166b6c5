package io.dijiang4j.adapters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.generation.GenerationOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The runtime's scheduler on the toy engine: bounds, queue order, cancellation, no leaked sessions. */
class SchedulingTest {
    private static final GenerationOptions GREEDY = GenerationOptions.greedy(40).withStopAtEndToken(false);

    private static String alone(String prompt) {
        try (DiJiangRuntime runtime = new DiJiangRuntime(new FakeEngine(), 0, Scheduling.serial())) {
            return runtime.generate(prompt, GREEDY, TextSink.NONE).text();
        }
    }

    /** Waits (at most 10 s) until no request holds a session or waits for one. */
    private static void awaitIdle(DiJiangRuntime runtime) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((runtime.activeSessions() > 0 || runtime.queuedRequests() > 0) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
    }

    /** A sink that blocks on its first text until released, and says when it got there. */
    private static final class BlockingSink implements TextSink {
        final CountDownLatch reached = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final StringBuilder text = new StringBuilder();

        @Override
        public void accept(String piece) {
            reached.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            text.append(piece);
        }
    }

    @Test
    void theQueueIsBoundedAndServedInArrivalOrder() throws Exception {
        FakeEngine engine = new FakeEngine();
        Scheduling scheduling = Scheduling.DEFAULT.withMaxActive(2).withMaxQueued(1);
        try (DiJiangRuntime runtime = new DiJiangRuntime(engine, 0, scheduling)) {
            BlockingSink first = new BlockingSink();
            BlockingSink second = new BlockingSink();
            Generation a = runtime.submit("first story", GREEDY, first);
            Generation b = runtime.submit("second story", GREEDY, second);
            assertTrue(first.reached.await(10, TimeUnit.SECONDS));
            assertTrue(second.reached.await(10, TimeUnit.SECONDS));
            Generation c = runtime.submit("third story", GREEDY, TextSink.NONE);
            assertEquals(2, runtime.activeSessions());
            assertEquals(1, runtime.queuedRequests());
            assertEquals(2, engine.concurrentSessions.get(), "the queued request opened a session");
            QueueFullException full =
                    assertThrows(QueueFullException.class, () -> runtime.submit("fourth", GREEDY, TextSink.NONE));
            assertTrue(full.getMessage().contains("2 requests are running and 1 waiting"), full.getMessage());
            first.release.countDown();
            second.release.countDown();
            assertEquals(
                    alone("first story"), a.result().get(10, TimeUnit.SECONDS).text());
            assertEquals(
                    alone("second story"), b.result().get(10, TimeUnit.SECONDS).text());
            assertEquals(
                    alone("third story"), c.result().get(10, TimeUnit.SECONDS).text());
            awaitIdle(runtime);
            assertEquals(0, runtime.activeSessions());
            assertEquals(0, engine.concurrentSessions.get());
            assertTrue(
                    engine.maxConcurrentSessions <= 2, "more sessions than the bound: " + engine.maxConcurrentSessions);
        }
    }

    @Test
    void eachPassAdvancesEveryActiveSession() throws Exception {
        // a long linger: a pass waits until every active session has asked, however slowly the threads run; each
        // prompt fits one pass's budget beside decode rows (one row each)
        Scheduling scheduling =
                Scheduling.DEFAULT.withMaxActive(4).withDecodingPrefill(32).withLinger(Duration.ofSeconds(5));
        List<String> prompts = List.of("one", "two stories", "three short stories", "four");
        try (DiJiangRuntime runtime = new DiJiangRuntime(new FakeEngine(), 0, scheduling)) {
            CountDownLatch allAdmitted = new CountDownLatch(1);
            List<Generation> generations = new ArrayList<>();
            for (String prompt : prompts) {
                generations.add(runtime.submit(prompt, GREEDY, text -> {
                    try {
                        allAdmitted.await(); // no request can finish before the last one holds its slot
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }));
            }
            allAdmitted.countDown();
            for (int i = 0; i < prompts.size(); i++) {
                assertEquals(
                        alone(prompts.get(i)),
                        generations.get(i).result().get(30, TimeUnit.SECONDS).text());
            }
            long[] passes = runtime.passCounters();
            // 4 x (1 prompt + 39 steps) rows; a pass that ran before the last request was admitted holds fewer
            assertEquals(160, passes[1]);
            assertTrue(passes[0] <= 46, passes[0] + " passes for 4 sessions of 40 rows");
        }
    }

    @Test
    void cancellingFreesTheSlotForTheNextRequest() throws Exception {
        FakeEngine engine = new FakeEngine();
        try (DiJiangRuntime runtime = new DiJiangRuntime(engine, 0, Scheduling.serial())) {
            BlockingSink sink = new BlockingSink();
            Generation running = runtime.submit("a long story", GREEDY, sink);
            assertTrue(sink.reached.await(10, TimeUnit.SECONDS));
            Generation queued = runtime.submit("the next one", GREEDY, TextSink.NONE);
            Generation cancelledInQueue = runtime.submit("never started", GREEDY, TextSink.NONE);
            assertEquals(2, runtime.queuedRequests());
            cancelledInQueue.cancel();
            running.cancel();
            sink.release.countDown();
            // a future completed with a CancellationException throws it as such
            assertThrows(CancellationException.class, () -> running.result().get(10, TimeUnit.SECONDS));
            assertThrows(
                    CancellationException.class, () -> cancelledInQueue.result().get(10, TimeUnit.SECONDS));
            assertTrue(sink.text.length() <= 1, "text after the cancellation: " + sink.text);
            assertEquals(
                    alone("the next one"),
                    queued.result().get(10, TimeUnit.SECONDS).text());
            awaitIdle(runtime);
            assertEquals(0, engine.concurrentSessions.get());
        }
    }

    @Test
    void aThrowingSinkStopsItsRequestOnlyAndFreesTheSlot() throws Exception {
        FakeEngine engine = new FakeEngine();
        try (DiJiangRuntime runtime = new DiJiangRuntime(engine, 0, Scheduling.DEFAULT.withMaxActive(2))) {
            IllegalStateException boom = new IllegalStateException("client gone");
            AtomicInteger pieces = new AtomicInteger();
            Generation failing = runtime.submit("story one", GREEDY, text -> {
                if (pieces.incrementAndGet() == 3) throw boom;
            });
            Generation fine = runtime.submit("story two", GREEDY, TextSink.NONE);
            ExecutionException e = assertThrows(
                    ExecutionException.class, () -> failing.result().get(10, TimeUnit.SECONDS));
            assertSame(boom, e.getCause());
            assertEquals(
                    alone("story two"), fine.result().get(10, TimeUnit.SECONDS).text());
            // the blocking form throws the sink's exception on the caller's thread
            assertSame(
                    boom,
                    assertThrows(
                            IllegalStateException.class,
                            () -> runtime.generate("story three", GREEDY, t -> {
                                throw boom;
                            })));
            awaitIdle(runtime);
            assertEquals(0, engine.concurrentSessions.get());
        }
    }

    @Test
    void manyRequestsWithRandomCancellationsLeakNoSession() throws Exception {
        FakeEngine engine = new FakeEngine();
        Scheduling scheduling =
                Scheduling.DEFAULT.withMaxActive(8).withPrefillChunk(5).withLinger(Duration.ofMillis(1));
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < 10; i++)
            prompts.add("request " + "abcdefghij".substring(0, i + 1) + " about " + (char) ('z' - i));
        List<String> expected = prompts.stream().map(SchedulingTest::alone).toList();
        try (DiJiangRuntime runtime = new DiJiangRuntime(engine, 4, scheduling)) {
            ExecutorService clients = Executors.newFixedThreadPool(16);
            Random random = new Random(200);
            List<Future<String>> outcomes = new ArrayList<>();
            AtomicInteger cancelled = new AtomicInteger();
            for (int r = 0; r < 200; r++) {
                int prompt = random.nextInt(prompts.size());
                int cancelAfter = random.nextInt(4) == 0 ? 1 + random.nextInt(30) : -1;
                outcomes.add(clients.submit(() -> {
                    AtomicInteger seen = new AtomicInteger();
                    Generation[] self = new Generation[1];
                    CountDownLatch started = new CountDownLatch(1);
                    Generation g = runtime.submit(prompts.get(prompt), GREEDY, text -> {
                        try {
                            started.await();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        if (seen.incrementAndGet() == cancelAfter) self[0].cancel();
                    });
                    self[0] = g;
                    started.countDown();
                    try {
                        String text = g.result().get(30, TimeUnit.SECONDS).text();
                        assertEquals(expected.get(prompt), text, prompts.get(prompt));
                        return "done";
                    } catch (CancellationException e) {
                        assertTrue(cancelAfter > 0, "a request was cancelled that nobody cancelled");
                        cancelled.incrementAndGet();
                        return "cancelled";
                    }
                }));
            }
            for (Future<String> f : outcomes) f.get(60, TimeUnit.SECONDS);
            clients.shutdown();
            awaitIdle(runtime);
            assertEquals(0, runtime.activeSessions());
            assertEquals(0, runtime.queuedRequests());
            assertEquals(0, engine.concurrentSessions.get(), "sessions left open");
            assertTrue(cancelled.get() > 10, "too few cancellations to test anything: " + cancelled.get());
            assertTrue(engine.maxConcurrentSessions <= 8, "more sessions than the bound");
        }
    }

    @Test
    void closingFailsWaitingRequests() throws Exception {
        FakeEngine engine = new FakeEngine();
        DiJiangRuntime runtime = new DiJiangRuntime(engine, 0, Scheduling.serial());
        BlockingSink sink = new BlockingSink();
        Generation running = runtime.submit("story", GREEDY, sink);
        assertTrue(sink.reached.await(10, TimeUnit.SECONDS));
        Generation queued = runtime.submit("waits", GREEDY, TextSink.NONE);
        Thread closer = Thread.ofPlatform().start(runtime::close);
        ExecutionException e =
                assertThrows(ExecutionException.class, () -> queued.result().get(10, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("closed"), e.getCause().getMessage());
        sink.release.countDown();
        closer.join(20_000);
        assertThrows(ExecutionException.class, () -> running.result().get(10, TimeUnit.SECONDS));
        assertThrows(IllegalStateException.class, () -> runtime.generate("after", GREEDY, TextSink.NONE));
        assertEquals(0, engine.concurrentSessions.get());
    }
}
