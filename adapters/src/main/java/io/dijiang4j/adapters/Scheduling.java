package io.dijiang4j.adapters;

import java.time.Duration;

/**
 * How a {@link DiJiangRuntime} schedules its requests (continuous batching, docs/DESIGN.md §8).
 *
 * @param maxActive sessions decoded together: each forward pass advances every active session by one token (background
 *     work, such as saving a conversation's state for its next turn, holds sessions of its own: as many again at most)
 * @param maxQueued requests waiting for a free session beyond those, served in arrival order; one more is refused
 *     with {@link QueueFullException}
 * @param prefillChunk prompt tokens prefilled per forward pass while no active session is decoding
 * @param decodingPrefill prompt tokens prefilled per forward pass beside the decode rows of sessions that are
 *     generating: a prompt token costs a pass about as much as a decode row (a matrix product row each), so this
 *     bounds how much a newcomer's prompt slows the running streams (their time per output token), at the price of
 *     the newcomer's time to first token
 * @param linger how long a forward pass waits for the active sessions that have not yet asked for their next token
 *     (sampling and streaming run on each request's own thread), so that they share the pass; a quarter of the
 *     last pass's time when that is longer (on a slow model or a busy machine, waking threads takes longer too)
 */
public record Scheduling(int maxActive, int maxQueued, int prefillChunk, int decodingPrefill, Duration linger) {
    /**
     * 16 active sessions, 256 waiting, prompts prefilled 128 tokens per pass, 64 beside decode rows (README
     * "Serving": on the small shape, 64 gave more throughput than 16 at no worse time per token, and 128 made the
     * running streams' time per token 10x that of a lone stream), 5 ms linger (a thread woken on a busy machine can
     * take milliseconds to run: a shorter linger splits the passes there).
     */
    public static final Scheduling DEFAULT = new Scheduling(16, 256, 128, 64, Duration.ofMillis(5));

    /** One request at a time, in arrival order: what the runtime did before it batched sessions. */
    public static Scheduling serial() {
        return DEFAULT.withMaxActive(1);
    }

    public Scheduling {
        if (maxActive < 1) throw new IllegalArgumentException("maxActive must be >= 1, got " + maxActive);
        if (maxQueued < 0) throw new IllegalArgumentException("maxQueued must be >= 0, got " + maxQueued);
        if (prefillChunk < 1) throw new IllegalArgumentException("prefillChunk must be >= 1, got " + prefillChunk);
        if (decodingPrefill < 1) {
            throw new IllegalArgumentException("decodingPrefill must be >= 1, got " + decodingPrefill);
        }
        if (linger == null || linger.isNegative()) throw new IllegalArgumentException("linger must be >= 0");
    }

    public Scheduling withMaxActive(int n) {
        return new Scheduling(n, maxQueued, prefillChunk, decodingPrefill, linger);
    }

    public Scheduling withMaxQueued(int n) {
        return new Scheduling(maxActive, n, prefillChunk, decodingPrefill, linger);
    }

    public Scheduling withPrefillChunk(int n) {
        return new Scheduling(maxActive, maxQueued, n, decodingPrefill, linger);
    }

    public Scheduling withDecodingPrefill(int n) {
        return new Scheduling(maxActive, maxQueued, prefillChunk, n, linger);
    }

    public Scheduling withLinger(Duration d) {
        return new Scheduling(maxActive, maxQueued, prefillChunk, decodingPrefill, d);
    }
}
