package io.dijiang4j.bench.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dijiang4j.adapters.Scheduling;
import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.adapters.state.LocalPrefixStateStore;
import io.dijiang4j.bench.BenchReport;
import io.dijiang4j.bench.LongHistory;
import io.dijiang4j.plugin.generation.ChatTurn;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.server.OpenAiServer;
import io.dijiang4j.server.ServerSettings;
import io.dijiang4j.server.ServingStack;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * One mode's serving benchmark: an in-process {@code dijiang serve} (states kept in the process) and up to
 * max(clients) chat clients over HTTP, streaming. Each client first holds a conversation: a story of about {@code
 * historyTokens} prompt tokens, its own, and the server's answer (turn 1, untimed: the cold prefill), then all clients
 * ask one question at once, untimed (the JIT's warm-up of passes over several rows). At each level
 * of N clients, N clients send {@code turns} follow-up questions at once, each continuing that conversation (the
 * history, the answer, a new question), as a chat app re-sends its history: the server restores the saved state of
 * the history and prefills only the rest. Measured per request on the client: time to the first text chunk (TTFT) and
 * time per output token after it (TPOT); per level: generated tokens over the level's wall time, failures, heap after
 * a GC and the saved states' bytes.
 */
final class ServeBench implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] QUESTIONS = {
        "What happened next?", "Who was there?", "Why were they happy?", "Where did they go?", "What did Tom say?"
    };
    /** The untimed warm-up level's question, asked by no timed level (their saved states stay unused). */
    private static final String WARM_UP_QUESTION = "Tell me more about it.";

    /** One level's results. Times in milliseconds. */
    record Level(
            String mode,
            int clients,
            int historyTokens,
            int requests,
            int failed,
            double wallSeconds,
            double aggregateTokensPerSecond,
            double ttftP50,
            double ttftP95,
            double tpotP50,
            double tpotP95,
            double restoredFraction,
            long stateBytesPerConversation,
            long heapBytes,
            double coldPrefillMs,
            double rowsPerPass,
            double passShare,
            double decodeTokensPerSecond,
            long tokensSavedAfter) {}

    /** One request; {@code firstNanos} and {@code lastNanos}: when its first and last text arrived (nanoTime). */
    private record Sample(
            boolean ok,
            double ttftMs,
            double tpotMs,
            int tokens,
            int promptTokens,
            int restored,
            long firstNanos,
            long lastNanos) {
        static final Sample FAILED = new Sample(false, 0, 0, 0, 0, 0, 0, 0);
    }

    private final Profile profile;
    private final String mode;
    private final Scheduling scheduling;
    private final List<Integer> levels;
    private final int historyTokens;
    private final int turns;
    private final int maxTokens;
    private final long stateBytes;
    private final long seed;
    private final PrintStream progress;
    private final HttpClient http =
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final List<List<ChatTurn>> conversations = new ArrayList<>();
    private LocalPrefixStateStore states;
    private ServingStack stack;
    private int meanHistory;
    private double coldMedian;

    ServeBench(
            Profile profile,
            String mode,
            Scheduling scheduling,
            List<Integer> levels,
            int historyTokens,
            int turns,
            int maxTokens,
            long stateBytes,
            long seed,
            PrintStream progress) {
        this.profile = profile;
        this.mode = mode;
        this.scheduling = scheduling;
        this.levels = levels;
        this.historyTokens = historyTokens;
        this.turns = turns;
        this.maxTokens = maxTokens;
        this.stateBytes = stateBytes;
        this.seed = seed;
        this.progress = progress;
    }

    /**
     * Starts the server and holds every conversation (turn 1, the cold prefill), so that {@link #level} can be
     * called; benches of several schedulings can be open at once and their levels interleaved (the same load on the
     * machine for each).
     */
    void open() throws Exception {
        int clients = Collections.max(levels);
        // every conversation's history and its follow-ups stay saved: 3 per request (the prompt, the prompt with
        // the answer's tokens, the next turn's prefix) per client, with room
        int entries = clients * (6 + 3 * turns * (levels.size() + 1)); // the warm-up level too
        states = new LocalPrefixStateStore(entries, stateBytes, null);
        stack = ServingStack.start(
                profile,
                "bench",
                id -> ServerSettings.defaults(id).withPort(0).withMaxInFlight(2 * clients),
                states,
                scheduling,
                line -> progress.println("bench-serve: " + line));
        OpenAiServer server = stack.server();
        InferenceEngine engine = stack.runtime().engine();
        // a softmax model attends to its context length only: the history and a follow-up must fit
        int room = engine.positionLimit() == Integer.MAX_VALUE
                ? Integer.MAX_VALUE
                : engine.positionLimit() - 2 * (maxTokens + 48);
        int target = Math.min(historyTokens, room);
        double[] cold = new double[clients];
        int history = 0;
        for (int c = 0; c < clients; c++) {
            String story = story(engine, c, target);
            List<ChatTurn> turn1 = List.of(new ChatTurn(ChatTurn.Role.USER, story));
            long t0 = System.nanoTime();
            JsonNode answer = post(server, body(turn1, false, c));
            cold[c] = (System.nanoTime() - t0) / 1e6;
            history += answer.at("/usage/prompt_tokens").asInt();
            List<ChatTurn> conversation = new ArrayList<>(turn1);
            conversation.add(new ChatTurn(
                    ChatTurn.Role.ASSISTANT,
                    answer.at("/choices/0/message/content").asText()));
            conversations.add(conversation);
        }
        awaitIdle(stack); // the states for the follow-ups, saved after the answers
        meanHistory = history / clients;
        coldMedian = median(cold);
        // one untimed level of every client with a question no timed level asks: the turns above ran one at a time,
        // so the kernels of passes over several rows would otherwise be compiled (run in the Vector API's Java
        // fallback until then, about a second) inside the first timed level
        awaitIdle(stack);
        level(server, stack, states, conversations, meanHistory, coldMedian, WARM_UP_QUESTION);
        progress.printf(
                Locale.ROOT,
                "bench-serve: %s: %d conversations of %d prompt tokens held (cold prefill median %.0f ms)%n",
                mode,
                clients,
                meanHistory,
                coldMedian);
    }

    String mode() {
        return mode;
    }

    /** The level of {@code n} clients (one of those given), after {@link #open}. */
    Level level(int n) throws Exception {
        awaitIdle(stack); // the last level's saves for next turns run after its answers: not in this level
        Level l = level(stack.server(), stack, states, conversations.subList(0, n), meanHistory, coldMedian, null);
        progress.printf(
                Locale.ROOT,
                "bench-serve: %s, %2d clients: %.1f tok/s (decode %.1f), TTFT p50 %.0f p95 %.0f ms, TPOT p50"
                        + " %.1f ms, %.1f rows/pass, %.0f%% in passes, %d failed%n",
                mode,
                n,
                l.aggregateTokensPerSecond(),
                l.decodeTokensPerSecond(),
                l.ttftP50(),
                l.ttftP95(),
                l.tpotP50(),
                l.rowsPerPass(),
                100 * l.passShare(),
                l.failed());
        return l;
    }

    @Override
    public void close() {
        if (stack != null) stack.close();
    }

    /**
     * Waits until the server saves no state for a next turn and the runtime holds no session and queues no request
     * (at most 10 minutes).
     */
    private static void awaitIdle(ServingStack stack) throws InterruptedException {
        long deadline = System.nanoTime() + 600_000_000_000L;
        while ((stack.server().nextTurnSavesInFlight() > 0
                        || stack.runtime().activeSessions() > 0
                        || stack.runtime().queuedRequests() > 0)
                && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
    }

    private Level level(
            OpenAiServer server,
            ServingStack stack,
            LocalPrefixStateStore states,
            List<List<ChatTurn>> conversations,
            int history,
            double coldMs,
            String question)
            throws Exception {
        int n = conversations.size();
        CyclicBarrier start = new CyclicBarrier(n + 1);
        ExecutorService pool = Executors.newFixedThreadPool(n);
        List<Future<List<Sample>>> futures = new ArrayList<>();
        for (int c = 0; c < n; c++) {
            int client = c;
            futures.add(pool.submit(() -> {
                start.await();
                List<Sample> samples = new ArrayList<>();
                for (int t = 0; t < turns; t++) {
                    List<ChatTurn> messages = new ArrayList<>(conversations.get(client));
                    String q = question != null ? question : QUESTIONS[(client + t + n) % QUESTIONS.length];
                    messages.add(new ChatTurn(ChatTurn.Role.USER, q));
                    samples.add(stream(server, body(messages, true, client * 1000 + t)));
                }
                return samples;
            }));
        }
        start.await();
        long[] passesBefore = stack.runtime().passCounters();
        long savedBefore = stack.runtime().savedPrefixTokens();
        long t0 = System.nanoTime();
        List<Sample> all = new ArrayList<>();
        for (Future<List<Sample>> f : futures) all.addAll(f.get());
        double wall = (System.nanoTime() - t0) / 1e9;
        long[] passesAfter = stack.runtime().passCounters();
        double rowsPerPass =
                (passesAfter[1] - passesBefore[1]) / (double) Math.max(1, passesAfter[0] - passesBefore[0]);
        // the share of the level's wall time in which a forward pass ran (the rest: sampling, streaming, HTTP and
        // the clients, hand-offs between passes, and time with nothing to do)
        double passShare = (passesAfter[2] - passesBefore[2]) / 1e9 / wall;
        pool.shutdown();
        List<Sample> ok = all.stream().filter(Sample::ok).toList();
        awaitIdle(stack); // the states for the next turns, saved after the answers (not in the wall time)
        long savedAfter = stack.runtime().savedPrefixTokens() - savedBefore;
        int tokens = ok.stream().mapToInt(Sample::tokens).sum();
        System.gc();
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        double restored = ok.stream()
                .mapToDouble(s -> s.restored() / (double) s.promptTokens())
                .average()
                .orElse(0);
        return new Level(
                mode,
                n,
                history,
                all.size(),
                all.size() - ok.size(),
                wall,
                tokens / wall,
                percentile(ok.stream().mapToDouble(Sample::ttftMs).toArray(), 50),
                percentile(ok.stream().mapToDouble(Sample::ttftMs).toArray(), 95),
                percentile(
                        ok.stream()
                                .filter(s -> s.tokens() > 1)
                                .mapToDouble(Sample::tpotMs)
                                .toArray(),
                        50),
                percentile(
                        ok.stream()
                                .filter(s -> s.tokens() > 1)
                                .mapToDouble(Sample::tpotMs)
                                .toArray(),
                        95),
                restored,
                states.size() == 0 ? 0 : states.bytes() / states.size(),
                heap,
                coldMs,
                rowsPerPass,
                passShare,
                decodeTokensPerSecond(ok),
                savedAfter / Math.max(1, ok.size()));
    }

    /**
     * Tokens after each stream's first over the time during which at least one stream was decoding (the union of
     * the streams' first-to-last-token intervals): the aggregate decode throughput, without the stretches in which
     * every client waits for its prompt to be prefilled.
     */
    static double decodeTokensPerSecond(List<Sample> samples) {
        List<Sample> streams = samples.stream()
                .filter(s -> s.tokens() > 1 && s.lastNanos() > s.firstNanos())
                .sorted(java.util.Comparator.comparingLong(Sample::firstNanos))
                .toList();
        long tokens = 0, busy = 0, end = Long.MIN_VALUE;
        for (Sample s : streams) {
            tokens += s.tokens() - 1;
            long from = Math.max(s.firstNanos(), end);
            if (s.lastNanos() > from) busy += s.lastNanos() - from;
            end = Math.max(end, s.lastNanos());
        }
        return busy == 0 ? Double.NaN : tokens / (busy / 1e9);
    }

    /** A story of about {@code tokens} prompt tokens (with the chat template), its own for each client. */
    private static String story(InferenceEngine engine, int client, int tokens) {
        int sentences = 1;
        String text;
        while (true) {
            text = "Story " + client + ". " + LongHistory.story(sentences + client % 5);
            int length = engine.encodePrompt(engine.renderChat(List.of(new ChatTurn(ChatTurn.Role.USER, text)))).length;
            if (length >= tokens) break;
            sentences = Math.max(sentences + 1, (int) (sentences * 0.97 * tokens / length));
        }
        while (sentences > 1
                && engine.encodePrompt(engine.renderChat(List.of(new ChatTurn(ChatTurn.Role.USER, text)))).length
                        > tokens) {
            sentences--;
            text = "Story " + client + ". " + LongHistory.story(sentences + client % 5);
        }
        return text;
    }

    private String body(List<ChatTurn> turns, boolean stream, long requestSeed) {
        ObjectNode body = JSON.createObjectNode()
                .put("model", "bench")
                .put("max_tokens", maxTokens)
                .put("seed", seed + requestSeed);
        ArrayNode messages = body.putArray("messages");
        for (ChatTurn t : turns) {
            messages.addObject()
                    .put("role", t.role().name().toLowerCase(Locale.ROOT))
                    .put("content", t.text());
        }
        if (stream) {
            body.put("stream", true);
            body.putObject("stream_options").put("include_usage", true);
        }
        return body.toString();
    }

    private JsonNode post(OpenAiServer server, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(request(server, body), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) throw new IOException("turn 1 failed: " + r.statusCode() + " " + r.body());
        return JSON.readTree(r.body());
    }

    private static HttpRequest request(OpenAiServer server, String body) {
        return HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/chat/completions"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
    }

    /** One streamed request, timed on the client. */
    private Sample stream(OpenAiServer server, String body) {
        long t0 = System.nanoTime();
        try {
            HttpResponse<InputStream> r = http.send(request(server, body), HttpResponse.BodyHandlers.ofInputStream());
            if (r.statusCode() != 200) {
                try (InputStream in = r.body()) {
                    progress.println("bench-serve: request failed: " + r.statusCode() + " "
                            + new String(in.readAllBytes(), StandardCharsets.UTF_8));
                }
                return Sample.FAILED;
            }
            long first = -1, last = -1;
            boolean done = false;
            JsonNode usage = null;
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    if (!line.startsWith("data: ")) continue;
                    String data = line.substring(6);
                    if (data.equals("[DONE]")) {
                        done = true;
                        break;
                    }
                    JsonNode chunk = JSON.readTree(data);
                    if (chunk.has("error")) break;
                    if (chunk.path("usage").isObject()) usage = chunk.get("usage");
                    String text = chunk.at("/choices/0/delta/content").asText("");
                    if (!text.isEmpty()) {
                        last = System.nanoTime();
                        if (first < 0) first = last;
                    }
                }
            }
            if (!done || usage == null) return Sample.FAILED;
            int tokens = usage.get("completion_tokens").asInt();
            double ttft = ((first < 0 ? System.nanoTime() : first) - t0) / 1e6;
            double tpot = tokens > 1 && first >= 0 ? (last - first) / 1e6 / (tokens - 1) : Double.NaN;
            return new Sample(
                    true,
                    ttft,
                    tpot,
                    tokens,
                    usage.get("prompt_tokens").asInt(),
                    usage.at("/prompt_tokens_details/cached_tokens").asInt(),
                    first,
                    last);
        } catch (IOException e) {
            progress.println("bench-serve: request failed: " + e);
            return Sample.FAILED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Sample.FAILED;
        }
    }

    static double percentile(double[] values, double p) {
        if (values.length == 0) return Double.NaN;
        double[] v = values.clone();
        Arrays.sort(v);
        int rank = (int) Math.ceil(p / 100 * v.length) - 1; // nearest rank
        return v[Math.max(0, Math.min(v.length - 1, rank))];
    }

    static double median(double[] values) {
        return percentile(values, 50);
    }

    static String table(String model, List<Level> levels) {
        StringBuilder s = new StringBuilder();
        s.append(String.format(
                Locale.ROOT,
                "%s: chat over HTTP, streaming; history = prompt tokens of each conversation; tok/s = generated tokens"
                        + " of all clients / wall time of the level; x1 = over 1 client of the same mode; x serial ="
                        + " over the serialized runtime with as many clients, same run; decode tok/s = tokens after"
                        + " each stream's first / time during which a stream was decoding; saved/req = tokens"
                        + " prefilled after each answer for the next turn (not in the wall time)%n",
                model));
        s.append(String.format(
                Locale.ROOT,
                "%-20s %7s %7s %8s %9s %6s %8s %10s %8s %9s %9s %9s %9s %9s %12s %10s %9s %9s %9s%n",
                "mode",
                "clients",
                "history",
                "requests",
                "tok/s",
                "x1",
                "x serial",
                "dec tok/s",
                "x serial",
                "TTFT p50",
                "TTFT p95",
                "TPOT p50",
                "TPOT p95",
                "restored",
                "state B/conv",
                "heap MiB",
                "rows/pass",
                "in passes",
                "saved/req"));
        for (Level l : levels) {
            // "-" when the run has no 1-client level of this mode
            String overOne = levels.stream()
                    .filter(b -> b.mode().equals(l.mode()) && b.clients() == 1)
                    .findFirst()
                    .map(b -> String.format(
                            Locale.ROOT, "%.2f", l.aggregateTokensPerSecond() / b.aggregateTokensPerSecond()))
                    .orElse("-");
            s.append(String.format(
                    Locale.ROOT,
                    "%-20s %7d %7d %8s %9.1f %6s %8s %10.1f %8s %9.0f %9.0f %9.1f %9.1f %8.0f%% %12d %10.0f %9.1f"
                            + " %8.0f%% %9d%n",
                    l.mode(),
                    l.clients(),
                    l.historyTokens(),
                    l.requests() + (l.failed() > 0 ? "(" + l.failed() + "!)" : ""),
                    l.aggregateTokensPerSecond(),
                    overOne,
                    overSerial(levels, l, Level::aggregateTokensPerSecond),
                    l.decodeTokensPerSecond(),
                    overSerial(levels, l, Level::decodeTokensPerSecond),
                    l.ttftP50(),
                    l.ttftP95(),
                    l.tpotP50(),
                    l.tpotP95(),
                    100 * l.restoredFraction(),
                    l.stateBytesPerConversation(),
                    l.heapBytes() / 1048576.0,
                    l.rowsPerPass(),
                    100 * l.passShare(),
                    l.tokensSavedAfter()));
        }
        s.append("TTFT, TPOT in ms; failed requests marked (n!); rows/pass = session rows (decode steps and prompt"
                + " slices) per forward pass; in passes = share of the wall time in which a"
                + " forward pass ran\n");
        return s.toString();
    }

    /**
     * A batched level's {@code metric} over that of the serialized runtime's level of the same mode and clients
     * ("hybrid/serial"), formatted; "-" when there is none.
     */
    static String overSerial(List<Level> levels, Level l, java.util.function.ToDoubleFunction<Level> metric) {
        int at = l.mode().indexOf("/batched");
        if (at < 0) return "-";
        String serial = l.mode().substring(0, at) + "/serial";
        return levels.stream()
                .filter(b -> b.mode().equals(serial) && b.clients() == l.clients())
                .findFirst()
                .map(b -> String.format(Locale.ROOT, "%.2f", metric.applyAsDouble(l) / metric.applyAsDouble(b)))
                .orElse("-");
    }

    static byte[] json(String model, List<Level> levels) throws IOException {
        ObjectNode root = JSON.createObjectNode().put("model", model);
        root.put("cpus", Runtime.getRuntime().availableProcessors());
        root.put("load_average", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        root.put("java", Runtime.version().toString());
        root.set("levels", JSON.valueToTree(levels));
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
    }

    static BufferedImage plot(String model, List<Level> levels) {
        XYChart speed = chart(model + ": aggregate generated tokens/s", "tokens/s");
        XYChart ttft = chart(model + ": time to first token, p95", "ms");
        for (String mode : levels.stream().map(Level::mode).distinct().toList()) {
            List<Level> ls = levels.stream().filter(l -> l.mode().equals(mode)).toList();
            double[] x = ls.stream().mapToDouble(Level::clients).toArray();
            XYSeries a = speed.addSeries(
                    mode,
                    x,
                    ls.stream().mapToDouble(Level::aggregateTokensPerSecond).toArray());
            a.setMarker(SeriesMarkers.CIRCLE);
            XYSeries b = ttft.addSeries(
                    mode, x, ls.stream().mapToDouble(Level::ttftP95).toArray());
            b.setMarker(SeriesMarkers.CIRCLE);
        }
        return BenchReport.tile(
                List.of(BitmapEncoder.getBufferedImage(speed), BitmapEncoder.getBufferedImage(ttft)), 2);
    }

    private static XYChart chart(String title, String yTitle) {
        XYChart c = new XYChartBuilder()
                .width(640)
                .height(440)
                .title(title)
                .xAxisTitle("concurrent clients")
                .yAxisTitle(yTitle)
                .build();
        c.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNW);
        return c;
    }
}
