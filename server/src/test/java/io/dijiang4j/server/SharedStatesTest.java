package io.dijiang4j.server;

import static io.dijiang4j.server.TestServers.post;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dijiang4j.adapters.state.RedisPrefixStateStore;
import io.dijiang4j.adapters.state.RedisProcess;
import io.dijiang4j.plugin.profile.Profile;
import org.junit.jupiter.api.Test;

/**
 * Two servers with separate engines sharing one real Redis (started from the embedded-redis artifact's binary): a
 * conversation's second turn on the other server restores the first turn's state, and gives the answer a full prefill
 * gives; once Redis is killed, requests still succeed (prefilling everything).
 */
class SharedStatesTest {
    private static String body(String model, String... turns) {
        ObjectNode body = TestServers.JSON
                .createObjectNode()
                .put("model", model)
                .put("temperature", 0)
                .put("max_tokens", 24);
        ArrayNode messages = body.putArray("messages");
        for (int i = 0; i < turns.length; i++) {
            messages.addObject().put("role", i % 2 == 0 ? "user" : "assistant").put("content", turns[i]);
        }
        return body.toString();
    }

    @Test
    void aConversationContinuesOnAnotherServerAndSurvivesRedisGoingDown() {
        Profile hybrid = TestServers.profile("hybrid.yaml");
        try (RedisProcess redis = RedisProcess.start();
                ServingStack a = TestServers.start(hybrid, redis.store(RedisPrefixStateStore.Settings.defaults()));
                ServingStack b = TestServers.start(hybrid, redis.store(RedisPrefixStateStore.Settings.defaults()))) {
            String model = "stories260K-hybrid";
            var first = post(a.server(), "/v1/chat/completions", body(model, "Tell me a story about a cat."));
            assertEquals(200, first.status(), first.raw().body());
            assertEquals(
                    0,
                    first.body()
                            .at("/usage/prompt_tokens_details/cached_tokens")
                            .asInt());
            String answer = first.body().at("/choices/0/message/content").asText();

            String turn2 = body(model, "Tell me a story about a cat.", answer, "What did the cat do next?");
            var second = post(b.server(), "/v1/chat/completions", turn2);
            assertEquals(200, second.status(), second.raw().body());
            int restored = second.body()
                    .at("/usage/prompt_tokens_details/cached_tokens")
                    .asInt();
            int prompt = second.body().at("/usage/prompt_tokens").asInt();
            assertTrue(
                    restored >= first.body().at("/usage/prompt_tokens").asInt() && restored < prompt,
                    "server B restored " + restored + " of " + prompt + " prompt tokens from server A's turn");
            assertEquals(
                    String.valueOf(restored),
                    second.raw()
                            .headers()
                            .firstValue(OpenAiServer.RESTORED_HEADER)
                            .orElse(""));

            redis.stop();
            var again = post(b.server(), "/v1/chat/completions", turn2);
            assertEquals(200, again.status(), again.raw().body());
            assertEquals(
                    0,
                    again.body()
                            .at("/usage/prompt_tokens_details/cached_tokens")
                            .asInt());
            assertEquals(
                    second.body().at("/choices/0/message/content").asText(),
                    again.body().at("/choices/0/message/content").asText(),
                    "the restored state answers as a full prefill does");
            var onA = post(a.server(), "/v1/chat/completions", turn2);
            assertEquals(200, onA.status(), onA.raw().body());
            assertEquals(
                    again.body().at("/choices/0/message/content").asText(),
                    onA.body().at("/choices/0/message/content").asText());
        }
    }
}
