package io.dijiang4j.adapters;

import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.adapters.engine.InferenceSession;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import io.dijiang4j.plugin.generation.Generator;
import io.dijiang4j.plugin.generation.Sampler;
import io.dijiang4j.plugin.generation.TokenConstraint;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One loaded model shared by the adapters built on it: generations run one at a time (a fair lock, so concurrent
 * callers are served in arrival order and get the answers they would get alone), and the states at the ends of
 * recent turns are kept for prefix reuse.
 *
 * <p>Requests are serialized rather than pooled because a Jlama model instance holds shared scratch buffers
 * (one forward pass at a time per instance), and because a second copy of the weights would double the memory.
 */
public final class DiJiangRuntime implements AutoCloseable {
    /** Checkpoints kept by default: the ends of the prompt and of the answer of the last two conversations. */
    public static final int DEFAULT_CHECKPOINTS = 4;

    private final InferenceEngine engine;
    private final ConversationCache cache;
    private final ReentrantLock lock = new ReentrantLock(true);
    private volatile GenerationResult lastResult;
    private boolean closed;

    public DiJiangRuntime(InferenceEngine engine) {
        this(engine, DEFAULT_CHECKPOINTS);
    }

    /** @param checkpoints saved states for prefix reuse (0 turns reuse off: every request prefills its whole prompt) */
    public DiJiangRuntime(InferenceEngine engine, int checkpoints) {
        if (engine == null) {
            throw new IllegalArgumentException("engine must not be null");
        }
        this.engine = engine;
        this.cache = new ConversationCache(checkpoints);
    }

    public InferenceEngine engine() {
        return engine;
    }

    /** The statistics of the last finished generation, or null before the first. */
    public GenerationResult lastResult() {
        return lastResult;
    }

    /** Bytes held by the saved states of earlier turns. */
    public long cachedStateBytes() {
        lock.lock();
        try {
            return cache.bytes();
        } finally {
            lock.unlock();
        }
    }

    /** Forgets the saved states: the next request prefills its whole prompt. */
    public void clearConversationCache() {
        lock.lock();
        try {
            cache.clear();
        } finally {
            lock.unlock();
        }
    }

    /** Generates the continuation of a prompt already rendered as text. */
    public GenerationResult generate(String prompt, GenerationOptions options, TextSink sink) {
        return generate(prompt, options, null, sink);
    }

    /** As {@link #generate(String, GenerationOptions, TextSink)}, picking only tokens {@code constraint} allows. */
    public GenerationResult generate(
            String prompt, GenerationOptions options, TokenConstraint constraint, TextSink sink) {
        long start = System.nanoTime();
        int[] promptTokens;
        lock.lock(); // the engine's tokenizer is not thread-safe either
        try {
            promptTokens = engine.encodePrompt(prompt);
        } finally {
            lock.unlock();
        }
        long encodeNanos = System.nanoTime() - start;
        GenerationResult result =
                generate(promptTokens, options, constraint, sink).withEncodeNanos(encodeNanos);
        lastResult = result;
        return result;
    }

    public GenerationResult generate(int[] promptTokens, GenerationOptions options, TextSink sink) {
        return generate(promptTokens, options, null, sink);
    }

    /** @param constraint restricts the tokens picked (constrained decoding), or null */
    public GenerationResult generate(
            int[] promptTokens, GenerationOptions options, TokenConstraint constraint, TextSink sink) {
        if (promptTokens.length == 0) {
            throw new IllegalArgumentException("the prompt has no tokens");
        }
        int limit = engine.positionLimit();
        if (promptTokens.length >= limit) {
            throw new ContextLengthExceededException("the prompt has " + promptTokens.length
                    + " tokens but the model attends to at most " + limit
                    + " positions (use a dijiang or hybrid profile for an unbounded context)");
        }
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the model was closed");
            }
            GenerationResult result =
                    generateLocked(promptTokens, options, constraint, sink == null ? TextSink.NONE : sink);
            lastResult = result;
            return result;
        } finally {
            lock.unlock();
        }
    }

    private GenerationResult generateLocked(
            int[] promptTokens, GenerationOptions options, TokenConstraint constraint, TextSink sink) {
        long start = System.nanoTime();
        ConversationCache.Checkpoint reuse = cache.longestPrefixOf(promptTokens);
        int reused = reuse == null ? 0 : reuse.tokens().length;
        try (InferenceSession session =
                reuse == null ? engine.openSession() : engine.restoreSession(reuse.snapshot())) {
            float[] logits = session.prefill(Arrays.copyOfRange(promptTokens, reused, promptTokens.length));
            cache.remember(promptTokens, session.snapshot());
            long prefillNanos = System.nanoTime() - start;
            // no seed: a fresh one per request, so that a request never depends on what a cached state saw
            long seed = options.seed() != null
                    ? options.seed()
                    : ThreadLocalRandom.current().nextLong();
            GenerationResult result = Generator.decode(
                            session,
                            engine,
                            logits,
                            options,
                            new Sampler(options, seed).constrainedBy(constraint),
                            Generator.LastToken.NOT_FED,
                            sink::accept)
                    .withPrompt(promptTokens.length, reused, prefillNanos);
            int consumed = Math.toIntExact(session.position() - promptTokens.length);
            if (consumed > 0) {
                int[] conversation = Arrays.copyOf(promptTokens, promptTokens.length + consumed);
                for (int i = 0; i < consumed; i++)
                    conversation[promptTokens.length + i] = result.tokens().get(i);
                cache.remember(conversation, session.snapshot());
            }
            return result;
        }
    }

    @Override
    public void close() {
        lock.lock();
        try {
            if (!closed) {
                closed = true;
                cache.clear();
                engine.close();
            }
        } finally {
            lock.unlock();
        }
    }
}
