package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.safetensors.prompt.PromptSupport;
import com.github.tjake.jlama.safetensors.prompt.Tool;
import com.github.tjake.jlama.safetensors.tokenizer.Tokenizer;
import com.github.tjake.jlama.safetensors.tokenizer.TokenizerModel;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.memory.ChatMemory;
import dev.langchain4j.memory.chat.MessageWindowChatMemory;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.jlama.JlamaChatModel;
import dev.langchain4j.service.AiServices;
import io.dijiang4j.adapters.DiJiangChatModel;
import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.adapters.engine.InferenceSession;
import io.dijiang4j.adapters.engine.PluginEngine;
import io.dijiang4j.adapters.spi.JlamaModelPatcher;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.generation.ChatTurn;
import io.dijiang4j.plugin.profile.ProfileLoader;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * One AiServices application with two tools and a chat memory, written against ChatModel, on langchain4j-jlama's
 * JlamaChatModel and on DiJiangChatModel, with the chat templates of Llama 3.1 and Qwen 2.5 written into synthetic
 * models (no tool-capable weights are available here: what is checked is the prompts and the reading of calls).
 */
class ToolParityIT {
    @TempDir
    Path temp;

    interface Assistant {
        String chat(String message);
    }

    static final class Calculator {
        final List<String> calls = new CopyOnWriteArrayList<>();

        @dev.langchain4j.agent.tool.Tool("Adds two integers")
        int add(int a, int b) {
            calls.add("add(" + a + "," + b + ")");
            return a + b;
        }

        @dev.langchain4j.agent.tool.Tool("The weather in a city")
        String weather(String city) {
            calls.add("weather(" + city + ")");
            return "sunny";
        }
    }

    /** A memory that already holds one tool exchange, so the prompt renders a call and a result too. */
    static ChatMemory memoryWithAToolExchange() {
        ChatMemory memory = MessageWindowChatMemory.withMaxMessages(20);
        memory.add(SystemMessage.from("You are a calculator."));
        memory.add(UserMessage.from("what is 1 plus 1?"));
        memory.add(AiMessage.from(List.of(ToolExecutionRequest.builder()
                .id("000000000")
                .name("add")
                .arguments("{\"a\": 1, \"b\": 1}")
                .build())));
        memory.add(ToolExecutionResultMessage.from("000000000", "add", "2"));
        memory.add(AiMessage.from("1 plus 1 is 2."));
        return memory;
    }

    static String runApplication(ChatModel model, Calculator tools, ChatMemory memory, String question) {
        Assistant assistant = AiServices.builder(Assistant.class)
                .chatModel(model)
                .tools(tools)
                .chatMemory(memory)
                .build();
        return assistant.chat(question);
    }

    private PluginEngine softmaxEngine(Path modelDir) throws Exception {
        Path profile = temp.resolve("vanilla-" + modelDir.getFileName() + ".yaml");
        Files.writeString(profile, "model: " + modelDir + "\nmode: softmax\n");
        return new PluginEngine(DiJiang.load(ProfileLoader.load(profile)));
    }

