package io.dijiang4j.bench.longctx;

import java.util.function.ToIntFunction;
import java.util.function.UnaryOperator;

/**
 * A passkey-retrieval prompt (Mohtashami and Jaggi's landmark-attention test): a five-digit number hidden at a given
 * depth of repeated filler sentences, the question after the filler, the whole user message rendered through the
 * model's chat template (ending with the assistant's header). The filler and the question hold no digit, so the
 * number appears exactly once.
 *
 * @param prompt the rendered prompt (as fed to the model, BOS not included)
 * @param passkey the hidden number, 10000..99999
 * @param tokens the prompt's length in tokens as {@code tokenCount} counted it
 * @param fillerUnits filler sentences in all
 * @param unitsBefore filler sentences before the passkey sentence
 */
public record PasskeyPrompt(String prompt, int passkey, int tokens, int fillerUnits, int unitsBefore) {
    /** One filler unit (the original test's sentences). */
    public static final String FILLER =
            "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";

    /** The sentence that hides the passkey. */
    public static final String NEEDLE = "The pass key is %d. Remember it. ";

    /** The question at the end of the user message. */
    public static final String QUESTION = "What is the pass key? Answer with the five-digit number only.";

    public PasskeyPrompt {
        if (passkey < 10000 || passkey > 99999) throw new IllegalArgumentException("passkey must have 5 digits");
    }

    /**
     * Builds a prompt of about {@code targetTokens} tokens with the passkey after {@code depth} of the filler.
     *
     * @param targetTokens wanted prompt length in tokens, template included
     * @param depth where the passkey goes, as a fraction of the filler in [0, 1]
     * @param passkey the number to hide (5 digits)
     * @param tokenCount counts the tokens of a text (the model's encoder, without BOS)
     * @param template renders the user message as the prompt (the chat template; identity for a base model)
     */
    public static PasskeyPrompt build(
            int targetTokens,
            double depth,
            int passkey,
            ToIntFunction<String> tokenCount,
            UnaryOperator<String> template) {
        if (!(depth >= 0 && depth <= 1)) throw new IllegalArgumentException("depth must be in [0, 1], got " + depth);
        double perUnit = tokenCount.applyAsInt(FILLER.repeat(16)) / 16.0;
        int units = Math.max(0, (int)
                Math.round((targetTokens - tokenCount.applyAsInt(render(0, 0, passkey, template))) / perUnit));
        PasskeyPrompt best = null;
        for (int attempt = 0; attempt < 4; attempt++) { // tokens are not exactly additive: correct twice or so
            int before = (int) Math.round(depth * units);
            String prompt = render(units, before, passkey, template);
            PasskeyPrompt p = new PasskeyPrompt(prompt, passkey, tokenCount.applyAsInt(prompt), units, before);
            if (best == null || Math.abs(p.tokens - targetTokens) < Math.abs(best.tokens - targetTokens)) best = p;
            int correction = (int) Math.round((targetTokens - p.tokens) / perUnit);
            if (correction == 0) break;
            units = Math.max(0, units + correction);
        }
        return best;
    }

    private static String render(int units, int before, int passkey, UnaryOperator<String> template) {
        String user = "There is a pass key hidden in the following text. Find it and remember it.\n\n"
                + FILLER.repeat(before)
                + String.format(java.util.Locale.ROOT, NEEDLE, passkey)
                + FILLER.repeat(units - before)
                + "\n\n"
                + QUESTION;
        return template.apply(user);
    }

    /** Where the passkey sits in the filler, as a fraction (the requested depth, rounded to whole sentences). */
    public double actualDepth() {
        return fillerUnits == 0 ? 0 : (double) unitsBefore / fillerUnits;
    }
}
