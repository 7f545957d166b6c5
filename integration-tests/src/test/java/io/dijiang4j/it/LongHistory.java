package io.dijiang4j.it;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;
import java.util.ArrayList;
import java.util.List;

/** A conversation whose first user message is about {@code tokens} stories260K tokens of story text. */
final class LongHistory {
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
    static String story(int sentences) {
        StringBuilder text = new StringBuilder("Once upon a time,");
        for (int i = 0; i < sentences; i++) {
            text.append(' ').append(SENTENCES[(i * 7 + i / 6) % SENTENCES.length]);
        }
        return text.toString();
    }

    static List<ChatMessage> secondTurn(String story, String firstAnswer, String question) {
        List<ChatMessage> messages = new ArrayList<>();
        messages.add(UserMessage.from(story));
        messages.add(AiMessage.from(firstAnswer));
        messages.add(UserMessage.from(question));
        return messages;
    }
}
