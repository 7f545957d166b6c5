package io.dijiang4j.plugin.generation;

import com.github.tjake.jlama.safetensors.tokenizer.Tokenizer;
import com.github.tjake.jlama.safetensors.tokenizer.TokenizerModel;
import java.util.Collection;
import java.util.Optional;
import java.util.Set;

/**
 * A model's tokens: prompt encoding (the BOS token first where the model takes one, never twice), the text of a
 * token, and the end tokens. The one place that knows BOS and end tokens; prompts are encoded by {@link
 * FastBpeEncoder} where it reproduces the tokenizer exactly, else by Jlama's own (quadratic) encoder.
 */
public final class TokenCodec implements Vocabulary {
    private final Tokenizer tokenizer;
    private final int vocabularySize;
    private final Integer bos;
    private final Set<Integer> endTokens;
    private final Optional<FastBpeEncoder> fastEncoder;

    /**
     * @param bos the beginning-of-sequence token, or null when the model takes none
     * @param endTokens the tokens that end a generation
     */
    public TokenCodec(Tokenizer tokenizer, int vocabularySize, Integer bos, Collection<Integer> endTokens) {
        this.tokenizer = tokenizer;
        this.vocabularySize = vocabularySize;
        this.bos = bos;
        this.endTokens = Set.copyOf(endTokens);
        this.fastEncoder = FastBpeEncoder.of(tokenizer);
    }

    /** Whether prompts are encoded by {@link FastBpeEncoder} (else by Jlama's own encoder). */
    public boolean fastEncoding() {
        return fastEncoder.isPresent();
    }

    /**
     * Token ids of {@code text}; with {@code withBos} (and a model that takes one) the BOS token first, as Jlama's
     * generate does. A BOS the tokenizer puts first itself is dropped, so that it is never there twice.
     */
    public int[] encode(String text, boolean withBos) {
        long[] encoded = text.isEmpty()
                ? new long[0]
                : fastEncoder.map(f -> f.encode(text)).orElseGet(() -> tokenizer.encode(text));
        boolean addBos = withBos && bos != null;
        int skip = bos != null && encoded.length > 0 && encoded[0] == bos ? 1 : 0;
        int[] out = new int[encoded.length - skip + (addBos ? 1 : 0)];
        int o = 0;
        if (addBos) out[o++] = bos;
        for (int i = skip; i < encoded.length; i++) {
            if (encoded[i] < 0 || encoded[i] >= vocabularySize) {
                throw new IllegalArgumentException(
                        "token id " + encoded[i] + " outside the model vocabulary (0.." + (vocabularySize - 1) + ")");
            }
            out[o++] = (int) encoded[i];
        }
        return out;
    }

    /** {@code tokens} after the BOS token, where the model takes one (a sequence as the model saw it in training). */
    public int[] withBos(int[] tokens) {
        if (bos == null) return tokens.clone();
        int[] out = new int[tokens.length + 1];
        out[0] = bos;
        System.arraycopy(tokens, 0, out, 1, tokens.length);
        return out;
    }

    /** Text of one token, empty for special tokens. */
    @Override
    public String decode(int token) {
        if (tokenizer.getModel().isSpecialToken(token)) return "";
        return tokenizer.decode(token);
    }

    /**
     * A byte piece ({@code <0xNN>}) that Jlama's decoder buffers (identifier characters, and any byte after one, until
     * four are in: docs/JLAMA.md §4) has no text of its own; other byte pieces are their character.
     */
    @Override
    public String stableText(int token) {
        TokenizerModel model = tokenizer.getModel();
        if (model.isSpecialToken(token)) return "";
        String piece = model.byteFallback ? model.vocabLookup.inverse().get((long) token) : null;
        if (piece != null && piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">")) {
            char c = (char) Integer.parseInt(piece.substring(3, 5), 16);
            return Character.isUnicodeIdentifierPart(c) || c >= 0x80 ? null : Character.toString(c);
        }
        return tokenizer.decode(token);
    }

    @Override
    public boolean isEndToken(int token) {
        return endTokens.contains(token);
    }
}
