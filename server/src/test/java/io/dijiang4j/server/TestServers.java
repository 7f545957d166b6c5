package io.dijiang4j.server;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dijiang4j.adapters.state.PrefixStateStore;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.plugin.profile.ProfileLoader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

/** The repository's profiles on the bundled stories260K, servers on free loopback ports, and a small JSON client. */
final class TestServers {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP =
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private TestServers() {}

    static Path root() {
        Path models = Path.of(System.getProperty("stories260k.dir", "../models/stories260K"));
        assertTrue(Files.isRegularFile(models.resolve("model.safetensors")), "stories260K missing at " + models);
        return models.toAbsolutePath().normalize().getParent().getParent();
    }

    static Profile profile(String name) {
        return ProfileLoader.load(root().resolve("configs").resolve(name));
    }

    static ServingStack start(Profile profile, PrefixStateStore states) {
        return ServingStack.start(
                profile, null, id -> ServerSettings.defaults(id).withPort(0), states, line -> {});
    }

    record Reply(int status, JsonNode body, HttpResponse<String> raw) {}

    static Reply post(OpenAiServer server, String path, String body) {
        try {
            HttpResponse<String> r = HTTP.send(
                    HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(body))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            return new Reply(r.statusCode(), r.body().isEmpty() ? null : JSON.readTree(r.body()), r);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static Reply get(OpenAiServer server, String path) {
        try {
            HttpResponse<String> r = HTTP.send(
                    HttpRequest.newBuilder(URI.create(server.baseUrl() + path)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return new Reply(r.statusCode(), JSON.readTree(r.body()), r);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
