package io.dijiang4j.tools.cli;

import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.generation.ChatTemplate;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.dijiang4j.plugin.profile.Profile;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code dijiang chat}: one line in, one reply out, with one session kept across turns (the model sees the whole
 * conversation). Lines starting with '/' are commands: /reset, /save FILE, /load FILE, /quit. A model with a chat
 * template gets each turn through it (see {@link TemplatedConversation}); a base model gets the lines as they are.
 */
@Command(
        name = "chat",
        mixinStandardHelpOptions = true,
        description = "Line-based chat on stdin keeping one session across turns (/reset, /save F, /load F, /quit).")
public final class ChatCommand implements Callable<Integer> {
    @Mixin
    ProfileOptions options;

    @Override
    public Integer call() throws IOException {
        Profile profile = options.profile();
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try (DiJiangModel model = DiJiang.load(profile, line -> System.err.println("dijiang: " + line))) {
            Session session = model.newSession();
            TemplatedConversation conversation = ChatTemplate.of(model.jlama())
                    .map(TemplatedConversation::new)
                    .orElse(null);
            if (conversation == null) System.err.println("dijiang: no chat template: lines are fed as they are");
            try {
                System.err.println("dijiang: type a line; /reset, /save FILE, /load FILE, /quit");
                String line;
                while ((line = in.readLine()) != null) {
                    String text = line.strip();
                    if (text.equals("/quit") || text.equals("/exit")) break;
                    if (text.equals("/reset")) {
                        session.close();
                        session = model.newSession();
                        if (conversation != null) conversation.clear();
                        System.err.println("dijiang: new session");
                        continue;
                    }
                    if (text.startsWith("/save ")) {
                        session.snapshotTo(Path.of(text.substring(6).strip()));
                        System.err.println("dijiang: saved " + session.stateBytes() + " bytes of state");
                        continue;
                    }
                    if (text.startsWith("/load ")) {
                        Path file = Path.of(text.substring(6).strip());
                        if (!java.nio.file.Files.isRegularFile(file)) {
                            throw new IllegalArgumentException("/load " + file + ": no such snapshot file");
                        }
                        Session restored = model.restoreSession(file);
                        session.close();
                        session = restored;
                        // the snapshot holds the state, not the text: later turns start a new templated history
                        if (conversation != null) conversation.clear();
                        System.err.println("dijiang: restored at position " + session.position());
                        continue;
                    }
                    try {
                        // the seed starts the session's random stream once; later turns continue it
                        var options = session.position() == 0
                                ? profile.generation()
                                : profile.generation().withSeed(null);
                        String turn;
                        if (conversation != null) {
                            TemplatedConversation.Turn next = conversation.next(session, line);
                            if (next.restart()) {
                                System.err.println("dijiang: the template rewrote earlier turns: reading the"
                                        + " whole conversation again");
                                session.close();
                                session = model.newSession();
                            }
                            turn = next.text();
                        } else {
                            turn = (session.position() == 0 ? "" : "\n") + line + "\n";
                        }
                        GenerationResult reply = session.generate(turn, options, piece -> {
                            out.print(piece);
                            out.flush();
                        });
                        if (conversation != null) conversation.replied(reply);
                        if (reply.stopReason() == GenerationResult.StopReason.CONTEXT_LIMIT) {
                            System.err.println(
                                    "dijiang: the reply stopped at the context limit (type /reset to" + " start over)");
                        }
                    } catch (IllegalStateException e) {
                        System.err.println("dijiang: " + e.getMessage() + " (type /reset to start over)");
                    }
                    out.println();
                }
            } finally {
                session.close();
            }
        }
        return 0;
    }
}
