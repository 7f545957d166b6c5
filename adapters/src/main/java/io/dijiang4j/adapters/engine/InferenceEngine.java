package io.dijiang4j.adapters.engine;

import com.github.tjake.jlama.safetensors.prompt.Tool;
import dev.langchain4j.exception.UnsupportedFeatureException;
import io.dijiang4j.plugin.generation.ChatTurn;
import io.dijiang4j.plugin.generation.Vocabulary;
import java.util.List;

/**
 * The narrow view of a loaded model that the LangChain4j adapters need: tokenization, prompt rendering and sessions
 * (the token text and end tokens of {@link Vocabulary} drive the plugin's decode loop). Implementations are not
 * required to be thread-safe; the adapters call one engine from one thread at a time (the runtime's engine lock).
 */
public interface InferenceEngine extends Vocabulary, AutoCloseable {

    /** A name for responses and logs (the model directory name). */
    String modelName();

    /**
     * The last position the model can attend to, or {@link Integer#MAX_VALUE} when every layer keeps constant-size
     * state and the context is unbounded.
     */
    int positionLimit();

    /** Tokens of a complete prompt, beginning-of-sequence token included where the model wants one. */
    int[] encodePrompt(String prompt);

    /** The chat prompt for these messages with the model's template, ready to generate the assistant turn. */
    String renderChat(List<ChatTurn> turns);

    /**
     * As {@link #renderChat(List)}, with the tools' specifications rendered by the template (as langchain4j-jlama
     * renders them); an engine whose template has no place for tools refuses them.
     */
    default String renderChat(List<ChatTurn> turns, List<Tool> tools) {
        if (tools.isEmpty()) {
            return renderChat(turns);
        }
        throw new UnsupportedFeatureException(
                "tools need a chat template that renders them; " + modelName() + " has none that does");
    }

    /** A fresh session at position 0. */
    InferenceSession openSession();

    /** A session in the state a snapshot of one of this engine's sessions saved. */
    default InferenceSession restoreSession(InferenceSession.Snapshot snapshot) {
        return restoreSession(snapshot.bytes());
    }

    /**
     * A session in the state of {@link InferenceSession.Snapshot#bytes()} of one of this engine's sessions, possibly
     * saved by another process on the same model and profile.
     *
     * @throws IllegalArgumentException for bytes that are not such a state (another model or profile, damaged)
     */
    InferenceSession restoreSession(byte[] state);

    /**
     * What a saved state belongs to: states are shared (through a {@link io.dijiang4j.adapters.state.PrefixStateStore})
     * only between engines with equal scopes, so it must identify the model's weights and everything in the profile
     * that gives a state its meaning, and be the same in every process that loads them.
     */
    default String stateScope() {
        return getClass().getName() + ":" + modelName();
    }

    /**
     * Feeds {@code tokens.get(i)} to {@code sessions.get(i)} (sessions of this engine, each at most once) and returns
     * each session's next-token logits after its last token. This default runs them one after another; an engine
     * that can advance them in one forward pass overrides it (and {@link #batchesSessions()}).
     */
    default float[][] advance(List<InferenceSession> sessions, List<int[]> tokens) {
        float[][] logits = new float[sessions.size()][];
        for (int i = 0; i < logits.length; i++) logits[i] = sessions.get(i).prefill(tokens.get(i));
        return logits;
    }

    /** Whether {@link #advance} runs its sessions in one forward pass. */
    default boolean batchesSessions() {
        return false;
    }

    @Override
    void close();
}
