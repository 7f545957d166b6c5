package io.dijiang4j.server;

import io.dijiang4j.adapters.Scheduling;
import io.dijiang4j.adapters.state.LocalPrefixStateStore;
import io.dijiang4j.adapters.state.PrefixStateStore;
import io.dijiang4j.adapters.state.RedisPrefixStateStore;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.tools.cli.ProfileOptions;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code dijiang serve}: the OpenAI-compatible server ({@link OpenAiServer}) on a profile's model. */
@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        description = "OpenAI-compatible HTTP server: POST /v1/chat/completions, /v1/completions (stream: true as"
                + " server-sent events), GET /v1/models, /health. Binds to loopback unless --host says otherwise.")
public final class ServeCommand implements Callable<Integer> {
    @Mixin
    ProfileOptions options;

    @Option(names = "--host", paramLabel = "ADDR", description = "Address to bind (default ${DEFAULT-VALUE}).")
    String host = ServerSettings.DEFAULT_HOST;

    @Option(names = "--port", paramLabel = "N", description = "Port (default ${DEFAULT-VALUE}; 0 = any free port).")
    int port = ServerSettings.DEFAULT_PORT;

    @Option(
            names = "--model-id",
            paramLabel = "ID",
            description = "The model id clients name (default: model and mode, e.g. stories260K-hybrid).")
    String modelId;

    @Option(
            names = "--max-body-bytes",
            paramLabel = "N",
            description = "Larger request bodies get 413 (default ${DEFAULT-VALUE}).")
    long maxBodyBytes = ServerSettings.DEFAULT_MAX_BODY_BYTES;

    @Option(
            names = "--max-prompt-tokens",
            paramLabel = "N",
            description = "Longer prompts get 400 (default ${DEFAULT-VALUE}).")
    int maxPromptTokens = ServerSettings.DEFAULT_MAX_PROMPT_TOKENS;

    @Option(
            names = "--max-output-tokens",
            paramLabel = "N",
            description = "The largest max_tokens a request may ask (default ${DEFAULT-VALUE}).")
    int maxOutputTokens = ServerSettings.DEFAULT_MAX_OUTPUT_TOKENS;

    @Option(
            names = "--max-in-flight",
            paramLabel = "N",
            description =
                    "Requests running or queued at once; beyond: 503 with Retry-After (default ${DEFAULT-VALUE}).")
    int maxInFlight = ServerSettings.DEFAULT_MAX_IN_FLIGHT;

    @Option(
            names = "--prefill-chunk",
            paramLabel = "N",
            description = "Prompt tokens per forward pass while no session is decoding (default ${DEFAULT-VALUE}).")
    int prefillChunk = Scheduling.DEFAULT.prefillChunk();

    @Option(
            names = "--decoding-prefill",
            paramLabel = "N",
            description = "Prompt tokens per forward pass beside the decode rows of running streams: more shortens"
                    + " newcomers' time to first token and lengthens the others' time per token"
                    + " (default ${DEFAULT-VALUE}).")
    int decodingPrefill = Scheduling.DEFAULT.decodingPrefill();

    @Option(
            names = "--drain-seconds",
            paramLabel = "S",
            description = "On shutdown, how long requests in flight may finish (default ${DEFAULT-VALUE}).")
    long drainSeconds = ServerSettings.DEFAULT_DRAIN_TIMEOUT.toSeconds();

    @Option(
            names = "--redis",
            paramLabel = "URI",
            description = "Share conversation states with other replicas through Redis (redis://host:port);"
                    + " default: kept in this process.")
    String redis;

    @Option(
            names = "--state-ttl",
            paramLabel = "S",
            description = "Seconds a saved conversation state lives (default ${DEFAULT-VALUE}).")
    long stateTtlSeconds = 3600;

    @Option(
            names = "--state-entries",
            paramLabel = "N",
            description = "Saved states kept in this process without --redis (default ${DEFAULT-VALUE}).")
    int stateEntries = 64;

    @Option(
            names = "--state-bytes",
            paramLabel = "N",
            description =
                    "Bytes of saved states: in this process without --redis, per state with it (default ${DEFAULT-VALUE}).")
    long stateBytes = 256L << 20;

    @Option(
            names = "--redis-timeout-ms",
            paramLabel = "MS",
            description =
                    "Connect/read timeout of each Redis call: what a Redis that is down costs a request (default ${DEFAULT-VALUE}).")
    int redisTimeoutMillis = 250;

    @Override
    public Integer call() throws InterruptedException {
        Profile profile = options.profile();
        Duration ttl = Duration.ofSeconds(stateTtlSeconds);
        PrefixStateStore states = redis != null
                ? RedisPrefixStateStore.connect(
                        redis,
                        Duration.ofMillis(redisTimeoutMillis),
                        RedisPrefixStateStore.Settings.defaults().withTtl(ttl).withMaxStateBytes(stateBytes))
                : new LocalPrefixStateStore(stateEntries, stateBytes, ttl);
        ServingStack stack = ServingStack.start(
                profile,
                modelId,
                id -> new ServerSettings(
                        host,
                        port,
                        id,
                        maxBodyBytes,
                        maxPromptTokens,
                        maxOutputTokens,
                        maxInFlight,
                        Duration.ofSeconds(drainSeconds)),
                states,
                Scheduling.DEFAULT.withPrefillChunk(prefillChunk).withDecodingPrefill(decodingPrefill),
                line -> System.err.println("dijiang: " + line));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("dijiang: stopping: finishing " + stack.server().inFlight() + " requests in flight");
            stack.close();
            stopped.countDown();
        }));
        System.err.println("dijiang: serving " + stack.server().baseUrl() + "/v1 (states: "
                + (redis != null ? "Redis " + redis : "this process") + "); Ctrl-C stops");
        stopped.await();
        return 0;
    }
}
