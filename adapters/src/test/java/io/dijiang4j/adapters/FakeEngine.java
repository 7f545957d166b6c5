package io.dijiang4j.adapters;

import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.adapters.engine.InferenceSession;
import io.dijiang4j.plugin.generation.ChatTurn;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * A deterministic toy model: tokens are the characters 'a'..'z' and ' ' (ids 3..29), BOS 1, EOS 2; the state is a
 * rolling hash of the consumed tokens (constant size, like a kernelized state) and the logits are a fixed function of
 * it. Counts the tokens it consumes so tests can see what prefix reuse saved.
 */
final class FakeEngine implements InferenceEngine {
    static final int VOCABULARY = 30;
    final AtomicInteger consumedTokens = new AtomicInteger();
    final AtomicInteger concurrentSessions = new AtomicInteger();
    volatile int maxConcurrentSessions;
    private final int positionLimit;

    FakeEngine() {
        this(Integer.MAX_VALUE);
    }

    FakeEngine(int positionLimit) {
        this.positionLimit = positionLimit;
    }

    @Override
    public String modelName() {
        return "fake";
    }

    @Override
    public int positionLimit() {
        return positionLimit;
    }

    @Override
    public int[] encodePrompt(String prompt) {
        int[] tokens = new int[prompt.length() + 1];
        tokens[0] = 1;
        for (int i = 0; i < prompt.length(); i++) {
            char c = prompt.charAt(i);
            tokens[i + 1] = c >= 'a' && c <= 'z' ? c - 'a' + 3 : 29;
        }
        return tokens;
    }

    @Override
    public String decode(int token) {
        if (token < 3) {
            return "";
        }
        return token == 29 ? " " : String.valueOf((char) ('a' + token - 3));
    }

    @Override
    public boolean isEndToken(int token) {
        return token == 2;
    }

    @Override
    public String renderChat(List<ChatTurn> turns) {
        return turns.stream().map(ChatTurn::text).collect(Collectors.joining(" ")) + " ";
    }

    @Override
    public InferenceSession openSession() {
        return new Session();
    }

    @Override
    public InferenceSession restoreSession(byte[] state) {
        if (state.length != 12) throw new IllegalArgumentException("not a fake state: " + state.length + " bytes");
        java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(state);
        Session session = new Session();
        session.hash = in.getLong();
        session.position = in.getInt();
        return session;
    }

    @Override
    public void close() {}

    private record State(long hash, int position) implements InferenceSession.Snapshot {
        @Override
        public byte[] bytes() {
            return java.nio.ByteBuffer.allocate(12)
                    .putLong(hash)
                    .putInt(position)
                    .array();
        }
    }

    private final class Session implements InferenceSession {
        long hash = 17;
        int position;
        boolean open = true;

        Session() {
            int now = concurrentSessions.incrementAndGet();
            synchronized (FakeEngine.this) {
                maxConcurrentSessions = Math.max(maxConcurrentSessions, now);
            }
        }

        @Override
        public long position() {
            return position;
        }

        @Override
        public long positionLimit() {
            return positionLimit;
        }

        @Override
        public float[] prefill(int[] tokens) {
            for (int token : tokens) {
                consume(token);
            }
            return logits();
        }

        @Override
        public float[] step(int token) {
            consume(token);
            return logits();
        }

        private void consume(int token) {
            if (!open) {
                throw new IllegalStateException("session closed");
            }
            if (position >= positionLimit) {
                throw new IllegalStateException("past the position limit");
            }
            hash = hash * 1_000_003L + token;
            position++;
            consumedTokens.incrementAndGet();
        }

        private float[] logits() {
            float[] logits = new float[VOCABULARY];
            long h = hash;
            for (int i = 0; i < VOCABULARY; i++) {
                h = h * 6364136223846793005L + 1442695040888963407L;
                logits[i] = (h >>> 40) / (float) (1 << 24) * 4f;
            }
            logits[0] = -100;
            logits[1] = -100;
            // ends after a while: the end-of-sequence logit grows with the position
            logits[2] = position % 23 == 0 ? 10 : -100;
            return logits;
        }

        @Override
        public Snapshot snapshot() {
            return new State(hash, position);
        }

        @Override
        public void close() {
            if (open) {
                open = false;
                concurrentSessions.decrementAndGet();
            }
        }
    }
}
