package io.dijiang4j.adapters.engine;

import com.github.tjake.jlama.safetensors.prompt.Tool;
import dev.langchain4j.exception.UnsupportedFeatureException;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.generation.ChatTemplate;
import io.dijiang4j.plugin.generation.ChatTurn;
import io.dijiang4j.plugin.profile.Profile;
import java.util.List;
import java.util.Optional;

/** The engine on the plugin: a {@link DiJiangModel} (a Jlama model with the profile's attention installed). */
public final class PluginEngine implements InferenceEngine {
    private final DiJiangModel model;
    private final String name;
    private final Optional<ChatTemplate> template;

    public PluginEngine(DiJiangModel model) {
        this.model = model;
        this.template = ChatTemplate.of(model.jlama());
        String source =
                model.profile().model() == null ? null : model.profile().model().toString();
        String base = source == null ? "jlama" : source.replace('\\', '/');
        this.name = base.substring(base.lastIndexOf('/') + 1) + " ("
                + model.profile().mode().key() + ")";
    }

    public DiJiangModel model() {
        return model;
    }

    public Profile profile() {
        return model.profile();
    }

    @Override
    public String modelName() {
        return name;
    }

    @Override
    public int positionLimit() {
        return (int) Math.min(Integer.MAX_VALUE, model.maxPositions());
    }

    @Override
    public int[] encodePrompt(String prompt) {
        return model.tokens().encode(prompt, true);
    }

    @Override
    public String decode(int token) {
        return model.tokens().decode(token);
    }

    @Override
    public String stableText(int token) {
        return model.tokens().stableText(token);
    }

    @Override
    public boolean isEndToken(int token) {
        return model.tokens().isEndToken(token);
    }

    /** Renders as langchain4j-jlama's JlamaChatModel does, with the template of the model's tokenizer_config.json. */
    @Override
    public String renderChat(List<ChatTurn> turns) {
        return renderChat(turns, List.of());
    }

    @Override
    public String renderChat(List<ChatTurn> turns, List<Tool> tools) {
        ChatTemplate chat = template.orElseThrow(() -> new UnsupportedFeatureException(
                "chat needs a chat template and this model has none (tokenizer_config.json"
                        + " chat_template); use DiJiangLanguageModel for plain completion"));
        if (!tools.isEmpty() && !chat.rendersTools()) {
            // Jlama would only log a warning and render the prompt without them: the model could never call one
            throw new UnsupportedFeatureException("tools need a chat template that renders them, and the"
                    + " chat_template of " + name + " (tokenizer_config.json) has no tools");
        }
        return chat.render(turns, tools);
    }

    @Override
    public InferenceSession openSession() {
        return new PluginSession(model.newSession());
    }

    @Override
    public InferenceSession restoreSession(InferenceSession.Snapshot snapshot) {
        if (!(snapshot instanceof SessionBytes bytes)) {
            throw new IllegalArgumentException("not a snapshot of this engine: " + snapshot);
        }
        return new PluginSession(model.restoreSession(bytes.bytes()));
    }

    @Override
    public void close() {
        model.close();
    }

    /** A plugin session snapshot: its serialized state (kilobytes for kernelized layers, the KV rows for softmax). */
    record SessionBytes(byte[] bytes) implements InferenceSession.Snapshot {
        @Override
        public long sizeInBytes() {
            return bytes.length;
        }
    }

    private record PluginSession(Session session) implements InferenceSession {
        @Override
        public long position() {
            return session.position();
        }

        @Override
        public long positionLimit() {
            return session.positionLimit();
        }

        @Override
        public float[] prefill(int[] tokens) {
            return session.prefill(tokens);
        }

        @Override
        public float[] step(int token) {
            return session.step(token);
        }

        @Override
        public Snapshot snapshot() {
            return new SessionBytes(session.snapshot());
        }

        @Override
        public void close() {
            session.close();
        }
    }
}
