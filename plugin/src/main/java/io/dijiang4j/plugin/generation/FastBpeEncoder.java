package io.dijiang4j.plugin.generation;

import com.github.tjake.jlama.safetensors.tokenizer.BPETokenizer;
import com.github.tjake.jlama.safetensors.tokenizer.Tokenizer;
import com.github.tjake.jlama.safetensors.tokenizer.TokenizerModel;
import io.dijiang4j.attention.jlama.JlamaInternals;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.PriorityQueue;

/**
 * Jlama's BPE encoding, same result in O(n log n) instead of O(n^2). Jlama 0.8.4 rescans every pair of the whole
 * prompt (llama tokenizers have no pre-tokenizer, so the prompt is one piece) after each merge and formats strings
 * to look them up: about 5 s for 2000 tokens, which would hide the gain of prefix reuse on long conversations.
 *
 * <p>Same algorithm: merge the pair of lowest merge rank, the leftmost among equals, until no pair merges; here the
 * candidate pairs sit in a priority queue ordered by (rank, position) over a linked list of tokens, and stale entries
 * are skipped when popped. It reuses the tokenizer's own pre-tokenization, normalization and byte fallback
 * (protected methods, reached reflectively), and {@link #of} checks it against Jlama's encoder on sample text before
 * it is used: any difference and Jlama's encoder is kept.
 */
final class FastBpeEncoder {
    private static final String SAMPLE = "Once upon a time, there was a little girl named Lily.\nShe said: \"Hello!\""
            + " 1234 ... x-y_z \u00e9t\u00e9 \u4f60\u597d  two  spaces\n\nend";

    private final BPETokenizer tokenizer;
    private final TokenizerModel model;
    private final Method preProcess;
    private final Method decodeInternal;
    private final Method encodeCharacterAsToken;

    private FastBpeEncoder(BPETokenizer tokenizer) throws ReflectiveOperationException {
        this.tokenizer = tokenizer;
        this.model = tokenizer.getModel();
        this.preProcess = JlamaInternals.method(tokenizer.getClass(), "preProcess", String.class);
        this.decodeInternal = JlamaInternals.method(tokenizer.getClass(), "decodeInternal", long.class);
        this.encodeCharacterAsToken = JlamaInternals.method(tokenizer.getClass(), "encodeCharacterAsToken", byte.class);
    }

    /** The fast encoder for this tokenizer, or empty when it is not a BPE tokenizer this class reproduces exactly. */
    static Optional<FastBpeEncoder> of(Tokenizer tokenizer) {
        if (!(tokenizer instanceof BPETokenizer bpe) || bpe.getModel().merges == null) {
            return Optional.empty();
        }
        try {
            FastBpeEncoder fast = new FastBpeEncoder(bpe);
            for (String sample : List.of(SAMPLE, " " + SAMPLE, SAMPLE.repeat(3), "a", "")) {
                if (!Arrays.equals(fast.encode(sample), tokenizer.encode(sample))) {
                    return Optional.empty();
                }
            }
            return Optional.of(fast);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return Optional.empty();
        }
    }

    long[] encode(String raw) {
        List<Long> all = new ArrayList<>();
        for (String piece : tokenizer.tokenize(raw)) {
            if (model.addedTokens() != null && model.addedTokens().containsKey(piece)) {
                all.add(model.addedTokens().get(piece));
                continue;
            }
            long[] merged = merge(initialTokens(invoke(preProcess, piece)));
            for (long token : merged) {
                all.add(token);
            }
        }
        return all.stream().mapToLong(Long::longValue).toArray();
    }

    /** One token per code point, byte fallback or unknown token as in Jlama's encoder. */
    private long[] initialTokens(String sentence) {
        List<Long> tokens = new ArrayList<>();
        int[] codes = sentence.codePoints().toArray();
        for (int code : codes) {
            String c = Character.toString(code);
            Long id = model.vocabLookup.get(c);
            if (id != null) {
                tokens.add(id);
            } else if (model.byteFallback) {
                for (byte b : c.getBytes(StandardCharsets.UTF_8)) {
                    tokens.add((Long) invoke(encodeCharacterAsToken, b));
                }
            } else if (model.unkToken != null) {
                tokens.add(model.vocabLookup.get(model.unkToken));
            }
        }
        return tokens.stream().mapToLong(Long::longValue).toArray();
    }

    private record Candidate(long rank, int left, long leftToken, long rightToken, long merged) {}

    private long[] merge(long[] initial) {
        int n = initial.length;
        if (n < 2) {
            return initial;
        }
        long[] token = initial.clone();
        String[] text = new String[n];
        int[] next = new int[n];
        int[] prev = new int[n];
        boolean[] alive = new boolean[n];
        for (int i = 0; i < n; i++) {
            text[i] = invoke(decodeInternal, token[i]);
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
            alive[i] = true;
        }
        // nodes keep their first position, so (rank, left node) orders as Jlama's (rank, current index)
        PriorityQueue<Candidate> queue = new PriorityQueue<>(
                (a, b) -> a.rank != b.rank ? Long.compare(a.rank, b.rank) : Integer.compare(a.left, b.left));
        for (int i = 0; i + 1 < n; i++) {
            offer(queue, i, token[i], text[i], token[i + 1], text[i + 1]);
        }
        while (!queue.isEmpty()) {
            Candidate c = queue.poll();
            int left = c.left;
            int right = alive[left] ? next[left] : -1;
            if (right < 0 || token[left] != c.leftToken || token[right] != c.rightToken) {
                continue; // stale: one side was merged since
            }
            token[left] = c.merged;
            text[left] = invoke(decodeInternal, c.merged);
            alive[right] = false;
            next[left] = next[right];
            if (next[right] >= 0) {
                prev[next[right]] = left;
            }
            if (prev[left] >= 0) {
                offer(queue, prev[left], token[prev[left]], text[prev[left]], token[left], text[left]);
            }
            if (next[left] >= 0) {
                offer(queue, left, token[left], text[left], token[next[left]], text[next[left]]);
            }
        }
        long[] out = new long[n];
        int count = 0;
        for (int i = 0; i >= 0; i = next[i]) {
            out[count++] = token[i];
        }
        return Arrays.copyOf(out, count);
    }

    private void offer(
            PriorityQueue<Candidate> queue,
            int left,
            long leftToken,
            String leftText,
            long rightToken,
            String rightText) {
        Long rank = model.merges.get(leftText + " " + rightText);
        if (rank == null) {
            return;
        }
        Long merged = model.vocabLookup.get(leftText + rightText);
        if (merged != null) {
            queue.add(new Candidate(rank, left, leftToken, rightToken, merged));
        }
    }

    @SuppressWarnings("unchecked")
    private <T> T invoke(Method method, Object argument) {
        try {
            return (T) method.invoke(tokenizer, argument);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot call " + method.getName() + " of the Jlama tokenizer", e);
        }
    }
}
