package io.dijiang4j.server;

import static io.dijiang4j.server.TestServers.post;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dijiang4j.adapters.DiJiangRuntime;
import io.dijiang4j.adapters.NextTurnPrefix;
import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.adapters.state.LocalPrefixStateStore;
import io.dijiang4j.plugin.generation.ChatTurn;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A conversation's second turn over HTTP (stories260K, hybrid) restores everything but the new message, even when the
 * first answer's text encodes to other tokens than those generated: the server saves the state for the conversation
 * as the client sends it back, after the answer.
 */
class NextTurnReuseTest {
    private static final String USER1 = "Tell me a story about a dog and a red ball.";
    private static final String USER2 = "What did the dog do next?";

    private static String body(String model, List<String[]> messages, double temperature, long seed, int maxTokens) {
        ObjectNode body = TestServers.JSON
                .createObjectNode()
                .put("model", model)
                .put("temperature", temperature)
                .put("seed", seed)
                .put("max_tokens", maxTokens);
        ArrayNode array = body.putArray("messages");
        for (String[] m : messages) array.addObject().put("role", m[0]).put("content", m[1]);
        return body.toString();
    }

    /** Waits until the background save after the last answer is done (at most 30 s). */
    private static void awaitIdle(DiJiangRuntime runtime) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while ((runtime.activeSessions() > 0 || runtime.queuedRequests() > 0) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(0, runtime.activeSessions(), "the background save did not finish");
    }

    @Test
    void theSecondTurnRestoresAllButTheNewMessageAndAnswersAsAColdPrefill() throws Exception {
        try (ServingStack stack =
                TestServers.start(TestServers.profile("hybrid.yaml"), new LocalPrefixStateStore(32))) {
            DiJiangRuntime runtime = stack.runtime();
            InferenceEngine engine = runtime.engine();
            String model = TestServers.get(stack.server(), "/v1/models")
                    .body()
                    .at("/data/0/id")
                    .asText();
            // a sampled first answer whose text does not encode back to the tokens generated (found by seed)
            String answer = null;
            int[] nextPrefix = null;
            for (long seed = 1; seed <= 12 && answer == null; seed++) {
                var r = post(
                        stack.server(),
                        "/v1/chat/completions",
                        body(model, List.<String[]>of(new String[] {"user", USER1}), 1.0, seed, 24));
                assertEquals(200, r.status(), r.raw().body());
                awaitIdle(runtime);
                String text = r.body().at("/choices/0/message/content").asText();
                int[] generated = runtime.lastResult().tokens().stream()
                        .mapToInt(Integer::intValue)
                        .toArray();
                int[] prompt = engine.encodePrompt(engine.renderChat(List.of(ChatTurn.user(USER1))));
                int[] withAnswer = Arrays.copyOf(prompt, prompt.length + generated.length);
                System.arraycopy(generated, 0, withAnswer, prompt.length, generated.length);
                int[] next = NextTurnPrefix.tokens(engine, List.of(ChatTurn.user(USER1)), text);
                if (next.length < withAnswer.length
                        || !Arrays.equals(withAnswer, Arrays.copyOf(next, withAnswer.length))) {
                    answer = text;
                    nextPrefix = next;
                }
            }
            assertTrue(answer != null, "no seed gave an answer that re-encodes differently: nothing tested");
            assertTrue(runtime.savedPrefixTokens() > 0, "nothing was prefilled after the answers");

            String turn2 = body(
                    model,
                    List.of(new String[] {"user", USER1}, new String[] {"assistant", answer}, new String[] {
                        "user", USER2
                    }),
                    0.0,
                    5,
                    16);
            JsonNode warm = post(stack.server(), "/v1/chat/completions", turn2).body();
            int prompt = warm.at("/usage/prompt_tokens").asInt();
            int restored = warm.at("/usage/prompt_tokens_details/cached_tokens").asInt();
            assertEquals(nextPrefix.length, restored, "the state saved for the next turn was restored");
            int newMessage = engine.encodePrompt(USER2).length; // its tokens, BOS counted for a separator
            assertTrue(
                    prompt - restored <= newMessage,
                    "prefilled " + (prompt - restored) + " tokens of " + prompt + "; the new message has "
                            + newMessage);

            awaitIdle(runtime);
            runtime.clearConversationCache();
            JsonNode cold = post(stack.server(), "/v1/chat/completions", turn2).body();
            assertEquals(
                    0, cold.at("/usage/prompt_tokens_details/cached_tokens").asInt(), "a cold prefill");
            assertEquals(
                    cold.at("/choices/0/message/content").asText(),
                    warm.at("/choices/0/message/content").asText(),
                    "the restored turn answers as a cold prefill does (temperature 0)");
        }
    }
}
