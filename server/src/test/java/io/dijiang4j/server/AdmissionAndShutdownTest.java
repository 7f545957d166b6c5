package io.dijiang4j.server;

import static io.dijiang4j.server.TestServers.post;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.adapters.DiJiangRuntime;
import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.adapters.engine.PluginEngine;
import io.dijiang4j.adapters.state.LocalPrefixStateStore;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.generation.GenerationOptions;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A full server answers 503 with Retry-After; a stopping server refuses new requests with 503 and finishes the one in
 * flight before it closes. The request in flight is held inside its prefill by a gate around the real engine.
 */
class AdmissionAndShutdownTest {
    private final CountDownLatch entered = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);

    /** The engine, with its forward passes (the scheduler's prefill chunks and steps) waiting for {@link #release}. */
    private InferenceEngine gated(InferenceEngine engine) {
        return (InferenceEngine) Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {InferenceEngine.class}, (proxy, method, args) -> {
                    if (method.getName().equals("advance")) {
                        entered.countDown();
                        assertTrue(release.await(60, TimeUnit.SECONDS));
                    }
                    return invoke(method, engine, args);
                });
    }

    private static Object invoke(java.lang.reflect.Method method, Object target, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    @Test
    void aFullServerAnswers503AndAStoppingOneFinishesWhatIsInFlight() throws Exception {
        InferenceEngine engine = gated(new PluginEngine(DiJiang.load(TestServers.profile("hybrid.yaml"))));
        try (DiJiangRuntime runtime = new DiJiangRuntime(engine, new LocalPrefixStateStore(4))) {
            OpenAiServer server = new OpenAiServer(
                            runtime,
                            ServerSettings.defaults("m").withPort(0).withMaxInFlight(1),
                            GenerationOptions.greedy(16))
                    .start();
            String body = "{\"model\":\"m\",\"prompt\":\"Once upon a time\",\"max_tokens\":16}";
            CompletableFuture<HttpResponse<String>> held = TestServers.HTTP.sendAsync(
                    HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/completions"))
                            .POST(HttpRequest.BodyPublishers.ofString(body))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertTrue(entered.await(60, TimeUnit.SECONDS), "the first request reached its prefill");

            var full = post(server, "/v1/completions", body);
            assertEquals(503, full.status());
            assertEquals("1", full.raw().headers().firstValue("Retry-After").orElse(""));
            assertEquals("server_overloaded", full.body().at("/error/code").asText());

            CompletableFuture<Void> stopping = CompletableFuture.runAsync(server::stop);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!TestServers.get(server, "/health")
                    .body()
                    .path("status")
                    .asText()
                    .equals("draining")) {
                assertTrue(System.nanoTime() < deadline, "the server never started draining");
                Thread.sleep(10);
            }
            var refused = post(server, "/v1/completions", body);
            assertEquals(503, refused.status());
            assertTrue(refused.body().at("/error/message").asText().contains("shutting down"));
            assertTrue(!stopping.isDone(), "stop waits for the request in flight");

            release.countDown();
            HttpResponse<String> finished = held.get(60, TimeUnit.SECONDS);
            assertEquals(200, finished.statusCode(), finished.body());
            assertEquals(
                    16,
                    TestServers.JSON
                            .readTree(finished.body())
                            .at("/usage/completion_tokens")
                            .asInt());
            stopping.get(60, TimeUnit.SECONDS);
            assertThrows(
                    Exception.class,
                    () -> TestServers.HTTP.send(
                            HttpRequest.newBuilder(URI.create(server.baseUrl() + "/health"))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString()));
        }
    }
}