    @ParameterizedTest
    @EnumSource(ToolModels.class)
    void jlamaChatModelAndDiJiangChatModelRenderTheSamePrompt(ToolModels template) throws Exception {
        Path cache = temp.resolve("cache");
        Path modelDir = template.write(cache);

        JlamaChatModel jlama = JlamaChatModel.builder()
                .modelCachePath(cache)
                .modelName(template.jlamaName())
                .workingDirectory(Stories260K.workingDirectory(temp))
                .temperature(0f)
                .maxTokens(2600)
                .build();
        List<String> jlamaPrompts = recordPrompts(JlamaModelPatcher.loadedModel(jlama));
        runApplication(jlama, new Calculator(), memoryWithAToolExchange(), "what is 2 plus 3?");

        Recording engine = new Recording(softmaxEngine(modelDir), null);
        try (DiJiangChatModel dijiang = DiJiangChatModel.builder()
                .engine(engine)
                .temperature(0.0)
                .maxOutputTokens(4)
                .build()) {
            runApplication(dijiang, new Calculator(), memoryWithAToolExchange(), "what is 2 plus 3?");
        }

        assertEquals(1, jlamaPrompts.size());
        assertEquals(jlamaPrompts.get(0), engine.prompts.get(0));
        String prompt = engine.prompts.get(0);
        switch (template) {
            case LLAMA_31 -> {
                assertTrue(prompt.contains("Environment: ipython\n"), prompt);
                assertTrue(prompt.contains("\"name\": \"add\""), prompt);
                assertTrue(prompt.contains("\"name\": \"weather\""), prompt);
                assertTrue(
                        prompt.contains("{\"name\": \"add\", \"parameters\": {\"a\": 1, \"b\": 1}}<|eot_id|>"), prompt);
                assertTrue(prompt.contains("<|start_header_id|>ipython<|end_header_id|>\n\n"), prompt);
            }
            case QWEN_25 -> {
                assertTrue(prompt.contains("# Tools\n\nYou may call one or more functions"), prompt);
                assertTrue(prompt.contains("<tools>\n{"), prompt);
                // Jlama gives a tool call the role "tool_call", which Qwen's template skips, and a result as a map that
                // the template prints with Java's toString (docs/JLAMA.md §4): both models render them so
                assertFalse(prompt.contains("<tool_call>\n{\"name\": \"add\""), prompt);
                assertTrue(prompt.contains("<tool_response>\n{content={result=2}}\n</tool_response>"), prompt);
            }
        }
        assertTrue(prompt.contains("what is 2 plus 3?"), prompt);
    }

    @ParameterizedTest
    @EnumSource(ToolModels.class)
    void modelThatCallsAToolGetsItExecutedAndTheAppAnswers(ToolModels template) throws Exception {
        Path modelDir = template.write(temp.resolve("cache"));
        String call = switch (template) {
            case LLAMA_31 -> "{\"name\": \"add\", \"parameters\": {\"a\": 2, \"b\": 3}}";
            case QWEN_25 -> "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 2, \"b\": 3}}\n</tool_call>";
        };
        String resultMarker = template == ToolModels.LLAMA_31 ? "<|start_header_id|>ipython" : "<tool_response>";
        Recording engine = new Recording(
                softmaxEngine(modelDir), prompt -> prompt.contains(resultMarker) ? "The sum is 5." : call);
        Calculator tools = new Calculator();
        try (DiJiangChatModel dijiang =
                DiJiangChatModel.builder().engine(engine).temperature(0.0).build()) {
            String answer =
                    runApplication(dijiang, tools, MessageWindowChatMemory.withMaxMessages(20), "what is 2 plus 3?");
            assertEquals("The sum is 5.", answer);
        }
        assertEquals(List.of("add(2,3)"), tools.calls);
        assertEquals(2, engine.prompts.size());
        String second = engine.prompts.get(1);
        assertTrue(
                second.contains(
                        template == ToolModels.LLAMA_31
                                ? "{\"name\": \"add\", \"parameters\": {\"a\": 2, \"b\": 3}}<|eot_id|>"
                                        + "<|start_header_id|>ipython<|end_header_id|>\n\n"
                                        + "{\"content\": {\"result\": \"5\"}}"
                                : "<tool_response>\n{content={result=5}}\n</tool_response>"),
                second);
    }

    @Test
    void templateWithoutToolsIsOneClearError() throws Exception {
        try (DiJiangChatModel model =
                DiJiangChatModel.builder().profile(Stories260K.vanilla(temp)).build()) {
            var error = assertThrows(
                    UnsupportedFeatureException.class,
                    () -> runApplication(model, new Calculator(), MessageWindowChatMemory.withMaxMessages(4), "hi"));
            assertTrue(
                    error.getMessage().startsWith("tools need a chat template that renders them"), error.getMessage());
            assertFalse(error.getMessage().contains("\n"), error.getMessage());
        }
    }

