package io.dijiang4j.server;

import static io.dijiang4j.server.TestServers.get;
import static io.dijiang4j.server.TestServers.post;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.memory.chat.MessageWindowChatMemory;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.service.AiServices;
import io.dijiang4j.adapters.state.LocalPrefixStateStore;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The server on stories260K (hybrid profile) through LangChain4j's own OpenAI models, raw HTTP, and the curl script of
 * bad requests.
 */
class OpenAiServerTest {
    private static ServingStack stack;
    private static String model;

    @BeforeAll
    static void start() {
        stack = TestServers.start(TestServers.profile("hybrid.yaml"), new LocalPrefixStateStore(16));
        model = get(stack.server(), "/v1/models").body().at("/data/0/id").asText();
    }

    @AfterAll
    static void stop() {
        stack.close();
    }

    interface Assistant {
        String chat(String message);
    }

    private static OpenAiChatModel.OpenAiChatModelBuilder blocking() {
        return OpenAiChatModel.builder()
                .baseUrl(stack.server().baseUrl() + "/v1")
                .apiKey("unused")
                .modelName(model)
                .timeout(Duration.ofSeconds(60));
    }

    @Test
    void modelsAndHealth() {
        assertEquals("stories260K-hybrid", model);
        var health = get(stack.server(), "/health");
        assertEquals(200, health.status());
        assertEquals("ok", health.body().get("status").asText());
    }

    @Test
    void anAiServicesAppWithChatMemoryAnswersMultiTurnWithPrefixReuse() {
        OpenAiChatModel chat = blocking().temperature(0.0).maxTokens(24).build();
        Assistant assistant = AiServices.builder(Assistant.class)
                .chatModel(chat)
                .chatMemory(MessageWindowChatMemory.withMaxMessages(10))
                .build();
        String first = assistant.chat("Tell me a story about a cat.");
        assertFalse(first.isBlank(), "first answer");
        long cachedBefore = stack.runtime().lastResult().reusedPromptTokens();
        String second = assistant.chat("What did the cat do next?");
        assertFalse(second.isBlank(), "second answer");
        var last = stack.runtime().lastResult();
        assertEquals(0, cachedBefore, "the first turn has nothing to reuse");
        assertTrue(
                last.reusedPromptTokens() > 10 && last.reusedPromptTokens() < last.promptTokens(),
                "second turn restored " + last.reusedPromptTokens() + " of " + last.promptTokens() + " tokens");
    }

    @Test
    void streamingEqualsBlocking() throws Exception {
        String question = "Once upon a time, a little dog";
        String blockingText = blocking().temperature(0.0).maxTokens(40).build().chat(question);
        OpenAiStreamingChatModel streaming = OpenAiStreamingChatModel.builder()
                .baseUrl(stack.server().baseUrl() + "/v1")
                .apiKey("unused")
                .modelName(model)
                .temperature(0.0)
                .maxTokens(40)
                .timeout(Duration.ofSeconds(60))
                .build();
        StringBuilder pieces = new StringBuilder();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat(question, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                pieces.append(partial);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse response = done.get(60, TimeUnit.SECONDS);
        assertFalse(blockingText.isBlank());
        assertEquals(blockingText, pieces.toString());
        assertEquals(blockingText, response.aiMessage().text());
        assertTrue(response.tokenUsage().inputTokenCount() > 0, "usage reached the client (include_usage)");
    }

    @Test
    void stopMaxTokensAndSeedAreHonoured() {
        String body = "{\"model\":\"" + model + "\",\"prompt\":\"Once upon a time\",\"temperature\":0,"
                + "\"max_tokens\":%d%s}";
        var free = post(stack.server(), "/v1/completions", String.format(body, 30, ""));
        assertEquals(200, free.status(), free.raw().body());
        String text = free.body().at("/choices/0/text").asText();
        assertEquals("length", free.body().at("/choices/0/finish_reason").asText());
        assertEquals(30, free.body().at("/usage/completion_tokens").asInt());
        assertTrue(text.length() > 10, text);
        String stop = text.substring(6, 9);
        var stopped = post(stack.server(), "/v1/completions", String.format(body, 30, ",\"stop\":[\"" + stop + "\"]"));
        assertEquals(
                text.substring(0, text.indexOf(stop)),
                stopped.body().at("/choices/0/text").asText());
        assertEquals("stop", stopped.body().at("/choices/0/finish_reason").asText());

        String sampled = "{\"model\":\"" + model + "\",\"prompt\":\"Once upon a time\",\"temperature\":1.0,"
                + "\"top_p\":0.9,\"max_tokens\":40,\"seed\":%d}";
        String a = post(stack.server(), "/v1/completions", String.format(sampled, 7))
                .body()
                .at("/choices/0/text")
                .asText();
        String b = post(stack.server(), "/v1/completions", String.format(sampled, 7))
                .body()
                .at("/choices/0/text")
                .asText();
        String c = post(stack.server(), "/v1/completions", String.format(sampled, 8))
                .body()
                .at("/choices/0/text")
                .asText();
        assertEquals(a, b, "same seed, same text");
        assertNotEquals(a, c, "another seed, another text");
    }

    @Test
    void unsupportedParametersAreRefusedByName() {
        String base = "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],";
        for (String[] c : new String[][] {
            {"\"n\":2", "n", "unsupported_parameter"},
            {"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]", "tools", "unsupported_parameter"},
            {"\"presence_penalty\":0.5", "presence_penalty", "unsupported_parameter"},
            {"\"logit_bias\":{\"5\":1}", "logit_bias", "unsupported_parameter"},
            {"\"temperature\":3", "temperature", "decimal_above_max_value"},
            {"\"max_tokens\":0", "max_tokens", "integer_below_min_value"},
            {"\"stream_options\":{\"include_usage\":true}", "stream_options", null},
        }) {
            var r = post(stack.server(), "/v1/chat/completions", base + c[0] + "}");
            assertEquals(400, r.status(), c[0]);
            assertEquals(c[1], r.body().at("/error/param").asText(), c[0]);
            assertEquals("invalid_request_error", r.body().at("/error/type").asText(), c[0]);
            if (c[2] != null) assertEquals(c[2], r.body().at("/error/code").asText(), c[0]);
        }
        var unknown = post(stack.server(), "/v1/chat/completions", base + "\"frobnicate\":1}");
        assertEquals(400, unknown.status());
        assertEquals(
                "Unrecognized request argument supplied: frobnicate",
                unknown.body().at("/error/message").asText());
        var neutral =
                post(stack.server(), "/v1/chat/completions", base + "\"n\":1,\"presence_penalty\":0,\"max_tokens\":2}");
        assertEquals(200, neutral.status(), neutral.raw().body());
    }

    @Test
    void badRequestsScriptPasses() throws IOException, InterruptedException {
        Process p = new ProcessBuilder(
                        "bash",
                        TestServers.root()
                                .resolve("scripts/openai-bad-requests.sh")
                                .toString(),
                        stack.server().baseUrl(),
                        model)
                .redirectErrorStream(true)
                .start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (InputStream in = p.getInputStream()) {
            in.transferTo(out);
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        String log = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), log);
        assertTrue(log.matches("(?s).*\\n\\d+ passed, 0 failed\\n?$"), log);
    }
}
