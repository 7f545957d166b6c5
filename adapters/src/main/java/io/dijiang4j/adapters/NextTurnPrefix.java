package io.dijiang4j.adapters;

import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.plugin.generation.ChatTurn;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The tokens that the next prompt of a conversation will start with, once the assistant's answer is part of it: what
 * to save the state of after a turn ({@link DiJiangRuntime#savePrefix}). A chat client sends the answer back as text,
 * and text decoded from sampled tokens need not encode to those tokens again (a random or small model's answer
 * often does not), so the state after the generated tokens is no prefix of the next prompt (docs/DESIGN.md §9).
 */
public final class NextTurnPrefix {
    /** Two next messages that differ from their first character: what they share is the template's, not theirs. */
    private static final String[] PROBES = {"a", "b"};

    private NextTurnPrefix() {}

    /**
     * The prompt tokens of {@code turns}, the answer and any next user message, up to where that message begins:
     * the longest common prefix of the conversation rendered (the engine's chat template and tokenizer, as the next
     * request will be) with two different next messages. Empty when the template renders nothing in common.
     */
    public static int[] tokens(InferenceEngine engine, List<ChatTurn> turns, String answer) {
        int[] common = null;
        for (String probe : PROBES) {
            List<ChatTurn> next = new ArrayList<>(turns);
            next.add(ChatTurn.assistant(answer));
            next.add(ChatTurn.user(probe));
            int[] tokens = engine.encodePrompt(engine.renderChat(next));
            int shared = common == null ? tokens.length : Arrays.mismatch(common, tokens);
            if (shared >= 0) common = Arrays.copyOf(tokens, shared);
        }
        return common;
    }
}