    /** Records what Jlama's generate encodes: the prompt JlamaChatModel rendered. */
    private static List<String> recordPrompts(AbstractModel model) throws Exception {
        Field field = AbstractModel.class.getDeclaredField("tokenizer");
        field.setAccessible(true);
        Tokenizer real = (Tokenizer) field.get(model);
        List<String> prompts = new CopyOnWriteArrayList<>();
        field.set(model, new Tokenizer() {
            @Override
            public List<String> tokenize(String sentence) {
                return real.tokenize(sentence);
            }

            @Override
            public long[] encode(String sentence) {
                prompts.add(sentence);
                return real.encode(sentence);
            }

            @Override
            public String decode(long id) {
                return real.decode(id);
            }

            @Override
            public String decode(long[] ids) {
                return real.decode(ids);
            }

            @Override
            public Optional<PromptSupport> promptSupport() {
                return real.promptSupport();
            }

            @Override
            public TokenizerModel getModel() {
                return real.getModel();
            }
        });
        return prompts;
    }

    /**
     * The plugin engine, recording the prompts it renders; with a script, each answer is forced to the script's text
     * for the prompt (the real forward passes still run, their logits replaced by the script's next token).
     */
    static final class Recording implements InferenceEngine {
        final List<String> prompts = new CopyOnWriteArrayList<>();
        private final PluginEngine engine;
        private final Function<String, String> script;

        Recording(PluginEngine engine, Function<String, String> script) {
            this.engine = engine;
            this.script = script;
        }

        @Override
        public String renderChat(List<ChatTurn> turns) {
            return renderChat(turns, List.of());
        }

        @Override
        public String renderChat(List<ChatTurn> turns, List<Tool> tools) {
            String prompt = engine.renderChat(turns, tools);
            prompts.add(prompt);
            return prompt;
        }

        @Override
        public InferenceSession openSession() {
            InferenceSession session = engine.openSession();
            return script == null ? session : new Scripted(session, scriptTokens());
        }

        @Override
        public InferenceSession restoreSession(byte[] state) {
            InferenceSession session = engine.restoreSession(state);
            return script == null ? session : new Scripted(session, scriptTokens());
        }

        private int[] scriptTokens() {
            int[] encoded = engine.encodePrompt(script.apply(prompts.get(prompts.size() - 1)));
            return Arrays.copyOfRange(encoded, 1, encoded.length); // without BOS
        }

        @Override
        public String modelName() {
            return engine.modelName();
        }

        @Override
        public int positionLimit() {
            return engine.positionLimit();
        }

        @Override
        public int[] encodePrompt(String prompt) {
            return engine.encodePrompt(prompt);
        }

        @Override
        public String decode(int token) {
            return engine.decode(token);
        }

        @Override
        public boolean isEndToken(int token) {
            return engine.isEndToken(token);
        }

        @Override
        public void close() {
            engine.close();
        }
    }

    /** A session whose logits after the prompt spell {@code script}, then the end token (id 2 of the byte vocabulary). */
    private record Scripted(InferenceSession session, int[] script, int[] generated) implements InferenceSession {
        Scripted(InferenceSession session, int[] script) {
            this(session, script, new int[1]);
        }

        @Override
        public float[] prefill(int[] tokens) {
            return forced(session.prefill(tokens));
        }

        @Override
        public float[] step(int token) {
            generated[0]++;
            return forced(session.step(token));
        }

        private float[] forced(float[] logits) {
            float[] out = new float[logits.length];
            out[generated[0] < script.length ? script[generated[0]] : 2] = 1f;
            return out;
        }

        @Override
        public long position() {
            return session.position();
        }

        @Override
        public long positionLimit() {
            return session.positionLimit();
        }

        @Override
        public Snapshot snapshot() {
            return session.snapshot();
        }

        @Override
        public void close() {
            session.close();
        }
    }
}
