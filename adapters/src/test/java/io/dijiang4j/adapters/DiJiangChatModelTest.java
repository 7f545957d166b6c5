package io.dijiang4j.adapters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.ChatRequestOptions;
import dev.langchain4j.model.chat.listener.ChatModelErrorContext;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelRequestContext;
import dev.langchain4j.model.chat.listener.ChatModelResponseContext;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import io.dijiang4j.plugin.generation.GenerationResult;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class DiJiangChatModelTest {

    private static DiJiangChatModel greedy(FakeEngine engine) {
        return DiJiangChatModel.builder().engine(engine).temperature(0.0).build();
    }

    private static ChatRequest request(List<ChatMessage> messages, ChatRequestParameters parameters) {
        return ChatRequest.builder().messages(messages).parameters(parameters).build();
    }

    @Test
    void answerCarriesTokenUsageAndFinishReason() {
        FakeEngine engine = new FakeEngine();
        ChatResponse response = greedy(engine).chat(UserMessage.from("hello there"));
        int promptTokens = engine.encodePrompt("hello there ").length;
        assertEquals(promptTokens, response.tokenUsage().inputTokenCount());
        assertTrue(response.tokenUsage().outputTokenCount() > 0);
        assertEquals(FinishReason.STOP, response.finishReason());
        assertEquals("fake", response.modelName());
        assertTrue(!response.aiMessage().text().isEmpty());
    }

    @Test
    void maxOutputTokensEndsWithLength() {
        ChatResponse response = greedy(new FakeEngine())
                .chat(request(
                        List.of(UserMessage.from("once upon")),
                        ChatRequestParameters.builder().maxOutputTokens(3).build()));
        assertEquals(FinishReason.LENGTH, response.finishReason());
        assertEquals(3, response.tokenUsage().outputTokenCount());
        assertEquals(3, response.aiMessage().text().length());
    }

    @Test
    void stopSequenceCutsTheAnswerBeforeIt() {
        DiJiangChatModel model = greedy(new FakeEngine());
        String full = model.chat(UserMessage.from("once upon")).aiMessage().text();
        assertTrue(full.length() > 4, full);
        String stop = full.substring(2, 4);
        ChatResponse cut = model.chat(request(
                List.of(UserMessage.from("once upon")),
                ChatRequestParameters.builder().stopSequences(List.of(stop)).build()));
        assertEquals(full.substring(0, full.indexOf(stop)), cut.aiMessage().text());
        assertEquals(FinishReason.STOP, cut.finishReason());
    }

    @Test
    void samplingFollowsTheSeedAndTopKOneIsGreedy() {
        FakeEngine engine = new FakeEngine();
        DiJiangChatModel seeded = DiJiangChatModel.builder()
                .engine(engine)
                .temperature(1.0)
                .seed(42L)
                .build();
        String a = seeded.chat("the cat");
        String b = seeded.chat("the cat");
        assertEquals(a, b);
        String greedy = greedy(new FakeEngine()).chat("the cat");
        assertNotEquals(greedy, a);
        String topKOne = seeded.chat(request(
                        List.of(UserMessage.from("the cat")),
                        ChatRequestParameters.builder().topK(1).build()))
                .aiMessage()
                .text();
        assertEquals(greedy, topKOne);
    }

    @Test
    void unsupportedParametersAreRejectedByName() {
        DiJiangChatModel model = greedy(new FakeEngine());
        List<ChatMessage> messages = List.of(UserMessage.from("hi"));
        var tools = assertThrows(
                UnsupportedFeatureException.class,
                () -> model.chat(request(
                        messages,
                        ChatRequestParameters.builder()
                                .toolSpecifications(ToolSpecification.builder()
                                        .name("weather")
                                        .build())
                                .build())));
        assertTrue(tools.getMessage().contains("tools"), tools.getMessage());
        var frequency = assertThrows(
                UnsupportedFeatureException.class,
                () -> model.chat(request(
                        messages,
                        ChatRequestParameters.builder().frequencyPenalty(0.5).build())));
        assertTrue(frequency.getMessage().contains("frequencyPenalty"), frequency.getMessage());
        var presence = assertThrows(
                UnsupportedFeatureException.class,
                () -> model.chat(request(
                        messages,
                        ChatRequestParameters.builder().presencePenalty(0.5).build())));
        assertTrue(presence.getMessage().contains("presencePenalty"), presence.getMessage());
    }

    @Test
    void secondTurnPrefillsOnlyTheNewTokensAndAnswersAsAFreshModel() {
        FakeEngine engine = new FakeEngine();
        DiJiangChatModel model = greedy(engine);
        List<ChatMessage> conversation = new ArrayList<>();
        conversation.add(UserMessage.from("tell me a story"));
        conversation.add(model.chat(conversation).aiMessage());
        conversation.add(UserMessage.from("and then"));
        int before = engine.consumedTokens.get();
        ChatResponse second = model.chat(conversation);
        GenerationResult stats = model.runtime().lastResult();
        int consumed = engine.consumedTokens.get() - before;

        int fullPrompt = engine.encodePrompt(engine.renderChat(ChatRequests.turns(conversation))).length;
        assertEquals(fullPrompt, stats.promptTokens());
        // the fake tokenizer is per character: the whole first turn, prompt and answer, is a prefix
        assertTrue(stats.reusedPromptTokens() > 0, "nothing reused");
        assertEquals(fullPrompt - stats.reusedPromptTokens(), stats.prefilledTokens());
        assertEquals(stats.prefilledTokens() + stats.generatedTokens() - 1, consumed);

        ChatResponse fresh = greedy(new FakeEngine()).chat(conversation);
        assertEquals(fresh.aiMessage().text(), second.aiMessage().text());
        assertEquals(fresh.tokenUsage(), second.tokenUsage());
    }

    @Test
    void unrelatedRequestStartsFresh() {
        FakeEngine engine = new FakeEngine();
        DiJiangChatModel model = greedy(engine);
        model.chat("tell me a story");
        model.chat("something else entirely");
        assertEquals(0, model.runtime().lastResult().reusedPromptTokens());
    }

    @Test
    void sameRequestTwiceGivesTheSameNonEmptyAnswer() {
        // langchain4j issue 6025: a reused session made the second call return 0 tokens
        DiJiangChatModel model = greedy(new FakeEngine());
        ChatResponse first = model.chat(UserMessage.from("once upon a time"));
        ChatResponse second = model.chat(UserMessage.from("once upon a time"));
        assertTrue(second.tokenUsage().outputTokenCount() > 0);
        assertEquals(first.aiMessage().text(), second.aiMessage().text());
        assertEquals(first.tokenUsage(), second.tokenUsage());
    }

    @Test
    void concurrentRequestsAnswerAsSequentialOnes() throws Exception {
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            prompts.add("story number " + (char) ('a' + i) + " is about " + (char) ('z' - i));
        }
        DiJiangChatModel sequentialModel = greedy(new FakeEngine());
        List<String> sequential = new ArrayList<>();
        for (String prompt : prompts) {
            sequential.add(sequentialModel.chat(prompt));
        }
        FakeEngine engine = new FakeEngine();
        DiJiangChatModel shared = greedy(engine);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<String>> answers = new ArrayList<>();
            for (String prompt : prompts) {
                answers.add(pool.submit((Callable<String>) () -> shared.chat(prompt)));
            }
            for (int i = 0; i < prompts.size(); i++) {
                assertEquals(sequential.get(i), answers.get(i).get());
            }
        } finally {
            pool.shutdownNow();
        }
        // each request has its own session (they may overlap: continuous batching), never more than the requests
        assertTrue(engine.maxConcurrentSessions <= 4, "more sessions than requesting threads");
    }

    @Test
    void listenersSeeRequestResponseAndErrorWithSharedAttributes() {
        List<String> events = new ArrayList<>();
        ChatModelListener listener = new ChatModelListener() {
            @Override
            public void onRequest(ChatModelRequestContext context) {
                context.attributes().put("id", "r1");
                events.add("request temperature="
                        + context.chatRequest().parameters().temperature());
            }

            @Override
            public void onResponse(ChatModelResponseContext context) {
                events.add("response " + context.attributes().get("id") + " "
                        + context.chatResponse().finishReason());
            }

            @Override
            public void onError(ChatModelErrorContext context) {
                events.add("error " + context.attributes().get("id") + " "
                        + context.error().getClass().getSimpleName());
            }
        };
        DiJiangChatModel model = DiJiangChatModel.builder()
                .engine(new FakeEngine())
                .temperature(0.0)
                .listeners(List.of(listener))
                .build();
        model.chat("hello");
        assertThrows(
                UnsupportedFeatureException.class,
                () -> model.chat(request(
                        List.of(UserMessage.from("hi")),
                        ChatRequestParameters.builder().presencePenalty(1.0).build())));
        assertEquals(
                List.of(
                        "request temperature=0.0",
                        "response r1 STOP",
                        "request temperature=0.0",
                        "error r1 UnsupportedFeatureException"),
                events);
    }

    /** LangChain4j 1.13+: per-call options carry listener attributes; the listeners see them and the provider. */
    @Test
    void requestOptionsReachTheListenersAndTheAnswerIsTheSame() {
        List<String> events = new ArrayList<>();
        ChatModelListener listener = new ChatModelListener() {
            @Override
            public void onRequest(ChatModelRequestContext context) {
                events.add("request " + context.attributes().get("tenant") + " " + context.modelProvider());
            }

            @Override
            public void onResponse(ChatModelResponseContext context) {
                events.add("response " + context.attributes().get("tenant") + " " + context.modelProvider());
            }
        };
        DiJiangChatModel model = DiJiangChatModel.builder()
                .engine(new FakeEngine())
                .temperature(0.0)
                .listeners(List.of(listener))
                .build();
        ChatRequest request = request(
                List.of(UserMessage.from("hello")),
                ChatRequestParameters.builder().build());
        String plain = model.chat(request).aiMessage().text();
        ChatResponse withOptions = model.chat(
                request,
                ChatRequestOptions.builder()
                        .addListenerAttribute("tenant", "t7")
                        .build());
        assertEquals(plain, withOptions.aiMessage().text());
        assertEquals(ModelProvider.OTHER, model.provider());
        assertEquals(
                List.of("request null OTHER", "response null OTHER", "request t7 OTHER", "response t7 OTHER"), events);
    }

    @Test
    void promptBeyondTheContextIsAClearError() {
        DiJiangChatModel model = greedy(new FakeEngine(8));
        var error = assertThrows(ContextLengthExceededException.class, () -> model.chat("a prompt that is too long"));
        assertTrue(error.getMessage().contains("at most 8 positions"), error.getMessage());
    }

    @Test
    void generationStopsAtTheContextLimitWithLength() {
        FakeEngine engine = new FakeEngine(12);
        ChatResponse response = greedy(engine).chat(UserMessage.from("abcd"));
        assertEquals(FinishReason.LENGTH, response.finishReason());
        // prompt BOS + 5 characters = 6 positions; 6 more are consumed, the last sampled token is not
        assertEquals(7, response.tokenUsage().outputTokenCount());
    }

    @Test
    void builderNeedsExactlyOneSource() {
        var error = assertThrows(
                IllegalStateException.class, () -> DiJiangChatModel.builder().build());
        assertTrue(error.getMessage().contains("exactly one of profile"), error.getMessage());
        DiJiangRuntime runtime = new DiJiangRuntime(new FakeEngine());
        DiJiangChatModel a = DiJiangChatModel.builder().runtime(runtime).build();
        DiJiangStreamingChatModel b =
                DiJiangStreamingChatModel.builder().runtime(runtime).build();
        assertSame(a.runtime(), b.runtime());
        assertInstanceOf(AiMessage.class, a.chat(UserMessage.from("x")).aiMessage());
    }
}
