package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;
import io.dijiang4j.adapters.DiJiangChatModel;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.dijiang4j.plugin.io.AtomicFiles;
import io.dijiang4j.tools.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Long runs (scripts/long-run.sh; tagged slow, so not in bin/test): one hybrid conversation on stories260K samples
 * {@code -Dlongrun.tokens} tokens (default 100,000) through the CLI's chat (in process, one session, 10k tokens a
 * turn, /save after each) and through the LangChain4j chat model (a growing conversation, prefix reuse), for the
 * calibration-free and the calibrated profile. Every 10k tokens it prints heap used after a full GC and the state
 * bytes (CLI: the session's, as /save reports them; adapters: the conversation cache's checkpoints), and checks
 * that neither grows (heap: last within 1.5x + 8 MiB of the second report; state: 1.5x + 4 KiB) and that no NaN error
 * appears.
 */
@Tag("slow")
class LongRunIT {
    static final long TOKENS = Long.getLong("longrun.tokens", 100_000);
    static final int TURN = Integer.getInteger("longrun.turn", 10_000);

    @TempDir
    Path temp;

    record Row(String path, String profile, long tokens, long heapBytes, long stateBytes, double seconds) {}

    static final List<Row> ROWS = new ArrayList<>();

    /** The test's stdout: the CLI run swaps System.out for the chat's output while it runs. */
    static final PrintStream REPORT = System.out;

    static long heapAfterGc() {
        for (int i = 0; i < 3; i++) System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    static void record(Row row) {
        ROWS.add(row);
        REPORT.printf(
                Locale.ROOT,
                "long run %-8s %-22s tokens %7d  heap after GC %7.2f MiB  state %9d bytes  %6.0f s%n",
                row.path,
                row.profile,
                row.tokens,
                row.heapBytes / 1048576.0,
                row.stateBytes,
                row.seconds);
        REPORT.flush();
        StringBuilder csv = new StringBuilder("path,profile,tokens,heap_bytes,state_bytes,seconds\n");
        for (Row r : ROWS) {
            csv.append(String.format(
                    Locale.ROOT,
                    "%s,%s,%d,%d,%d,%.1f%n",
                    r.path,
                    r.profile,
                    r.tokens,
                    r.heapBytes,
                    r.stateBytes,
                    r.seconds));
        }
        Path out = Path.of(System.getProperty("longrun.csv", "target/long-run.csv"));
        AtomicFiles.writeString(out, csv.toString());
    }

    /** The session position a snapshot holds (its header: magic, version, fingerprint, position). */
    static long position(Path snapshot) {
        try (java.io.DataInputStream in = new java.io.DataInputStream(Files.newInputStream(snapshot))) {
            in.readInt();
            in.readInt();
            in.readUTF();
            return in.readLong();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** From the second report on (the adapters' checkpoint cache fills in the first two requests). */
    static void assertFlat(List<Row> rows) {
        Row first = rows.get(1), last = rows.get(rows.size() - 1);
        // slack for what a conversation must keep: its text and token ids (about 1 MB per 100k tokens)
        assertTrue(last.heapBytes <= first.heapBytes * 1.5 + (8 << 20), "heap grew: " + rows);
        assertTrue(last.stateBytes <= first.stateBytes * 1.5 + 4096, "state grew: " + rows);
    }

    static Path profile(String name) {
        return Path.of(System.getProperty("dijiang.configs", "../configs"))
                .resolve(name)
                .toAbsolutePath();
    }

    @Test
    void cliChatCalibrationFree() throws Exception {
        cli("calibration-free.yaml");
    }

    @Test
    void cliChatCalibrated() throws Exception {
        cli("hybrid.yaml");
    }

    @Test
    void adaptersCalibrationFree() {
        adapters("calibration-free.yaml");
    }

    @Test
    void adaptersCalibrated() {
        adapters("hybrid.yaml");
    }

    /**
     * The CLI's chat in process: stdin hands out one line per read (a turn, then /save), and measures whenever the
     * chat asks for the next turn (the previous turn and its /save are done then). Tokens: the session's position,
     * read from the snapshot the /save wrote.
     */
    void cli(String profileName) throws Exception {
        Path snapshot = temp.resolve("chat.snapshot");
        long start = System.nanoTime();
        List<Row> rows = new ArrayList<>();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        OutputStream counting = new OutputStream() {
            @Override
            public void write(int b) {
                text.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                text.write(b, off, len);
            }
        };
        Pattern saved = Pattern.compile("saved (\\d+) bytes of state");
        InputStream turns = new InputStream() {
            byte[] line = new byte[0];
            int at;
            int step;
            long nextReport = TURN;

            private void next() {
                String s;
                if (step % 2 == 1) {
                    s = "/save " + snapshot + "\n";
                } else {
                    long tokens = step == 0 ? 0 : position(snapshot);
                    if (step > 0 && tokens >= nextReport) {
                        Matcher m = saved.matcher(err.toString(StandardCharsets.UTF_8));
                        long state = 0;
                        while (m.find()) state = Long.parseLong(m.group(1));
                        Row row = new Row(
                                "cli", profileName, tokens, heapAfterGc(), state, (System.nanoTime() - start) / 1e9);
                        rows.add(row);
                        record(row);
                        nextReport = (tokens / TURN + 1) * TURN;
                    }
                    s = tokens >= TOKENS ? "/quit\n" : "Once upon a time\n";
                }
                step++;
                line = s.getBytes(StandardCharsets.UTF_8);
                at = 0;
            }

            @Override
            public int read() {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (at == line.length) next();
                int n = Math.min(len, line.length - at);
                System.arraycopy(line, at, b, off, n);
                at += n;
                return n;
            }
        };
        InputStream oldIn = System.in;
        PrintStream oldOut = System.out, oldErr = System.err;
        int code;
        try {
            System.setIn(turns);
            System.setOut(new PrintStream(counting, false, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = Main.run(
                    "chat", "--config", profile(profileName).toString(), "--max-tokens", Integer.toString(TURN));
        } finally {
            System.setIn(oldIn);
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        String errors = err.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, errors);
        assertTrue(!errors.contains("NaN or infinite"), errors);
        assertTrue(rows.size() >= 2, "measured " + rows);
        assertFlat(rows);
    }

    /** DiJiangChatModel with a growing conversation: every request restores the last answer's state and goes on. */
    void adapters(String profileName) {
        long start = System.nanoTime();
        List<Row> rows = new ArrayList<>();
        try (DiJiangChatModel model = DiJiangChatModel.builder()
                .profile(profile(profileName))
                .maxOutputTokens(TURN)
                .build()) {
            List<ChatMessage> conversation = new ArrayList<>();
            long tokens = 0;
            long nextReport = TURN;
            while (tokens < TOKENS) {
                conversation.add(UserMessage.from("Once upon a time"));
                AiMessage reply = model.chat(conversation).aiMessage();
                conversation.add(reply);
                GenerationResult g = model.runtime().lastResult();
                tokens += g.tokens().size();
                if (tokens >= nextReport) {
                    Row row = new Row(
                            "adapters",
                            profileName,
                            tokens,
                            heapAfterGc(),
                            model.runtime().cachedStateBytes(),
                            (System.nanoTime() - start) / 1e9);
                    rows.add(row);
                    record(row);
                    nextReport = (tokens / TURN + 1) * TURN;
                }
            }
        }
        assertTrue(rows.size() >= 2, "measured " + rows);
        assertFlat(rows);
    }
}
