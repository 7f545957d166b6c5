package io.dijiang4j.bench.longctx;

import io.dijiang4j.bench.BenchReport;
import io.dijiang4j.bench.longctx.LongContextReport.EvalRow;
import io.dijiang4j.bench.longctx.LongContextReport.PasskeyTrial;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.generation.ChatTemplate;
import io.dijiang4j.plugin.generation.ChatTurn;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.dijiang4j.plugin.io.AtomicFiles;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.plugin.profile.ProfileLoader;
import io.dijiang4j.tools.eval.Evaluator;
import io.dijiang4j.tools.eval.LongRangeSlice;
import io.dijiang4j.tools.eval.StoryTexts;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.UnaryOperator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code dijiang long-context}: long-context fidelity of several profiles on one model against vanilla Jlama:
 * teacher-forced comparisons ({@link Evaluator}) on the first N tokens of given texts, and passkey retrieval
 * ({@link PasskeyPrompt}, greedy answer read by {@link PasskeyAnswer}). Results accumulate in {@code --out}
 * ({@code passkey.csv}, {@code eval.csv}; cells already there are skipped, so a run can be resumed or extended with
 * another grid), and every run rewrites {@code passkey.png} (heat maps) and {@code report.md} from all of them. The
 * loop order (length, trial, depth, profile) keeps partial runs balanced across profiles; {@code --max-minutes} stops
 * after the cell in progress.
 */
@Command(
        name = "long-context",
        mixinStandardHelpOptions = true,
        description = "Long-context evaluation of profiles against vanilla: teacher-forced metrics at given lengths and"
                + " passkey retrieval (accuracy per length and depth); CSV, Markdown and PNG heat maps in --out.")
public final class LongContextCommand implements Callable<Integer> {
    @Option(
            names = "--profile",
            required = true,
            paramLabel = "NAME=FILE",
            description = "A profile to evaluate under a name (repeatable; all on the same model; mode softmax is"
                    + " vanilla itself).")
    List<String> profiles;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Results directory.")
    Path out;

    @Option(
            names = "--eval-text",
            paramLabel = "NAME=FILE",
            description = "Texts for the teacher-forced comparison (<<<STORY>>>-separated; each text with enough"
                    + " tokens is cut to the length; repeatable).")
    List<String> evalTexts = List.of();

    @Option(
            names = "--eval-lengths",
            split = ",",
            paramLabel = "N",
            description = "Teacher-forced lengths in tokens, BOS included (default: none).")
    List<Integer> evalLengths = List.of();

    @Option(
            names = "--passkey-lengths",
            split = ",",
            paramLabel = "N",
            description = "Passkey prompt lengths in tokens (default: none).")
    List<Integer> passkeyLengths = List.of();

    @Option(
            names = "--depths",
            split = ",",
            defaultValue = "10,50,90",
            paramLabel = "PCT",
            description = "Passkey depths, percent of the filler (default ${DEFAULT-VALUE}).")
    List<Integer> depths;

    @Option(
            names = "--trials",
            defaultValue = "5",
            description = "Trials per length and depth (default ${DEFAULT-VALUE}).")
    int trials;

    @Option(names = "--seed", defaultValue = "7", description = "Seed of the passkeys (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(
            names = "--answer-tokens",
            defaultValue = "12",
            description = "Greedy tokens of the answer (default ${DEFAULT-VALUE}).")
    int answerTokens;

    @Option(
            names = "--reference-cache",
            paramLabel = "DIR",
            description = "Keep vanilla's teacher-forced logits here (4 bytes x vocabulary per token), so that a later"
                    + " run on the same tokens skips its vanilla pass.")
    Path referenceCache;

    @Option(
            names = "--max-minutes",
            defaultValue = "0",
            description = "Stop starting new cells after this many minutes (0 = no limit).")
    double maxMinutes;

    /** Tokens per progress line of a teacher-forced pass. */
    private static final int FEED_SLICE = 512;

    private long started;
    private String modelName; // the profiles' model, as written: part of the reference cache's key

