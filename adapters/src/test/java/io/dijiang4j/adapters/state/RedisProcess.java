package io.dijiang4j.adapters.state;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.time.Duration;
import redis.embedded.RedisServer;

/**
 * A real redis-server process for tests: the binary comes from the embedded-redis artifact (Maven Central), started on
 * a free loopback port, without persistence. {@link #stop()} kills it (to test a store that goes down).
 */
public final class RedisProcess implements AutoCloseable {
    private final RedisServer server;
    private final int port;

    private RedisProcess(RedisServer server, int port) {
        this.server = server;
        this.port = port;
    }

    public static RedisProcess start() {
        try {
            int port;
            try (ServerSocket socket = new ServerSocket(0)) {
                port = socket.getLocalPort();
            }
            RedisServer server = RedisServer.newRedisServer()
                    .port(port)
                    .bind("127.0.0.1")
                    .setting("save \"\"")
                    .setting("appendonly no")
                    .build();
            server.start();
            return new RedisProcess(server, port);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start redis-server: " + e.getMessage(), e);
        }
    }

    public String uri() {
        return "redis://127.0.0.1:" + port;
    }

    public RedisPrefixStateStore store(RedisPrefixStateStore.Settings settings) {
        return RedisPrefixStateStore.connect(uri(), Duration.ofMillis(500), settings);
    }

    public void stop() {
        try {
            server.stop();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        if (server.isActive()) stop();
    }
}
