package io.dijiang4j.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dijiang4j.adapters.ContextLengthExceededException;
import io.dijiang4j.adapters.DiJiangRuntime;
import io.dijiang4j.adapters.NextTurnPrefix;
import io.dijiang4j.adapters.QueueFullException;
import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.helidon.webserver.ServerConnectionException;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An OpenAI-compatible HTTP server on one {@link DiJiangRuntime} (Helidon SE web server: one virtual thread per
 * request, so a request blocked in the runtime holds no platform thread). Routes: POST /v1/chat/completions and
 * /v1/completions (JSON, or server-sent events with {@code stream: true}), GET /v1/models, GET /health.
 *
 * <p>Prompts go through the model's own chat template and tokenizer ({@link InferenceEngine#renderChat}, {@link
 * InferenceEngine#encodePrompt}); generation is the runtime's. The usage of every response says how many prompt
 * tokens were restored from a saved state instead of prefilled ({@code usage.prompt_tokens_details.cached_tokens},
 * and the header {@value #RESTORED_HEADER} on non-streaming answers). Once a chat answer is sent, the state for the
 * conversation with that answer is saved for the next turn, in the background ({@link #saveNextTurnPrefix}).
 *
 * <p>At most {@link ServerSettings#maxInFlight()} requests are admitted (running or waiting in the runtime); the next
 * gets 503 with Retry-After. {@link #stop()} refuses new requests with 503, lets those in flight finish (up to the
 * drain timeout), then closes the listener.
 */
public final class OpenAiServer implements AutoCloseable {
    static final String RESTORED_HEADER = "X-DiJiang-Restored-Tokens";
    private static final System.Logger LOG = System.getLogger(OpenAiServer.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();

    private final DiJiangRuntime runtime;
    private final ServerSettings settings;
    private final GenerationOptions defaults;
    private final Semaphore admission;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger clientsGone = new AtomicInteger();
    private final AtomicInteger nextTurnSaves = new AtomicInteger();
    private final Object tokenizer = new Object();
    private final long created = System.currentTimeMillis() / 1000;
    private volatile boolean draining;
    private WebServer server;

    /** @param defaults the generation settings a request does not set (the profile's) */
    public OpenAiServer(DiJiangRuntime runtime, ServerSettings settings, GenerationOptions defaults) {
        this.runtime = runtime;
        this.settings = settings;
        this.defaults = defaults;
        this.admission = new Semaphore(settings.maxInFlight(), true);
    }

    /** Binds and starts serving; returns once the port is open. */
    public synchronized OpenAiServer start() {
        if (server != null) throw new IllegalStateException("already started");
        server = WebServer.builder()
                .host(settings.host())
                .port(settings.port())
                .shutdownHook(false) // stop() drains first; the CLI's hook calls it
                // a backstop only: the handlers enforce maxBodyBytes themselves, with an OpenAI error object
                .maxPayloadSize(Math.max(settings.maxBodyBytes() + 1, 64L << 20))
                .routing(this::routes)
                .build()
                .start();
        return this;
    }

    /** The bound port (the chosen one when the settings asked for 0). */
    public int port() {
        return server.port();
    }

    public String baseUrl() {
        return "http://" + (settings.host().contains(":") ? "[" + settings.host() + "]" : settings.host()) + ":"
                + port();
    }

    /** Requests admitted and not yet answered. */
    public int inFlight() {
        return inFlight.get();
    }

    /** Chat answers whose state for the next turn is still being saved (after the answer was sent). */
    public int nextTurnSavesInFlight() {
        return nextTurnSaves.get();
    }

    /** Streams whose client went away before the end (their generation was stopped). */
    public int clientsGone() {
        return clientsGone.get();
    }

    private void routes(HttpRouting.Builder routing) {
        routing.post("/v1/chat/completions", (req, res) -> serve(req, res, OpenAiRequest.Endpoint.CHAT))
                .post("/v1/completions", (req, res) -> serve(req, res, OpenAiRequest.Endpoint.COMPLETIONS))
                .get("/v1/models", this::models)
                .get("/health", this::health)
                .any((req, res) -> error(
                        res,
                        new ApiException(
                                404,
                                "Unknown request URL: "
                                        + req.prologue().method().text() + " "
                                        + req.path().path() + ".",
                                "invalid_request_error",
                                null,
                                "unknown_url")));
    }

    private void models(ServerRequest req, ServerResponse res) {
        ObjectNode body = JSON.createObjectNode().put("object", "list");
        body.putArray("data").add(model());
        json(res, 200, body);
    }

    private ObjectNode model() {
        return JSON.createObjectNode()
                .put("id", settings.modelId())
                .put("object", "model")
                .put("created", created)
                .put("owned_by", "dijiang4j");
    }

    private void health(ServerRequest req, ServerResponse res) {
        ObjectNode body = JSON.createObjectNode()
                .put("status", draining ? "draining" : "ok")
                .put("model", settings.modelId())
                .put("in_flight", inFlight.get())
                .put("clients_gone", clientsGone.get())
                .put("max_in_flight", settings.maxInFlight())
                .put("saved_state_bytes", runtime.cachedStateBytes())
                .put("next_turn_saves_in_flight", nextTurnSaves.get())
                .put("tokens_prefilled_after_answers", runtime.savedPrefixTokens());
        json(res, draining ? 503 : 200, body);
    }

    private void serve(ServerRequest req, ServerResponse res, OpenAiRequest.Endpoint endpoint) {
        try {
            if (draining) throw unavailable("The server is shutting down; retry on another replica.");
            OpenAiRequest request = OpenAiRequest.parse(endpoint, readJson(req), defaults, settings);
            if (!request.model().equals(settings.modelId())) {
                throw new ApiException(
                        404,
                        "The model '" + request.model() + "' does not exist (this server serves '" + settings.modelId()
                                + "').",
                        "invalid_request_error",
                        "model",
                        "model_not_found");
            }
            int[] prompt = encode(request);
            if (!admission.tryAcquire()) {
                throw unavailable(
                        "The server has " + settings.maxInFlight() + " requests in flight, its limit; retry later.");
            }
            inFlight.incrementAndGet();
            try {
                if (draining) throw unavailable("The server is shutting down; retry on another replica.");
                boolean chat = request.turns() != null;
                if (chat) nextTurnSaves.incrementAndGet(); // counted before the client can see the answer
                GenerationResult result = null;
                try {
                    result = request.stream()
                            ? stream(res, endpoint, request, prompt)
                            : answer(res, endpoint, request, prompt);
                } finally {
                    if (chat && result != null) saveNextTurnPrefix(request, result);
                    else if (chat) nextTurnSaves.decrementAndGet();
                }
            } finally {
                inFlight.decrementAndGet();
                admission.release();
            }
        } catch (ApiException e) {
            if (!res.isSent()) error(res, e);
        } catch (QueueFullException e) {
            // the runtime's own queue (shared with other callers of the runtime) is full
            if (!res.isSent()) error(res, unavailable(e.getMessage()));
        } catch (ContextLengthExceededException e) {
            if (!res.isSent()) error(res, ApiException.invalid(e.getMessage(), "messages", "context_length_exceeded"));
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "request failed: " + e, e);
            if (!res.isSent()) {
                error(res, new ApiException(500, "The server failed: " + e.getMessage(), "server_error", null, null));
            }
        }
    }

    private static ApiException unavailable(String message) {
        return new ApiException(503, message, "server_error", null, "server_overloaded");
    }

    private JsonNode readJson(ServerRequest req) {
        long declared = req.headers().contentLength().orElse(-1L);
        if (declared > settings.maxBodyBytes()) throw tooLarge(declared);
        byte[] body;
        try (InputStream in = req.content().inputStream()) {
            body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, settings.maxBodyBytes() + 1));
        } catch (IOException | UncheckedIOException e) {
            throw ApiException.invalid("Could not read the request body: " + e.getMessage(), null, null);
        }
        if (body.length > settings.maxBodyBytes()) throw tooLarge(body.length);
        try {
            return JSON.readTree(body);
        } catch (JsonProcessingException e) {
            throw ApiException.invalid(
                    "We could not parse the JSON body of your request. (" + e.getOriginalMessage() + ")",
                    null,
                    "invalid_json");
        } catch (IOException e) {
            throw ApiException.invalid("Could not read the request body: " + e.getMessage(), null, "invalid_json");
        }
    }

    private ApiException tooLarge(long bytes) {
        return new ApiException(
                413,
                "The request body has " + (bytes > settings.maxBodyBytes() ? "more than " : "")
                        + settings.maxBodyBytes() + " bytes, this server's limit (--max-body-bytes).",
                "invalid_request_error",
                null,
                "request_too_large");
    }

    /** The prompt's tokens, refused beyond the prompt limit. One tokenization at a time: the tokenizer is shared. */
    private int[] encode(OpenAiRequest request) {
        InferenceEngine engine = runtime.engine();
        int[] tokens;
        synchronized (tokenizer) {
            String text = request.turns() != null ? engine.renderChat(request.turns()) : request.prompt();
            tokens = engine.encodePrompt(text);
        }
        int limit = Math.min(settings.maxPromptTokens(), engine.positionLimit() - 1);
        if (tokens.length > limit) {
            throw ApiException.invalid(
                    "This model's maximum context length for prompts is " + limit + " tokens. However, your "
                            + (request.turns() != null ? "messages" : "prompt") + " resulted in " + tokens.length
                            + " tokens.",
                    request.turns() != null ? "messages" : "prompt",
                    "context_length_exceeded");
        }
        return tokens;
    }

    /**
     * After a chat answer: saves the state for the tokens the conversation's next prompt will start with (the
     * messages and the answer as the client will send them back, {@link NextTurnPrefix}), on a thread of its own
     * and in the runtime's background (the response is complete, no client waits for it). The next turn then
     * restores all of its prompt but the new message, even when the answer's text encodes to other tokens than
     * those generated (the state saved after generating would not match then).
     */
    private void saveNextTurnPrefix(OpenAiRequest request, GenerationResult result) {
        // the count taken before the answer was sent ends with the save
        Thread.ofVirtual().name("dijiang-next-turn").start(() -> {
            try {
                int[] next;
                synchronized (tokenizer) {
                    next = NextTurnPrefix.tokens(runtime.engine(), request.turns(), result.text());
                }
                runtime.savePrefix(next).join();
            } catch (RuntimeException e) { // a closed model, say: the next turn prefills more, nothing else
                LOG.log(System.Logger.Level.DEBUG, "state for the next turn not saved: " + e);
            } finally {
                nextTurnSaves.decrementAndGet();
            }
        });
    }

    private GenerationResult answer(
            ServerResponse res, OpenAiRequest.Endpoint endpoint, OpenAiRequest request, int[] prompt) {
        GenerationResult result = runtime.generate(prompt, request.options(), null);
        boolean chat = endpoint == OpenAiRequest.Endpoint.CHAT;
        ObjectNode body = envelope(chat ? "chatcmpl-" : "cmpl-", chat ? "chat.completion" : "text_completion");
        ObjectNode choice = body.putArray("choices").addObject().put("index", 0);
        if (chat) {
            choice.putObject("message").put("role", "assistant").put("content", result.text());
        } else {
            choice.put("text", result.text());
        }
        choice.putNull("logprobs");
        choice.put("finish_reason", finishReason(result));
        body.set("usage", usage(result));
        res.header(RESTORED_HEADER, String.valueOf(result.reusedPromptTokens()));
        json(res, 200, body);
        return result;
    }

    /**
     * Server-sent events as OpenAI sends them: the role first (chat), then one chunk per piece of text, a last chunk
     * with the finish reason, the usage chunk when asked for, then {@code [DONE]}. A client that goes away makes the
     * next write fail, which stops the generation and frees its place.
     */
    private GenerationResult stream(
            ServerResponse res, OpenAiRequest.Endpoint endpoint, OpenAiRequest request, int[] prompt) {
        boolean chat = endpoint == OpenAiRequest.Endpoint.CHAT;
        String id = (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID();
        String object = chat ? "chat.completion.chunk" : "text_completion";
        res.status(200);
        res.header("Content-Type", "text/event-stream");
        res.header("Cache-Control", "no-cache");
        try (OutputStream out = res.outputStream()) {
            if (chat) {
                ObjectNode first = chunk(id, object, request.usage());
                first.withArray("choices")
                        .addObject()
                        .put("index", 0)
                        .putNull("finish_reason")
                        .putObject("delta")
                        .put("role", "assistant")
                        .put("content", "");
                event(out, first);
            }
            GenerationResult result;
            try {
                result = runtime.generate(prompt, request.options(), text -> {
                    ObjectNode c = chunk(id, object, request.usage());
                    ObjectNode choice = c.withArray("choices").addObject().put("index", 0);
                    if (chat) choice.putObject("delta").put("content", text);
                    else choice.put("text", text);
                    choice.putNull("finish_reason");
                    event(out, c);
                });
            } catch (ClientGone gone) {
                throw gone;
            } catch (RuntimeException e) {
                // the status line is sent: the failure goes to the client as an error event
                LOG.log(System.Logger.Level.ERROR, "streaming request failed: " + e, e);
                ObjectNode err = JSON.createObjectNode();
                err.putObject("error")
                        .put("message", "The server failed: " + e.getMessage())
                        .put("type", "server_error")
                        .putNull("param")
                        .putNull("code");
                event(out, err);
                return null;
            }
            ObjectNode last = chunk(id, object, request.usage());
            ObjectNode choice = last.withArray("choices").addObject().put("index", 0);
            if (chat) choice.putObject("delta");
            else choice.put("text", "");
            choice.put("finish_reason", finishReason(result));
            event(out, last);
            if (request.usage()) {
                ObjectNode u = chunk(id, object, false);
                u.putArray("choices");
                u.set("usage", usage(result));
                event(out, u);
            }
            write(out, "data: [DONE]\n\n");
            return result;
        } catch (ClientGone | IOException | UncheckedIOException | ServerConnectionException e) {
            clientsGone.incrementAndGet();
            LOG.log(System.Logger.Level.DEBUG, "client went away during a stream; generation stopped");
            return null;
        }
    }

    /** The client of a stream is gone: the write failed (thrown through the runtime's sink, it stops generation). */
    private static final class ClientGone extends RuntimeException {
        ClientGone(Exception cause) {
            super("the client went away", cause);
        }
    }

    private ObjectNode chunk(String id, String object, boolean nullUsage) {
        ObjectNode c = JSON.createObjectNode()
                .put("id", id)
                .put("object", object)
                .put("created", System.currentTimeMillis() / 1000)
                .put("model", settings.modelId());
        c.putArray("choices");
        if (nullUsage) c.putNull("usage");
        return c;
    }

    private static void event(OutputStream out, ObjectNode data) {
        try {
            write(out, "data: " + JSON.writeValueAsString(data) + "\n\n");
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void write(OutputStream out, String text) {
        try {
            out.write(text.getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException | UncheckedIOException | ServerConnectionException e) {
            throw new ClientGone(e);
        }
    }

    private ObjectNode envelope(String idPrefix, String object) {
        return JSON.createObjectNode()
                .put("id", idPrefix + UUID.randomUUID())
                .put("object", object)
                .put("created", System.currentTimeMillis() / 1000)
                .put("model", settings.modelId());
    }

    private static String finishReason(GenerationResult result) {
        return switch (result.stopReason()) {
            case END_TOKEN, STOP_SEQUENCE -> "stop";
            case MAX_TOKENS, CONTEXT_LIMIT -> "length";
        };
    }

    /** OpenAI's usage; {@code cached_tokens}: prompt tokens restored from a saved state instead of prefilled. */
    private static ObjectNode usage(GenerationResult result) {
        ObjectNode usage = JSON.createObjectNode()
                .put("prompt_tokens", result.promptTokens())
                .put("completion_tokens", result.generatedTokens())
                .put("total_tokens", result.promptTokens() + result.generatedTokens());
        usage.putObject("prompt_tokens_details").put("cached_tokens", result.reusedPromptTokens());
        return usage;
    }

    private static void error(ServerResponse res, ApiException e) {
        ObjectNode body = JSON.createObjectNode();
        ObjectNode error =
                body.putObject("error").put("message", e.getMessage()).put("type", e.type);
        if (e.param == null) error.putNull("param");
        else error.put("param", e.param);
        if (e.code == null) error.putNull("code");
        else error.put("code", e.code);
        if (e.status == 503) res.header("Retry-After", "1");
        json(res, e.status, body);
    }

    private static void json(ServerResponse res, int status, JsonNode body) {
        res.status(status);
        res.header("Content-Type", "application/json");
        try {
            res.send(JSON.writeValueAsBytes(body));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Graceful stop: new requests get 503 at once, those in flight finish (up to the drain timeout), then the
     * listener closes. Idempotent.
     */
    public synchronized void stop() {
        if (server == null) return;
        draining = true;
        long deadline = System.nanoTime() + settings.drainTimeout().toNanos();
        while (inFlight.get() > 0 && System.nanoTime() - deadline < 0) {
            try {
                TimeUnit.MILLISECONDS.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (inFlight.get() > 0) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    inFlight.get() + " requests still running after the drain timeout of "
                            + settings.drainTimeout().toSeconds() + " s; closing anyway");
        }
        server.stop();
        server = null;
    }

    @Override
    public void close() {
        stop();
    }
}