    @Override
    public Integer call() throws IOException {
        started = System.nanoTime();
        Map<String, Profile> named = new LinkedHashMap<>();
        for (String spec : profiles) {
            String[] nf = nameValue(spec, "--profile");
            named.put(nf[0], ProfileLoader.load(Path.of(nf[1])));
        }
        Profile first = named.values().iterator().next();
        modelName = first.model().toString();
        Files.createDirectories(out);
        Path passkeyFile = out.resolve("passkey.csv");
        Path evalFile = out.resolve("eval.csv");
        List<PasskeyTrial> passkey = new ArrayList<>(
                Files.exists(passkeyFile)
                        ? LongContextReport.readPasskeyCsv(Files.readString(passkeyFile))
                        : List.of());
        List<EvalRow> eval = new ArrayList<>(
                Files.exists(evalFile) ? LongContextReport.readEvalCsv(Files.readString(evalFile)) : List.of());
        try (DiJiangModel vanilla = DiJiang.load(first.withMode(Mode.SOFTMAX), LongContextCommand::log)) {
            runEval(vanilla, named, eval, evalFile);
            runPasskey(vanilla, named, passkey, passkeyFile);
        } finally {
            writeReport(passkey, eval);
        }
        return 0;
    }

    /**
     * Teacher-forced: per corpus, one vanilla pass over the longest requested prefix of each text and one pass per
     * pending profile; the model is causal, so the metrics at every shorter length come from the same passes (the
     * logits of the first L positions of a longer sequence are those of its L-token prefix). Each profile's beyond
     * metrics start at its exact span and its long-range slice is its plan's ({@link Evaluator#exactSpan}, {@link
     * Evaluator#longRangeSlice}), as {@code eval} measures them. Rows are written after each profile.
     */
    private void runEval(DiJiangModel vanilla, Map<String, Profile> named, List<EvalRow> rows, Path file)
            throws IOException {
        Set<String> done = new HashSet<>(rows.stream().map(EvalRow::key).toList());
        List<Integer> lengths = evalLengths.stream().sorted().distinct().toList();
        if (lengths.isEmpty()) return;
        for (String spec : evalTexts) {
            String[] nf = nameValue(spec, "--eval-text");
            List<int[]> texts = new ArrayList<>();
            for (String text : StoryTexts.read(Path.of(nf[1]))) {
                int[] t = vanilla.encode(text, true);
                if (t.length >= lengths.get(0)) texts.add(Arrays.copyOf(t, Math.min(t.length, lengths.getLast())));
            }
            if (texts.isEmpty()) {
                log("no text of " + nf[0] + " has " + lengths.get(0) + " tokens; skipped");
                continue;
            }
            Map<String, Profile> pending = new LinkedHashMap<>();
            for (var p : named.entrySet()) {
                if (p.getValue().mode() == Mode.SOFTMAX) continue;
                for (int length : lengths) {
                    if (!done.contains(new EvalRow(p.getKey(), nf[0], length, 0, null, null, 0, null, 0).key())) {
                        pending.put(p.getKey(), p.getValue());
                    }
                }
            }
            if (pending.isEmpty()) continue;
            if (outOfTime()) return;
            List<float[][]> reference = new ArrayList<>();
            double referenceSeconds = 0;
            for (int[] t : texts) {
                long t0 = System.nanoTime();
                reference.add(referenceLogits(vanilla, t, nf[0]));
                referenceSeconds += (System.nanoTime() - t0) / 1e9;
            }
            for (var p : pending.entrySet()) {
                if (outOfTime()) return;
                long t0 = System.nanoTime();
                int n = lengths.size();
                Evaluator.Accumulator[][] acc = new Evaluator.Accumulator[n][3]; // all, beyond, long range
                for (Evaluator.Accumulator[] a : acc) for (int m = 0; m < 3; m++) a[m] = new Evaluator.Accumulator();
                int beyondFrom;
                LongRangeSlice slice;
                try (DiJiangModel mode = DiJiang.install(vanilla.jlama(), p.getValue())) {
                    beyondFrom = Evaluator.exactSpan(mode.installation(), p.getValue());
                    slice = Evaluator.longRangeSlice(mode.installation(), p.getValue());
                    for (int x = 0; x < texts.size(); x++) {
                        int[] tokens = texts.get(x);
                        float[][] logits = feed(mode, tokens, nf[0] + " " + p.getKey());
                        float[][] ref = reference.get(x);
                        boolean[] inSlice = slice.select(tokens);
                        List<Evaluator.Accumulator> into = new ArrayList<>();
                        for (int t = 0; t + 1 < tokens.length; t++) {
                            into.clear();
                            for (int l = 0; l < n; l++) {
                                int length = lengths.get(l); // positions t < L - 1 of texts of at least L tokens
                                if (t + 1 >= length || tokens.length < length) continue;
                                into.add(acc[l][0]);
                                if (t >= beyondFrom) into.add(acc[l][1]);
                                if (inSlice[t]) into.add(acc[l][2]);
                            }
                            if (!into.isEmpty()) Evaluator.compare(ref[t], logits[t], tokens[t + 1], into);
                        }
                    }
                }
                double seconds = referenceSeconds / pending.size() + (System.nanoTime() - t0) / 1e9;
                for (int l = 0; l < n; l++) {
                    EvalRow row = new EvalRow(
                            p.getKey(),
                            nf[0],
                            lengths.get(l),
                            beyondFrom,
                            acc[l][0].metrics(),
                            acc[l][1].metrics(),
                            seconds,
                            acc[l][2].metrics(),
                            slice.span());
                    if (row.all().tokens() == 0) continue;
                    sameText(rows, row, file, nf[1]);
                    if (!done.add(row.key())) continue;
                    rows.add(row);
                    log(String.format(
                            Locale.ROOT,
                            "  %s, %d tokens: ppl %.3f vs vanilla %.3f (x%.3f), KL %.4f, top-1 %.3f; long range"
                                    + " (%d positions) KL %.4f, top-1 %.3f",
                            p.getKey(),
                            lengths.get(l),
                            row.all().perplexity(),
                            row.all().perplexityReference(),
                            row.all().perplexityRatio(),
                            row.all().klMean(),
                            row.all().top1Agreement(),
                            row.longRange().tokens(),
                            row.longRange().klMean(),
                            row.longRange().top1Agreement()));
                }
                AtomicFiles.writeString(file, LongContextReport.evalCsv(rows));
                log(String.format(Locale.ROOT, "  (%.0f s, elapsed %.1f min)", seconds, minutes()));
            }
        }
    }

