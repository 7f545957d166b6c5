package io.dijiang4j.plugin.generation;

/** What the decode loop needs of a tokenizer: the text of a token and which tokens end a generation. */
public interface Vocabulary {
    /** Text of one generated token; empty for special tokens that carry no text. */
    String decode(int token);

    /** Whether this token ends a generation (an end-of-sequence token of the model). */
    boolean isEndToken(int token);

    /**
     * The text a token adds whatever came before it, or null where {@link #decode} depends on the tokens before
     * (constrained decoding allows only tokens whose text it knows in advance).
     */
    default String stableText(int token) {
        return decode(token);
    }
}
