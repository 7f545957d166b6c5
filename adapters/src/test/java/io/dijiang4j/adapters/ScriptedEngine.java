package io.dijiang4j.adapters;

import com.github.tjake.jlama.safetensors.prompt.Tool;
import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.adapters.engine.InferenceSession;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A model that answers each prompt with a scripted text: tokens are the characters 0..255 (id 3 + c), BOS 1, EOS 2;
 * the logits put all weight on the next character of {@code script.apply(prompt)}, then on EOS. Its template lists
 * the offered tools and one line per turn. Keeps the prompts it rendered.
 */
final class ScriptedEngine implements InferenceEngine {
    static final String ASSISTANT = "<assistant>\n";
    final List<String> prompts = new CopyOnWriteArrayList<>();
    private final Function<String, String> script;
    private final boolean rendersTools;

    ScriptedEngine(boolean rendersTools, Function<String, String> script) {
        this.rendersTools = rendersTools;
        this.script = script;
    }

    @Override
    public String modelName() {
        return "scripted";
    }

    @Override
    public int positionLimit() {
        return Integer.MAX_VALUE;
    }

    @Override
    public int[] encodePrompt(String prompt) {
        int[] tokens = new int[prompt.length() + 1];
        tokens[0] = 1;
        for (int i = 0; i < prompt.length(); i++) tokens[i + 1] = 3 + (prompt.charAt(i) & 0xff);
        return tokens;
    }

    @Override
    public String decode(int token) {
        return token < 3 ? "" : String.valueOf((char) (token - 3));
    }

    @Override
    public boolean isEndToken(int token) {
        return token == 2;
    }

    @Override
    public String renderChat(List<io.dijiang4j.plugin.generation.ChatTurn> turns) {
        return renderChat(turns, List.of());
    }

    @Override
    public String renderChat(List<io.dijiang4j.plugin.generation.ChatTurn> turns, List<Tool> tools) {
        if (!tools.isEmpty() && !rendersTools) {
            return InferenceEngine.super.renderChat(turns, tools);
        }
        String prompt = (tools.isEmpty()
                        ? ""
                        : "tools: "
                                + tools.stream()
                                        .map(t -> t.getFunction().getName())
                                        .collect(Collectors.joining(", "))
                                + "\n")
                + turns.stream()
                        .map(t -> "<" + t.role().name().toLowerCase() + (t.toolName() == null ? "" : " " + t.toolName())
                                + ">" + t.text())
                        .collect(Collectors.joining("\n"))
                + "\n" + ASSISTANT;
        prompts.add(prompt);
        return prompt;
    }

    @Override
    public InferenceSession openSession() {
        return new Session(new StringBuilder());
    }

    @Override
    public InferenceSession restoreSession(byte[] state) {
        return new Session(new StringBuilder(new String(state, java.nio.charset.StandardCharsets.UTF_8)));
    }

    @Override
    public void close() {}

    private record Text(String text) implements InferenceSession.Snapshot {
        @Override
        public long sizeInBytes() {
            return text.length();
        }

        @Override
        public byte[] bytes() {
            return text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    private final class Session implements InferenceSession {
        private final StringBuilder consumed;

        Session(StringBuilder consumed) {
            this.consumed = consumed;
        }

        @Override
        public long position() {
            return consumed.length();
        }

        @Override
        public long positionLimit() {
            return Long.MAX_VALUE;
        }

        @Override
        public float[] prefill(int[] tokens) {
            for (int token : tokens) consumed.append(token == 1 ? "\u0001" : decode(token));
            return logits();
        }

        @Override
        public float[] step(int token) {
            consumed.append(decode(token));
            return logits();
        }

        private float[] logits() {
            String text = consumed.toString();
            int end = text.lastIndexOf(ASSISTANT) + ASSISTANT.length();
            String reply = script.apply(text.substring(1, end));
            int generated = text.length() - end;
            float[] logits = new float[259];
            logits[generated < reply.length() ? 3 + (reply.charAt(generated) & 0xff) : 2] = 10f;
            return logits;
        }

        @Override
        public Snapshot snapshot() {
            return new Text(consumed.toString());
        }

        @Override
        public void close() {}
    }
}
