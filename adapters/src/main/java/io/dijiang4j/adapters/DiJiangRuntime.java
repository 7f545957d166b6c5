package io.dijiang4j.adapters;

import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.adapters.engine.InferenceSession;
import io.dijiang4j.adapters.state.LocalPrefixStateStore;
import io.dijiang4j.adapters.state.PrefixStateStore;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.dijiang4j.plugin.generation.Generator;
import io.dijiang4j.plugin.generation.Sampler;
import io.dijiang4j.plugin.generation.StepModel;
import io.dijiang4j.plugin.generation.TokenConstraint;
import io.dijiang4j.plugin.generation.Vocabulary;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * One loaded model shared by the adapters built on it. Requests run together (continuous batching,
 * docs/DESIGN.md §8): up to {@link Scheduling#maxActive()} sessions are decoded in shared forward passes, each pass advancing every
 * one of them by one token, while newcomers' prompts are prefilled in chunks between them; further requests wait in
 * arrival order. Each request still gets the answer it would get alone: its own session, sampler and stop rules,
 * only the forward passes are shared. The states at the ends of recent turns go to a {@link PrefixStateStore} for
 * prefix reuse (in this process by default; shared by replicas with
 * {@link io.dijiang4j.adapters.state.RedisPrefixStateStore}).
 *
 * <p>One copy of the weights serves every request: a Jlama model instance holds shared scratch buffers (one forward
 * pass at a time per instance), so the passes (each run by one of the waiting requests' threads) and every other
 * engine call (tokenizer, sessions, snapshots) take one engine lock.
 *
 * <p>{@link #generate} runs a request on the calling thread; {@link #submit} on a thread of its own and returns a
 * {@link Generation} that can be cancelled (a client that has gone).
 */
public final class DiJiangRuntime implements AutoCloseable {
    /** Checkpoints kept by default: the ends of the prompt and of the answer of the last two conversations. */
    public static final int DEFAULT_CHECKPOINTS = 4;

    private static final System.Logger LOG = System.getLogger(DiJiangRuntime.class.getName());

    private final InferenceEngine engine;
    private final ConversationStates states;
    private final ReentrantLock engineLock = new ReentrantLock();
    private final Vocabulary vocabulary;
    private final StepScheduler scheduler;
    private final Scheduling scheduling;
    private volatile GenerationResult lastResult;
    private final AtomicLong savedPrefixTokens = new AtomicLong();
    private boolean closed;

    public DiJiangRuntime(InferenceEngine engine) {
        this(engine, DEFAULT_CHECKPOINTS);
    }

    /** @param checkpoints saved states for prefix reuse (0 turns reuse off: every request prefills its whole prompt) */
    public DiJiangRuntime(InferenceEngine engine, int checkpoints) {
        this(engine, checkpoints, Scheduling.DEFAULT);
    }

    /**
     * @param checkpoints saved states for prefix reuse (0 turns reuse off: every request prefills its whole prompt)
     * @param scheduling how many sessions run together, how many requests wait, how prompts are prefilled
     */
    public DiJiangRuntime(InferenceEngine engine, int checkpoints, Scheduling scheduling) {
        this(engine, new LocalPrefixStateStore(checkpoints), scheduling);
    }

    /**
     * @param states where the states at the ends of turns are saved and looked up (closed with the runtime); a store
     *     shared by several runtimes on the same model lets a conversation continue on any of them
     */
    public DiJiangRuntime(InferenceEngine engine, PrefixStateStore states) {
        this(engine, states, Scheduling.DEFAULT);
    }

    /**
     * @param states where the states at the ends of turns are saved and looked up (closed with the runtime)
     * @param scheduling how many sessions run together, how many requests wait, how prompts are prefilled
     */
    public DiJiangRuntime(InferenceEngine engine, PrefixStateStore states, Scheduling scheduling) {
        if (engine == null) {
            throw new IllegalArgumentException("engine must not be null");
        }
        if (states == null) {
            throw new IllegalArgumentException("state store must not be null");
        }
        if (scheduling == null) {
            throw new IllegalArgumentException("scheduling must not be null");
        }
        this.engine = engine;
        this.states = new ConversationStates(states, engine);
        this.scheduling = scheduling;
        this.vocabulary = new Vocabulary() {
            @Override
            public String decode(int token) {
                return locked(() -> engine.decode(token));
            }

            @Override
            public boolean isEndToken(int token) {
                return locked(() -> engine.isEndToken(token));
            }

            @Override
            public String stableText(int token) {
                return locked(() -> engine.stableText(token));
            }
        };
        this.scheduler = new StepScheduler(engine, engineLock, scheduling);
    }

    /**
     * The runtime of the model a YAML profile describes.
     *
     * @throws io.dijiang4j.plugin.profile.ProfileException for a bad profile, naming the file, line and key
     */
    public static DiJiangRuntime load(Path profile, int checkpoints, Scheduling scheduling) {
        return new DiJiangRuntime(ProfileEngines.load(profile), checkpoints, scheduling);
    }

    public InferenceEngine engine() {
        return engine;
    }

    public Scheduling scheduling() {
        return scheduling;
    }

    /** The statistics of the last finished generation, or null before the first. */
    public GenerationResult lastResult() {
        return lastResult;
    }

    /** Requests holding a session now (decoding or prefilling). */
    public int activeSessions() {
        return scheduler.activeSessions();
    }

    /** Requests waiting for a session. */
    public int queuedRequests() {
        return scheduler.queuedRequests();
    }

    /**
     * Forward passes run so far, the session rows they advanced (rows / passes is the mean batch) and the nanoseconds
     * the passes took (over a wall time: the share of it the model was busy; the rest went to sampling, streaming and
     * hand-offs between passes).
     */
    public long[] passCounters() {
        return scheduler.passCounters();
    }

    /** Tokens prefilled so far by {@link #savePrefix} (work done after answers, off the clients' critical path). */
    public long savedPrefixTokens() {
        return savedPrefixTokens.get();
    }

    /** Bytes held in this process by the saved states of earlier turns. */
    public long cachedStateBytes() {
        return states.store().bytes();
    }

    /** Forgets the saved states: the next request prefills its whole prompt. */
    public void clearConversationCache() {
        states.store().clear();
    }

    /** Generates the continuation of a prompt already rendered as text, on the calling thread. */
    public GenerationResult generate(String prompt, GenerationOptions options, TextSink sink) {
        return generate(prompt, options, null, sink);
    }

    /** As {@link #generate(String, GenerationOptions, TextSink)}, picking only tokens {@code constraint} allows. */
    public GenerationResult generate(
            String prompt, GenerationOptions options, TokenConstraint constraint, TextSink sink) {
        long start = System.nanoTime();
        int[] promptTokens = encode(prompt);
        long encodeNanos = System.nanoTime() - start;
        GenerationResult result =
                generate(promptTokens, options, constraint, sink).withEncodeNanos(encodeNanos);
        lastResult = result;
        return result;
    }

    /**
     * Generates after {@code promptTokens} on the calling thread: waits for a session in arrival order, then runs
     * in the shared forward passes. An interrupt cancels it.
     *
     * @throws QueueFullException when the queue is full
     * @throws java.util.concurrent.CancellationException when the thread was interrupted
     */
    public GenerationResult generate(int[] promptTokens, GenerationOptions options, TextSink sink) {
        return generate(promptTokens, options, null, sink);
    }

    /**
     * As {@link #generate(int[], GenerationOptions, TextSink)}, picking only tokens {@code constraint} allows.
     *
     * @param constraint restricts the tokens picked (constrained decoding), or null
     */
    public GenerationResult generate(
            int[] promptTokens, GenerationOptions options, TokenConstraint constraint, TextSink sink) {
        checkPrompt(promptTokens);
        Generation generation = new Generation();
        StepScheduler.Slot slot = scheduler.reserve(generation::isCancelled);
        generation.attach(slot);
        return run(slot, promptTokens, options, constraint, sink);
    }

    /** {@link #submit(int[], GenerationOptions, TextSink)} for a prompt rendered as text (encoded on this thread). */
    public Generation submit(String prompt, GenerationOptions options, TextSink sink) {
        long start = System.nanoTime();
        int[] promptTokens = encode(prompt);
        long encodeNanos = System.nanoTime() - start;
        return submit(promptTokens, options, sink, encodeNanos);
    }

    /**
     * Starts a generation on a thread of its own and returns at once. A bad prompt or a full queue is refused here,
     * before anything starts; everything else (a sink that throws, a cancellation) completes the result
     * exceptionally. The sink is called from the generation's thread.
     *
     * @throws QueueFullException when the queue is full: the request was not started
     */
    public Generation submit(int[] promptTokens, GenerationOptions options, TextSink sink) {
        return submit(promptTokens, options, sink, 0);
    }

    private Generation submit(int[] promptTokens, GenerationOptions options, TextSink sink, long encodeNanos) {
        checkPrompt(promptTokens);
        Generation generation = new Generation();
        StepScheduler.Slot slot = scheduler.reserve(generation::isCancelled);
        generation.attach(slot);
        Thread.ofVirtual().name("dijiang-generation").start(() -> {
            try {
                GenerationResult result = run(slot, promptTokens, options, null, sink);
                if (encodeNanos > 0) {
                    result = result.withEncodeNanos(encodeNanos);
                    lastResult = result;
                }
                generation.complete(result);
            } catch (Throwable e) {
                generation.fail(e);
            }
        });
        return generation;
    }

    /**
     * Saves the state after {@code tokens} for prefix reuse, so that a later prompt that starts with them prefills
     * only the rest: restores the longest saved prefix of them and prefills the remainder in the shared passes, its
     * tokens behind the prompts of requests (a background slot). A server calls it once an answer is sent, with the
     * tokens its next prompt will start with: the conversation rendered with the answer as text, which need not
     * encode to the tokens generated (README "Serving"). Runs on a thread of its own and never fails: a full queue,
     * a closed runtime or an engine failure skips it (the next prompt then prefills more).
     *
     * @return the number of tokens it prefilled (0: that state was saved already, or it was skipped)
     */
    public CompletableFuture<Integer> savePrefix(int[] tokens) {
        CompletableFuture<Integer> done = new CompletableFuture<>();
        StepScheduler.Slot slot;
        try {
            if (tokens.length == 0 || tokens.length >= engine.positionLimit())
                return CompletableFuture.completedFuture(0);
            slot = scheduler.reserve(() -> false, true);
        } catch (IllegalStateException e) { // a full queue (QueueFullException) or a closed runtime
            return CompletableFuture.completedFuture(0);
        }
        Thread.ofVirtual().name("dijiang-save-prefix").start(() -> {
            int prefilled = 0;
            try (slot) {
                slot.awaitAdmission();
                ConversationStates.Opened opened = states.openAt(tokens, this::locked);
                InferenceSession session = opened.session();
                try {
                    int reused = opened.reusedTokens();
                    if (reused < tokens.length) {
                        slot.stepModel(session).prefill(Arrays.copyOfRange(tokens, reused, tokens.length));
                        remember(tokens, session);
                        prefilled = tokens.length - reused;
                    }
                } finally {
                    closeSession(session);
                }
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "saving the state of " + tokens.length + " tokens skipped: " + e);
            }
            savedPrefixTokens.addAndGet(prefilled);
            done.complete(prefilled);
        });
        return done;
    }

    private int[] encode(String prompt) {
        return locked(() -> engine.encodePrompt(prompt));
    }

    private void checkPrompt(int[] promptTokens) {
        if (promptTokens.length == 0) {
            throw new IllegalArgumentException("the prompt has no tokens");
        }
        int limit = engine.positionLimit();
        if (promptTokens.length >= limit) {
            throw new ContextLengthExceededException("the prompt has " + promptTokens.length
                    + " tokens but the model attends to at most " + limit
                    + " positions (use a dijiang or hybrid profile for an unbounded context)");
        }
    }

    /** One request from its slot (or place in the queue) to its result; the slot is freed however it ends. */
    private GenerationResult run(
            StepScheduler.Slot slot,
            int[] promptTokens,
            GenerationOptions options,
            TokenConstraint constraint,
            TextSink sink) {
        TextSink out = sink == null ? TextSink.NONE : sink;
        try (slot) {
            slot.awaitAdmission();
            long start = System.nanoTime();
            ConversationStates.Opened opened = states.open(promptTokens, this::locked);
            int reused = opened.reusedTokens();
            InferenceSession session = opened.session();
            try {
                StepModel stepped = slot.stepModel(session);
                float[] logits = stepped.prefill(Arrays.copyOfRange(promptTokens, reused, promptTokens.length));
                remember(promptTokens, session);
                long prefillNanos = System.nanoTime() - start;
                // no seed: a fresh one per request, so that a request never depends on what a cached state saw
                long seed = options.seed() != null
                        ? options.seed()
                        : ThreadLocalRandom.current().nextLong();
                GenerationResult result = Generator.decode(
                                stepped,
                                vocabulary,
                                logits,
                                options,
                                new Sampler(options, seed).constrainedBy(constraint),
                                Generator.LastToken.NOT_FED,
                                text -> {
                                    slot.checkLive(); // no text after a cancellation
                                    out.accept(text);
                                })
                        .withPrompt(promptTokens.length, reused, prefillNanos);
                int consumed = Math.toIntExact(session.position() - promptTokens.length);
                if (consumed > 0) {
                    int[] conversation = Arrays.copyOf(promptTokens, promptTokens.length + consumed);
                    for (int i = 0; i < consumed; i++)
                        conversation[promptTokens.length + i] = result.tokens().get(i);
                    remember(conversation, session);
                }
                lastResult = result;
                return result;
            } finally {
                closeSession(session);
            }
        }
    }

    private void closeSession(InferenceSession session) {
        engineLock.lock();
        try {
            if (!closed) session.close(); // closing the engine closed it
        } finally {
            engineLock.unlock();
        }
    }

    private void remember(int[] tokens, InferenceSession session) {
        states.remember(tokens, locked(session::snapshot));
    }

    private <T> T locked(Supplier<T> call) {
        engineLock.lock();
        try {
            if (closed) throw new IllegalStateException("the model was closed");
            return call.get();
        } finally {
            engineLock.unlock();
        }
    }

    /**
     * Refuses new requests, fails the queued ones and those between forward passes ("the model was closed"), waits
     * a few seconds for the running requests to leave, then closes the engine. A server that wants to finish its
     * requests in flight stops taking new ones and waits for them before closing.
     */
    @Override
    public void close() {
        scheduler.close();
        engineLock.lock();
        try {
            if (!closed) {
                closed = true;
                states.store().close();
                engine.close();
            }
        } finally {
            engineLock.unlock();
        }
    }
}
