package io.dijiang4j.adapters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tjake.jlama.safetensors.prompt.Tool;
import dev.langchain4j.agent.tool.P;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.memory.chat.MessageWindowChatMemory;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.CompleteToolCall;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.service.AiServices;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class ToolCallingTest {
    static final String ADD_CALL = "{\"name\": \"add\", \"parameters\": {\"a\": 2, \"b\": 3}}";

    /** The application: an assistant with two tools and a memory, written against ChatModel only. */
    interface Assistant {
        String chat(String message);
    }

    static final class Calculator {
        final List<String> calls = new CopyOnWriteArrayList<>();

        @dev.langchain4j.agent.tool.Tool("Adds two integers")
        int add(@P("first") int a, @P("second") int b) {
            calls.add("add(" + a + "," + b + ")");
            return a + b;
        }

        @dev.langchain4j.agent.tool.Tool("The weather in a city")
        String weather(@P("city") String city) {
            calls.add("weather(" + city + ")");
            return "sunny";
        }
    }

    /** Calls add(2, 3) first; once the prompt holds the tool's result, answers with it. */
    static String addThenAnswer(String prompt) {
        int result = prompt.lastIndexOf("<tool_result add>");
        return result < 0 ? ADD_CALL : "The sum is " + prompt.substring(result + 17, prompt.indexOf('\n', result));
    }

    static String runApplication(ChatModel model, Calculator tools) {
        Assistant assistant = AiServices.builder(Assistant.class)
                .chatModel(model)
                .tools(tools)
                .chatMemory(MessageWindowChatMemory.withMaxMessages(20))
                .build();
        return assistant.chat("what is 2 plus 3?");
    }

    private static ToolSpecification addSpecification() {
        return ToolSpecification.builder()
                .name("add")
                .parameters(JsonObjectSchema.builder()
                        .addIntegerProperty("a")
                        .addIntegerProperty("b")
                        .required("a", "b")
                        .build())
                .build();
    }

    private static ChatRequest addRequest(ToolChoice choice) {
        return ChatRequest.builder()
                .messages(UserMessage.from("2 plus 3?"))
                .parameters(ChatRequestParameters.builder()
                        .toolSpecifications(addSpecification())
                        .toolChoice(choice)
                        .build())
                .build();
    }

    @Test
    void aiServicesAppExecutesTheToolTheModelCallsAndAnswers() {
        ScriptedEngine engine = new ScriptedEngine(true, ToolCallingTest::addThenAnswer);
        Calculator tools = new Calculator();
        String answer = runApplication(
                DiJiangChatModel.builder().engine(engine).temperature(0.0).build(), tools);
        assertEquals("The sum is 5", answer);
        assertEquals(List.of("add(2,3)"), tools.calls);
        assertEquals(2, engine.prompts.size(), engine.prompts.toString());
        String second = engine.prompts.get(1);
        assertTrue(second.startsWith("tools: add, weather\n"), second);
        // the call goes back into the prompt and the tool's result follows it
        assertTrue(second.contains("<tool_call add>{\"a\": 2, \"b\": 3}\n<tool_result add>5\n"), second);
    }

    @Test
    void blockingAnswerHoldsTheCallsWithFinishReasonToolExecution() {
        DiJiangChatModel model = DiJiangChatModel.builder()
                .engine(new ScriptedEngine(true, prompt -> ADD_CALL))
                .temperature(0.0)
                .build();
        ChatResponse response = model.chat(addRequest(ToolChoice.AUTO));
        assertEquals(FinishReason.TOOL_EXECUTION, response.finishReason());
        ToolExecutionRequest call = response.aiMessage().toolExecutionRequests().get(0);
        assertEquals("add", call.name());
        assertEquals("000000000", call.id());
        assertEquals("{\"a\": 2, \"b\": 3}", call.arguments());
    }

    @Test
    void streamingSendsTheTextThenTheCompleteCallsInTheFinalResponse() throws Exception {
        DiJiangStreamingChatModel model = DiJiangStreamingChatModel.builder()
                .engine(new ScriptedEngine(true, prompt -> ADD_CALL))
                .temperature(0.0)
                .build();
        List<CompleteToolCall> completed = new CopyOnWriteArrayList<>();
        DiJiangStreamingTest.Recorder recorder = new DiJiangStreamingTest.Recorder() {
            @Override
            public void onCompleteToolCall(CompleteToolCall call) {
                assertFalse(done.isDone(), "a call completed after the response");
                completed.add(call);
            }
        };
        model.chat(addRequest(null), recorder);
        ChatResponse response = recorder.await();
        assertEquals(ADD_CALL, String.join("", recorder.partials));
        assertTrue(recorder.partials.size() > 1);
        assertEquals(FinishReason.TOOL_EXECUTION, response.finishReason());
        assertEquals(
                response.aiMessage().toolExecutionRequests(),
                completed.stream().map(CompleteToolCall::toolExecutionRequest).toList());
        assertEquals(1, completed.size());
    }

    @Test
    void toolChoiceNoneOffersNoToolsAndReadsNoCalls() {
        ScriptedEngine engine = new ScriptedEngine(true, prompt -> ADD_CALL);
        ChatResponse response = DiJiangChatModel.builder()
                .engine(engine)
                .temperature(0.0)
                .build()
                .chat(addRequest(ToolChoice.NONE));
        assertEquals(ADD_CALL, response.aiMessage().text());
        assertEquals(FinishReason.STOP, response.finishReason());
        assertFalse(engine.prompts.get(0).contains("tools:"), engine.prompts.get(0));
    }

    @Test
    void toolChoiceRequiredMakesAModelThatWouldAnswerInTextCallATool() {
        DiJiangChatModel model = DiJiangChatModel.builder()
                .engine(new ScriptedEngine(true, prompt -> "Five, I think."))
                .temperature(0.0)
                .maxOutputTokens(40)
                .build();
        ChatResponse response = model.chat(addRequest(ToolChoice.REQUIRED));
        assertEquals(FinishReason.TOOL_EXECUTION, response.finishReason());
        ToolExecutionRequest call = response.aiMessage().toolExecutionRequests().get(0);
        assertEquals("add", call.name());
        assertTrue(call.arguments().startsWith("{"), call.arguments());
        var none = assertThrows(
                dev.langchain4j.exception.InvalidRequestException.class,
                () -> model.chat(ChatRequest.builder()
                        .messages(UserMessage.from("hi"))
                        .parameters(ChatRequestParameters.builder()
                                .toolChoice(ToolChoice.REQUIRED)
                                .build())
                        .build()));
        assertTrue(none.getMessage().contains("at least one tool"), none.getMessage());
    }

    @Test
    void templateWithoutToolsIsOneClearError() {
        DiJiangChatModel model = DiJiangChatModel.builder()
                .engine(new ScriptedEngine(false, prompt -> ADD_CALL))
                .build();
        var error = assertThrows(UnsupportedFeatureException.class, () -> model.chat(addRequest(ToolChoice.AUTO)));
        assertTrue(error.getMessage().startsWith("tools need a chat template that renders them"), error.getMessage());
    }

    @Test
    void answerCutByMaxTokensIsTextNotACall() {
        ChatResponse response = DiJiangChatModel.builder()
                .engine(new ScriptedEngine(true, prompt -> ADD_CALL))
                .temperature(0.0)
                .maxOutputTokens(30)
                .build()
                .chat(addRequest(ToolChoice.AUTO));
        assertEquals(FinishReason.LENGTH, response.finishReason());
        assertEquals(ADD_CALL.substring(0, 30), response.aiMessage().text());
    }

    @Test
    void callsAreReadAsJlamaReadsThem() {
        List<Tool> tools = List.of(
                ToolCalls.toTool(addSpecification()),
                ToolCalls.toTool(ToolSpecification.builder().name("weather").build()));
        // Qwen 2.5 style: tagged, "arguments"; two calls, one twice; sorted by name, ids in that order
        String qwen = "<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>\n"
                + "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>\n"
                + "<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>";
        List<ToolExecutionRequest> calls = ToolCalls.parse(qwen, tools);
        assertEquals(
                List.of("add", "weather"),
                calls.stream().map(ToolExecutionRequest::name).toList());
        assertEquals(
                List.of("000000000", "000000001"),
                calls.stream().map(ToolExecutionRequest::id).toList());
        assertEquals("{\"city\": \"Oslo\"}", calls.get(1).arguments());
        // Llama 3.1 style: a bare object with "parameters"
        assertEquals("add", ToolCalls.parse(ADD_CALL, tools).get(0).name());
        // text that names no tool, or holds no JSON object, is an answer
        assertTrue(ToolCalls.parse("{\"x\": 1}", tools).isEmpty());
        assertTrue(ToolCalls.parse("I would add them: 5", tools).isEmpty());
    }
}
