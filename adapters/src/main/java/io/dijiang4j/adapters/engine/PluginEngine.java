package io.dijiang4j.adapters.engine;

import com.github.tjake.jlama.safetensors.prompt.Tool;
import dev.langchain4j.exception.UnsupportedFeatureException;
import io.dijiang4j.attention.SpecFingerprint;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.calibration.ModelFingerprint;
import io.dijiang4j.plugin.calibration.Sidecars;
import io.dijiang4j.plugin.generation.ChatTemplate;
import io.dijiang4j.plugin.generation.ChatTurn;
import io.dijiang4j.plugin.profile.Profile;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The engine on the plugin: a {@link DiJiangModel} (a Jlama model with the profile's attention installed). */
public final class PluginEngine implements InferenceEngine {
    private final DiJiangModel model;
    private final String name;
    private final Optional<ChatTemplate> template;
    private String scope;

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
    public InferenceSession restoreSession(byte[] state) {
        return new PluginSession(model.restoreSession(state));
    }

    /**
     * The model's fingerprint (SHA-256 of its config, tokenizer and safetensors headers: {@link ModelFingerprint}),
     * the mode and the spec fingerprint of every kernelized layer ({@link SpecFingerprint}; softmax layers as 'S'):
     * equal in every process that loads the same model with the same profile, wherever the files lie.
     */
    @Override
    public synchronized String stateScope() {
        if (scope == null) {
            String weights = Sidecars.modelDirectory(model.profile())
                    .map(ModelFingerprint::of)
                    .orElse(String.valueOf(model.profile().model()));
            StringBuilder s = new StringBuilder("dijiang4j model=")
                    .append(weights)
                    .append(" mode=")
                    .append(model.profile().mode().key())
                    .append(" layers=");
            for (int layer = 0; layer < model.installation().numberOfLayers(); layer++) {
                s.append(model.installation()
                                .spec(layer)
                                .map(spec -> Long.toHexString(SpecFingerprint.of(spec)))
                                .orElse("S"))
                        .append(',');
            }
            scope = s.toString();
        }
        return scope;
    }

    /** One forward pass for all of them where every layer is kernelized ({@link DiJiangModel#advance}). */
    @Override
    public float[][] advance(List<InferenceSession> sessions, List<int[]> tokens) {
        List<Session> plugin = new ArrayList<>(sessions.size());
        for (InferenceSession s : sessions) {
            if (!(s instanceof PluginSession p))
                throw new IllegalArgumentException("not a session of this engine: " + s);
            plugin.add(p.session());
        }
        return model.advance(plugin, tokens);
    }

    @Override
    public boolean batchesSessions() {
        return model.batchesSessions();
    }

    @Override
    public void close() {
        model.close();
    }

    /** A plugin session snapshot: its serialized state (kilobytes for kernelized layers, the KV rows for softmax). */
    record SessionBytes(byte[] bytes) implements InferenceSession.Snapshot {}

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
