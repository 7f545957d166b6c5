package io.dijiang4j.server;

import java.time.Duration;

/**
 * What {@code dijiang serve} binds to and the limits it enforces.
 *
 * @param host the address to bind (loopback by default: exposing the server is a deliberate choice)
 * @param port 0 picks a free port
 * @param modelId the id clients name in {@code model} (GET /v1/models lists it)
 * @param maxBodyBytes larger request bodies are refused with 413
 * @param maxPromptTokens longer prompts are refused with 400 {@code context_length_exceeded}
 * @param maxOutputTokens the largest {@code max_tokens} a request may ask for
 * @param maxInFlight requests running or waiting at once; beyond it 503 with Retry-After
 * @param drainTimeout how long a shutdown waits for the requests in flight to finish
 */
public record ServerSettings(
        String host,
        int port,
        String modelId,
        long maxBodyBytes,
        int maxPromptTokens,
        int maxOutputTokens,
        int maxInFlight,
        Duration drainTimeout) {
    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 8080;
    public static final long DEFAULT_MAX_BODY_BYTES = 1 << 20;
    public static final int DEFAULT_MAX_PROMPT_TOKENS = 32_768;
    public static final int DEFAULT_MAX_OUTPUT_TOKENS = 4096;
    public static final int DEFAULT_MAX_IN_FLIGHT = 64;
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(60);

    public ServerSettings {
        if (host == null || host.isBlank()) throw new IllegalArgumentException("--host must not be empty");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("--port must be in 0..65535, got " + port);
        if (modelId == null || modelId.isBlank()) throw new IllegalArgumentException("the model id must not be empty");
        if (maxBodyBytes < 1) throw new IllegalArgumentException("--max-body-bytes must be >= 1");
        if (maxPromptTokens < 1) throw new IllegalArgumentException("--max-prompt-tokens must be >= 1");
        if (maxOutputTokens < 1) throw new IllegalArgumentException("--max-output-tokens must be >= 1");
        if (maxInFlight < 1) throw new IllegalArgumentException("--max-in-flight must be >= 1");
        if (drainTimeout == null || drainTimeout.isNegative()) {
            throw new IllegalArgumentException("the drain timeout must be >= 0");
        }
    }

    /** Loopback, port 8080, the default limits. */
    public static ServerSettings defaults(String modelId) {
        return new ServerSettings(
                DEFAULT_HOST,
                DEFAULT_PORT,
                modelId,
                DEFAULT_MAX_BODY_BYTES,
                DEFAULT_MAX_PROMPT_TOKENS,
                DEFAULT_MAX_OUTPUT_TOKENS,
                DEFAULT_MAX_IN_FLIGHT,
                DEFAULT_DRAIN_TIMEOUT);
    }

    public ServerSettings withPort(int p) {
        return new ServerSettings(
                host, p, modelId, maxBodyBytes, maxPromptTokens, maxOutputTokens, maxInFlight, drainTimeout);
    }

    public ServerSettings withHost(String h) {
        return new ServerSettings(
                h, port, modelId, maxBodyBytes, maxPromptTokens, maxOutputTokens, maxInFlight, drainTimeout);
    }

    public ServerSettings withMaxInFlight(int n) {
        return new ServerSettings(host, port, modelId, maxBodyBytes, maxPromptTokens, maxOutputTokens, n, drainTimeout);
    }

    public ServerSettings withLimits(long bodyBytes, int promptTokens, int outputTokens) {
        return new ServerSettings(
                host, port, modelId, bodyBytes, promptTokens, outputTokens, maxInFlight, drainTimeout);
    }
}
