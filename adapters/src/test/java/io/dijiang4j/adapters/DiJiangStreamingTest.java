package io.dijiang4j.adapters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.StreamingResponseHandler;
import dev.langchain4j.model.chat.ChatRequestOptions;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelRequestContext;
import dev.langchain4j.model.chat.listener.ChatModelResponseContext;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.Response;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class DiJiangStreamingTest {

    /** Records every callback; completes when a terminal one arrives. */
    static class Recorder implements StreamingChatResponseHandler {
        final List<String> partials = new CopyOnWriteArrayList<>();
        final AtomicInteger terminals = new AtomicInteger();
        final CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        volatile int throwOnPartial = -1;

        @Override
        public void onPartialResponse(String partialResponse) {
            partials.add(partialResponse);
            if (partials.size() == throwOnPartial) {
                throw new IllegalStateException("handler bug");
            }
        }

        @Override
        public void onCompleteResponse(ChatResponse completeResponse) {
            terminals.incrementAndGet();
            done.complete(completeResponse);
        }

        @Override
        public void onError(Throwable error) {
            terminals.incrementAndGet();
            done.completeExceptionally(error);
        }

        ChatResponse await() throws Exception {
            return done.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void streamedTextEqualsTheBlockingAnswer() throws Exception {
        DiJiangRuntime runtime = new DiJiangRuntime(new FakeEngine());
        DiJiangChatModel blocking =
                DiJiangChatModel.builder().runtime(runtime).temperature(0.0).build();
        DiJiangStreamingChatModel streaming = DiJiangStreamingChatModel.builder()
                .runtime(runtime)
                .temperature(0.0)
                .build();
        ChatResponse expected = blocking.chat(UserMessage.from("a dog"));
        Recorder recorder = new Recorder();
        streaming.chat("a dog", recorder);
        ChatResponse streamed = recorder.await();
        assertEquals(expected.aiMessage().text(), streamed.aiMessage().text());
        assertEquals(expected.aiMessage().text(), String.join("", recorder.partials));
        assertTrue(recorder.partials.size() > 1, "not streamed: " + recorder.partials);
        assertEquals(expected.tokenUsage(), streamed.tokenUsage());
        Thread.sleep(50);
        assertEquals(1, recorder.terminals.get());
    }

    @Test
    void streamedStopSequenceIsNeverEmitted() throws Exception {
        DiJiangStreamingChatModel streaming = DiJiangStreamingChatModel.builder()
                .engine(new FakeEngine())
                .temperature(0.0)
                .executor(Runnable::run)
                .build();
        Recorder full = new Recorder();
        streaming.chat("a dog", full);
        String text = full.await().aiMessage().text();
        String stop = text.substring(3, 6);
        Recorder cut = new Recorder();
        streaming.chat(
                ChatRequest.builder()
                        .messages(UserMessage.from("a dog"))
                        .parameters(ChatRequestParameters.builder()
                                .stopSequences(List.of(stop))
                                .build())
                        .build(),
                cut);
        String expected = text.substring(0, text.indexOf(stop));
        assertEquals(expected, cut.await().aiMessage().text());
        assertEquals(expected, String.join("", cut.partials));
    }

    @Test
    void throwingHandlerGetsOneOnErrorAndTheModelKeepsWorking() throws Exception {
        DiJiangStreamingChatModel streaming = DiJiangStreamingChatModel.builder()
                .engine(new FakeEngine())
                .temperature(0.0)
                .build();
        Recorder failing = new Recorder();
        failing.throwOnPartial = 2;
        streaming.chat("a dog", failing);
        var error = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, failing::await);
        assertInstanceOf(IllegalStateException.class, error.getCause());
        assertEquals(2, failing.partials.size(), "generation went on after the handler failed");

        Recorder next = new Recorder();
        streaming.chat("a dog", next);
        assertTrue(next.await().tokenUsage().outputTokenCount() > 2);
        Thread.sleep(50);
        assertEquals(1, failing.terminals.get());
        assertEquals(1, next.terminals.get());
    }

    @Test
    void throwingCompletionHandlerDoesNotBreakTheModel() throws Exception {
        DiJiangStreamingChatModel streaming = DiJiangStreamingChatModel.builder()
                .engine(new FakeEngine())
                .temperature(0.0)
                .executor(Runnable::run)
                .build();
        AtomicInteger errors = new AtomicInteger();
        streaming.chat("hello", new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partialResponse) {}

            @Override
            public void onCompleteResponse(ChatResponse completeResponse) {
                throw new IllegalStateException("handler bug");
            }

            @Override
            public void onError(Throwable error) {
                errors.incrementAndGet();
            }
        });
        assertEquals(0, errors.get());
        Recorder next = new Recorder();
        streaming.chat("hello", next);
        assertTrue(next.await().tokenUsage().outputTokenCount() > 0);
    }

    @Test
    void requestOptionsReachTheListenersOfAStreamedAnswer() throws Exception {
        List<String> events = new CopyOnWriteArrayList<>();
        ChatModelListener listener = new ChatModelListener() {
            @Override
            public void onRequest(ChatModelRequestContext context) {
                events.add("request " + context.attributes().get("tenant") + " " + context.modelProvider());
            }

            @Override
            public void onResponse(ChatModelResponseContext context) {
                events.add("response " + context.attributes().get("tenant"));
            }
        };
        DiJiangStreamingChatModel streaming = DiJiangStreamingChatModel.builder()
                .engine(new FakeEngine())
                .temperature(0.0)
                .listeners(List.of(listener))
                .build();
        Recorder recorder = new Recorder();
        streaming.chat(
                ChatRequest.builder().messages(UserMessage.from("a dog")).build(),
                ChatRequestOptions.builder()
                        .addListenerAttribute("tenant", "t7")
                        .build(),
                recorder);
        ChatResponse response = recorder.await();
        assertEquals(String.join("", recorder.partials), response.aiMessage().text());
        assertEquals(List.of("request t7 OTHER", "response t7"), events);
    }

    @Test
    void unsupportedParameterGoesToOnError() throws Exception {
        DiJiangStreamingChatModel streaming =
                DiJiangStreamingChatModel.builder().engine(new FakeEngine()).build();
        Recorder recorder = new Recorder();
        streaming.chat(
                ChatRequest.builder()
                        .messages(UserMessage.from("hi"))
                        .parameters(ChatRequestParameters.builder()
                                .frequencyPenalty(1.0)
                                .build())
                        .build(),
                recorder);
        var error = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, recorder::await);
        assertInstanceOf(UnsupportedFeatureException.class, error.getCause());
        assertEquals(1, recorder.terminals.get());
    }

    @Test
    void languageModelsRepeatTheirAnswerAndStreamTheSameText() throws Exception {
        // langchain4j issue 6025: the Jlama language models reuse one session, so a second call returned 0 tokens
        DiJiangRuntime runtime = new DiJiangRuntime(new FakeEngine());
        DiJiangLanguageModel language =
                DiJiangLanguageModel.builder().runtime(runtime).temperature(0.0).build();
        Response<String> first = language.generate("once upon a time");
        Response<String> second = language.generate("once upon a time");
        assertTrue(second.tokenUsage().outputTokenCount() > 0);
        assertEquals(first.content(), second.content());

        DiJiangStreamingLanguageModel streaming = DiJiangStreamingLanguageModel.builder()
                .runtime(runtime)
                .temperature(0.0)
                .build();
        for (int call = 0; call < 2; call++) {
            StringBuilder text = new StringBuilder();
            CompletableFuture<Response<String>> done = new CompletableFuture<>();
            streaming.generate("once upon a time", new StreamingResponseHandler<>() {
                @Override
                public void onNext(String token) {
                    text.append(token);
                }

                @Override
                public void onComplete(Response<String> response) {
                    done.complete(response);
                }

                @Override
                public void onError(Throwable error) {
                    done.completeExceptionally(error);
                }
            });
            assertEquals(first.content(), done.get(10, TimeUnit.SECONDS).content());
            assertEquals(first.content(), text.toString());
        }
    }
}
