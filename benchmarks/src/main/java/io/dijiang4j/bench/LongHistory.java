package io.dijiang4j.bench;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;
import java.util.ArrayList;
import java.util.List;

/**
 * The prefix-reuse workload: a conversation whose first user message is a long story (about 16 stories260K tokens
 * per sentence); PrefixReuseIT checks its correctness, PrefixReuseBenchmark times it.
 */
public final class LongHistory {
    private static final String[] SENTENCES = {
        "Lily went to the park with her mom.",
        "She saw a big red ball under a tree.",
        "Tom came to play and they ran in the sun.",
        "The dog barked and jumped over the box.",
        "They were happy and had a lot of fun.",
        "Then it started to rain, so they went home."
    };

    private LongHistory() {}

    /** About 16 tokens per sentence; deterministic. */
    public static String story(int sentences) {
        StringBuilder text = new StringBuilder("Once upon a time,");
        for (int i = 0; i < sentences; i++) {
            text.append(' ').append(SENTENCES[(i * 7 + i / 6) % SENTENCES.length]);
        }
        return text.toString();
    }

    public static List<ChatMessage> secondTurn(String story, String firstAnswer, String question) {
        List<ChatMessage> messages = new ArrayList<>();
        messages.add(UserMessage.from(story));
        messages.add(AiMessage.from(firstAnswer));
        messages.add(UserMessage.from(question));
        return messages;
    }
}
