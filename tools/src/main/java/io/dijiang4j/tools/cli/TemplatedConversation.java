package io.dijiang4j.tools.cli;

import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.generation.ChatTemplate;
import io.dijiang4j.plugin.generation.ChatTurn;
import io.dijiang4j.plugin.generation.GenerationResult;
import java.util.ArrayList;
import java.util.List;

/**
 * A chat through the model's template with one session kept across turns: each turn renders the whole conversation
 * and feeds only what the session has not seen (what follows the previous prompt and the reply: the template's end of
 * message, the new user message, the assistant header; the end token that stopped the reply is never fed).
 * When the new rendering does not extend what was fed (a template that rewrites earlier turns), the turn starts a
 * fresh session with the whole rendering, so the model always sees exactly the template's text.
 */
final class TemplatedConversation {
    /** What to feed for a turn; {@code restart}: feed it to a new session. */
    record Turn(String text, boolean restart) {}

    private final ChatTemplate template;
    private final List<ChatTurn> turns = new ArrayList<>();
    private final StringBuilder fed = new StringBuilder();

    TemplatedConversation(ChatTemplate template) {
        this.template = template;
    }

    Turn next(Session session, String userText) {
        turns.add(ChatTurn.user(userText));
        String rendered = template.render(turns);
        boolean extendsFed = session.position() > 0 && fed.length() > 0 && rendered.startsWith(fed.toString());
        String text = extendsFed ? rendered.substring(fed.length()) : rendered;
        boolean restart = session.position() > 0 && !extendsFed;
        if (!extendsFed) fed.setLength(0);
        fed.append(text);
        return new Turn(text, restart);
    }

    /** Records the reply as the session holds it. */
    void replied(GenerationResult reply) {
        turns.add(ChatTurn.assistant(reply.text()));
        // a stop sequence was fed but is not in the text: what the session holds is unknown, start over next turn
        if (reply.stopReason() == GenerationResult.StopReason.STOP_SEQUENCE) fed.setLength(0);
        else fed.append(reply.text());
    }

    void clear() {
        turns.clear();
        fed.setLength(0);
    }
}
