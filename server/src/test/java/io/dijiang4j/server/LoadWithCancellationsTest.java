package io.dijiang4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.adapters.engine.PluginEngine;
import io.dijiang4j.adapters.state.LocalPrefixStateStore;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * 200 streamed requests from 16 clients, about a quarter of them abandoned after their first chunk: every other
 * request succeeds, no session stays open, nothing stays in flight, and the heap returns to its idle level.
 */
class LoadWithCancellationsTest {
    private static final int CLIENTS = 16;
    private static final int REQUESTS = 200;

    @Test
    void cancelledStreamsLeakNothing() throws Exception {
        try (ServingStack stack =
                TestServers.start(TestServers.profile("hybrid.yaml"), new LocalPrefixStateStore(16))) {
            OpenAiServer server = stack.server();
            PluginEngine engine = (PluginEngine) stack.runtime().engine();
            request(server, new Random(0), false); // warm up
            long idle = heapAfterGc();

            ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
            List<Future<int[]>> futures = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                int client = c;
                futures.add(pool.submit(() -> {
                    Random random = new Random(client);
                    int ok = 0, cancelled = 0, failed = 0;
                    for (int i = client; i < REQUESTS; i += CLIENTS) {
                        boolean cancel = random.nextInt(4) == 0;
                        String outcome = request(server, random, cancel);
                        if (outcome.equals("ok")) ok++;
                        else if (outcome.equals("cancelled")) cancelled++;
                        else failed++;
                    }
                    return new int[] {ok, cancelled, failed};
                }));
            }
            int ok = 0, cancelled = 0, failed = 0;
            for (Future<int[]> f : futures) {
                int[] r = f.get(5, TimeUnit.MINUTES);
                ok += r[0];
                cancelled += r[1];
                failed += r[2];
            }
            pool.shutdown();
            assertEquals(REQUESTS, ok + cancelled + failed);
            assertEquals(0, failed, "failed requests other than the cancelled ones");
            assertTrue(cancelled > 20, "cancelled " + cancelled);

            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while ((server.inFlight() > 0 || engine.model().openSessions() > 0) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(0, server.inFlight(), "requests still in flight");
            assertEquals(0, engine.model().openSessions(), "leaked sessions");
            assertTrue(server.clientsGone() > 0, "the server saw clients go away mid-stream");
            long after = heapAfterGc();
            assertTrue(
                    after < idle + (64L << 20),
                    "heap " + (after >> 20) + " MiB after the load, " + (idle >> 20) + " MiB idle");
        }
    }

    /** One streamed chat request; a cancelled one closes the stream after its first chunk. */
    private static String request(OpenAiServer server, Random random, boolean cancel) throws Exception {
        String body = "{\"model\":\"stories260K-hybrid\",\"stream\":true,\"max_tokens\":" + (cancel ? 400 : 8)
                + ",\"seed\":" + random.nextInt(1000)
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me about the dog number "
                + random.nextInt(100) + ".\"}]}";
        HttpResponse<InputStream> r = TestServers.HTTP.send(
                HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/chat/completions"))
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            if (r.statusCode() != 200) return "failed";
            for (String line; (line = in.readLine()) != null; ) {
                if (cancel && line.startsWith("data: {")) return "cancelled"; // closing the stream drops the connection
                if (line.equals("data: [DONE]")) return "ok";
            }
            return "failed";
        }
    }

    private static long heapAfterGc() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(50);
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