    /**
     * Refuses a row whose corpus already has rows of the same length measured on another text (vanilla's perplexity
     * differs): cells are skipped by profile, corpus and length alone, so a new text under an old name would sit in
     * one table with the old text's rows as if they were comparable.
     */
    private static void sameText(List<EvalRow> rows, EvalRow row, Path file, String textFile) {
        double now = row.all().perplexityReference();
        for (EvalRow old : rows) {
            if (!old.corpus().equals(row.corpus()) || old.length() != row.length()) continue;
            double then = old.all().perplexityReference();
            if (Math.abs(then - now) > 1e-4 * Math.max(then, now)) {
                throw new IllegalArgumentException(String.format(
                        Locale.ROOT,
                        "corpus '%s' of %s was measured on another text (vanilla perplexity %.4f at %d tokens, %.4f"
                                + " on %s): give this text another name (--eval-text OTHER=%s)",
                        row.corpus(),
                        file,
                        then,
                        row.length(),
                        now,
                        textFile,
                        textFile));
            }
        }
    }

    /**
     * Vanilla's logits of every position of {@code tokens}: read from {@code --reference-cache} when a run on the same
     * model and tokens wrote them, else computed (and written there).
     */
    private float[][] referenceLogits(DiJiangModel vanilla, int[] tokens, String corpus) throws IOException {
        if (referenceCache == null) return feed(vanilla, tokens, corpus + " vanilla");
        String key = Integer.toHexString(Arrays.hashCode(tokens)) + "-" + Integer.toHexString(modelName.hashCode());
        Path file = referenceCache.resolve("reference-" + corpus + "-" + tokens.length + "-" + key + ".f32");
        if (Files.isRegularFile(file)) {
            try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
                ByteBuffer header = ByteBuffer.allocate(8);
                while (header.hasRemaining() && in.read(header) >= 0) {}
                header.flip();
                int rows = header.getInt(), vocabulary = header.getInt();
                if (rows == tokens.length && in.size() == 8 + 4L * rows * vocabulary) {
                    float[][] out = new float[rows][vocabulary];
                    ByteBuffer row = ByteBuffer.allocate(4 * vocabulary);
                    for (float[] r : out) {
                        row.clear();
                        while (row.hasRemaining() && in.read(row) >= 0) {}
                        row.flip();
                        row.asFloatBuffer().get(r);
                    }
                    log("vanilla logits of " + corpus + " (" + rows + " tokens) read from " + file);
                    return out;
                }
            }
            log("ignoring " + file + ": not the logits of these tokens");
        }
        float[][] out = feed(vanilla, tokens, corpus + " vanilla");
        AtomicFiles.write(file, channel -> {
            ByteBuffer header = ByteBuffer.allocate(8).putInt(out.length).putInt(out[0].length);
            AtomicFiles.writeFully(channel, header.flip());
            ByteBuffer row = ByteBuffer.allocate(4 * out[0].length);
            for (float[] r : out) {
                row.clear();
                row.asFloatBuffer().put(r);
                AtomicFiles.writeFully(channel, row);
            }
        });
        return out;
    }

    /** Teacher-forced logits of every position of {@code tokens} in a fresh session, fed in slices for progress. */
    private float[][] feed(DiJiangModel model, int[] tokens, String what) {
        float[][] out = new float[tokens.length][];
        long t0 = System.nanoTime();
        try (Session s = model.newSession()) {
            for (int from = 0; from < tokens.length; from += FEED_SLICE) {
                int to = Math.min(tokens.length, from + FEED_SLICE);
                float[][] part = s.appendAll(Arrays.copyOfRange(tokens, from, to));
                System.arraycopy(part, 0, out, from, part.length);
                double seconds = (System.nanoTime() - t0) / 1e9;
                log(String.format(
                        Locale.ROOT,
                        "%s: %d/%d tokens, %.1f tokens/s (elapsed %.1f min)",
                        what,
                        to,
                        tokens.length,
                        to / seconds,
                        minutes()));
            }
        }
        return out;
    }

    private void runPasskey(DiJiangModel vanilla, Map<String, Profile> named, List<PasskeyTrial> trialsDone, Path file)
            throws IOException {
        if (passkeyLengths.isEmpty()) return;
        Set<String> done =
                new HashSet<>(trialsDone.stream().map(PasskeyTrial::key).toList());
        UnaryOperator<String> template = ChatTemplate.of(vanilla.jlama())
                .<UnaryOperator<String>>map(t -> user -> t.render(List.of(ChatTurn.user(user))))
                .orElse(UnaryOperator.identity());
        for (int length : passkeyLengths) {
            prefixes.clear(); // the states before the passkeys of the previous length serve no prompt of this one
            for (int trial = 0; trial < trials; trial++) {
                for (int depth : depths) {
                    int key = passkey(seed, length, depth, trial);
                    int[] tokens = passkeyTokens(vanilla, template, length, depth, key);
                    // the tokens before the passkey are those of every trial of this cell: fed once per profile
                    int shared =
                            commonPrefix(tokens, passkeyTokens(vanilla, template, length, depth, otherDigits(key)));
                    for (var p : named.entrySet()) {
                        PasskeyTrial probe = new PasskeyTrial(p.getKey(), length, depth, trial, 0, 0, 0, false, 0);
                        if (done.contains(probe.key())) continue;
                        if (outOfTime()) return;
                        long t0 = System.nanoTime();
                        String reply;
                        DiJiangModel model = p.getValue().mode() == Mode.SOFTMAX
                                ? vanilla
                                : DiJiang.install(vanilla.jlama(), p.getValue());
                        try (Session s = afterPrefix(model, p.getKey(), Arrays.copyOf(tokens, shared))) {
                            int[] rest = Arrays.copyOfRange(tokens, shared, tokens.length);
                            GenerationResult g = s.generate(rest, GenerationOptions.greedy(answerTokens), x -> {});
                            reply = g.text();
                        } finally {
                            if (model != vanilla) model.close();
                        }
                        double seconds = (System.nanoTime() - t0) / 1e9;
                        int answer = PasskeyAnswer.parse(reply).orElse(-1);
                        PasskeyTrial t = new PasskeyTrial(
                                p.getKey(), length, depth, trial, key, tokens.length, answer, answer == key, seconds);
                        trialsDone.add(t);
                        done.add(t.key());
                        AtomicFiles.writeString(file, LongContextReport.passkeyCsv(trialsDone));
                        log(String.format(
                                Locale.ROOT,
                                "passkey %d tokens (%d), depth %d%%, trial %d, %s: %s %s"
                                        + " (%.0f s, elapsed %.1f min)",
                                length,
                                tokens.length,
                                depth,
                                trial,
                                p.getKey(),
                                answer == key ? "OK" : "MISS",
                                reply.strip().replace('\n', ' '),
                                seconds,
                                minutes()));
                    }
                }
            }
        }
    }

    /** The token prefixes fed once per profile, with the session's state after them (the current length's). */
    private final List<Prefix> prefixes = new ArrayList<>();

    private record Prefix(String profile, int[] tokens, byte[] state) {}

    /**
     * A session of {@code model} that has been fed {@code head}: restored from the state recorded the first time this
     * profile was fed these tokens. A session restored from a snapshot continues exactly as the one snapshotted
     * (docs/DESIGN.md §5), so the answer is the one of a session fed the whole prompt; only the work differs.
     */
    Session afterPrefix(DiJiangModel model, String profile, int[] head) {
        if (head.length == 0) return model.newSession();
        for (Prefix p : prefixes) {
            if (p.profile.equals(profile) && Arrays.equals(p.tokens, head)) return model.restoreSession(p.state);
        }
        try (Session s = model.newSession()) {
            s.append(head);
            prefixes.add(new Prefix(profile, head, s.snapshot()));
        }
        return model.restoreSession(prefixes.getLast().state);
    }

    private static int[] passkeyTokens(
            DiJiangModel vanilla, UnaryOperator<String> template, int length, int depth, int key) {
        PasskeyPrompt prompt =
                PasskeyPrompt.build(length - 1, depth / 100.0, key, s -> vanilla.encode(s, false).length, template);
        return vanilla.encode(prompt.prompt(), true);
    }

    /** How many leading tokens {@code a} and {@code b} share. */
    static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }

    /** A five-digit number that differs from {@code key} in every digit (its prompt shares only what precedes it). */
    static int otherDigits(int key) {
        char[] digits = Integer.toString(key).toCharArray();
        for (int i = 0; i < digits.length; i++) digits[i] = digits[i] == '9' ? '1' : (char) (digits[i] + 1);
        return Integer.parseInt(new String(digits));
    }

    private void writeReport(List<PasskeyTrial> passkey, List<EvalRow> eval) {
        StringBuilder md = new StringBuilder();
        if (!eval.isEmpty()) {
            md.append(LongContextReport.evalMarkdown(eval)).append('\n');
            for (String corpus : new java.util.LinkedHashSet<>(
                    eval.stream().map(EvalRow::corpus).toList())) {
                try {
                    BenchReport.writePng(
                            out.resolve("eval-" + corpus + ".png"), LongContextReport.evalPlot(eval, corpus));
                } catch (IOException e) {
                    throw new IllegalStateException("cannot write the eval plot: " + e.getMessage(), e);
                }
            }
        }
        if (!passkey.isEmpty()) {
            md.append(LongContextReport.passkeyMarkdown(passkey));
            try {
                BenchReport.writePng(out.resolve("passkey.png"), LongContextReport.heatMaps(passkey, 3));
            } catch (IOException e) {
                throw new IllegalStateException("cannot write the heat maps: " + e.getMessage(), e);
            }
        }
        AtomicFiles.writeString(out.resolve("report.md"), md.toString());
        log("wrote " + out.resolve("report.md") + (eval.isEmpty() ? "" : ", eval-CORPUS.png")
                + (passkey.isEmpty() ? "" : ", passkey.png"));
    }

    /** The passkey of a cell: the same for every profile, 10000..99999. */
    static int passkey(long seed, int length, int depth, int trial) {
        long h = seed * 0x9E3779B97F4A7C15L + length * 0xBF58476D1CE4E5B9L + depth * 0x94D049BB133111EBL + trial;
        h ^= h >>> 31;
        h *= 0xD6E8FEB86659FD93L;
        h ^= h >>> 29;
        return 10000 + (int) Math.floorMod(h, 90000L);
    }

    private boolean outOfTime() {
        if (maxMinutes > 0 && minutes() >= maxMinutes) {
            log(String.format(Locale.ROOT, "time budget of %.1f minutes spent; stopping", maxMinutes));
            return true;
        }
        return false;
    }

    private double minutes() {
        return (System.nanoTime() - started) / 60e9;
    }

    private static String[] nameValue(String spec, String option) {
        int eq = spec.indexOf('=');
        if (eq <= 0 || eq == spec.length() - 1) {
            throw new IllegalArgumentException(option + " wants NAME=FILE, got '" + spec + "'");
        }
        return new String[] {spec.substring(0, eq), spec.substring(eq + 1)};
    }

    private static void log(String line) {
        System.err.println("long-context: " + line);
    }
}
