package io.dijiang4j.adapters;

import dev.langchain4j.model.output.FinishReason;
import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.adapters.engine.InferenceSession;
import java.util.Random;
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
        long start = System.nanoTime();
        int[] promptTokens;
        lock.lock(); // the engine's tokenizer is not thread-safe either
        try {
            promptTokens = engine.encodePrompt(prompt);
        } finally {
            lock.unlock();
        }
        long encodeNanos = System.nanoTime() - start;
        GenerationResult result = generate(promptTokens, options, sink).withEncodeNanos(encodeNanos);
        lastResult = result;
        return result;
    }

    public GenerationResult generate(int[] promptTokens, GenerationOptions options, TextSink sink) {
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
            GenerationResult result = generateLocked(promptTokens, options, sink == null ? TextSink.NONE : sink);
            lastResult = result;
            return result;
        } finally {
            lock.unlock();
        }
    }

    private GenerationResult generateLocked(int[] promptTokens, GenerationOptions options, TextSink sink) {
        long start = System.nanoTime();
        ConversationCache.Checkpoint reuse = cache.longestPrefixOf(promptTokens);
        int reused = reuse == null ? 0 : reuse.tokens().length;
        try (InferenceSession session =
                reuse == null ? engine.openSession() : engine.restoreSession(reuse.snapshot())) {
            int[] rest = java.util.Arrays.copyOfRange(promptTokens, reused, promptTokens.length);
            float[] logits = session.prefill(rest);
            cache.remember(promptTokens, session.snapshot());
            long prefillEnd = System.nanoTime();

            Random random = options.seed() != null
                    ? new Random(options.seed())
                    : new Random(ThreadLocalRandom.current().nextLong());
            TokenSampler sampler = new TokenSampler(options, random);
            StopSequenceFilter text = new StopSequenceFilter(options.stopSequences(), sink);
            int limit = engine.positionLimit();
            int maxOutput = options.maxOutputTokens() == null ? Integer.MAX_VALUE : options.maxOutputTokens();
            int[] fed = new int[Math.min(64, maxOutput)];
            int generated = 0;
            FinishReason reason;
            while (true) {
                int next = sampler.sample(logits);
                generated++;
                if (engine.isEndOfSequence(next)) {
                    reason = FinishReason.STOP;
                    break;
                }
                if (text.append(engine.decodeToken(next))) {
                    reason = FinishReason.STOP;
                    break;
                }
                if (generated >= maxOutput || session.position() >= limit) {
                    reason = FinishReason.LENGTH;
                    break;
                }
                logits = session.append(next);
                if (generated > fed.length) {
                    fed = java.util.Arrays.copyOf(fed, fed.length * 2);
                }
                fed[generated - 1] = next;
            }
            text.finish();
            int consumed = session.position() - promptTokens.length;
            if (consumed > 0) {
                int[] conversation = java.util.Arrays.copyOf(promptTokens, promptTokens.length + consumed);
                System.arraycopy(fed, 0, conversation, promptTokens.length, consumed);
                cache.remember(conversation, session.snapshot());
            }
            long end = System.nanoTime();
            return new GenerationResult(
                    text.text(),
                    reason,
                    promptTokens.length,
                    reused,
                    generated,
                    prefillEnd - start,
                    end - prefillEnd,
                    0);
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
