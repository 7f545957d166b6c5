package io.dijiang4j.plugin;

import java.util.List;

/**
 * The result of one {@link Session#generate} call.
 *
 * @param tokens the generated token ids (the prompt not included; an end token that stopped it not included)
 * @param text their decoded text (special tokens left out)
 * @param promptTokens how many prompt tokens were fed (BOS included)
 * @param stopReason why it stopped
 * @param position the session's position afterwards
 */
public record Generation(List<Integer> tokens, String text, int promptTokens, StopReason stopReason, long position) {
    public enum StopReason {
        END_TOKEN,
        MAX_TOKENS
    }

    public Generation {
        tokens = List.copyOf(tokens);
    }
}
