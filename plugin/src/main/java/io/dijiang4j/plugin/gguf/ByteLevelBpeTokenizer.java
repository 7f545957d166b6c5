package io.dijiang4j.plugin.gguf;

import com.github.tjake.jlama.model.llama.LlamaTokenizer;
import com.github.tjake.jlama.safetensors.tokenizer.TokenizerModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level BPE (GPT-2 style) over a {@code tokenizer.json}, correct for any Unicode text. Jlama 0.8.4's tokenizers
 * map each code point, not each UTF-8 byte, into GPT-2's byte alphabet, so every non-ASCII character is tokenized
 * (and decoded) wrongly: {@code é} should be the two byte-symbols {@code Ã©}. This class keeps Jlama's loading, added
 * (special) token splitting, Split pre-tokenizer and chat templates ({@link LlamaTokenizer}), and replaces the
 * byte mapping, the merge loop and decoding. Pre-tokenizer steps Jlama skips or gets wrong are done here as Hugging
 * Face does them: {@code ByteLevel} with {@code use_regex} splits with GPT-2's regex, {@code Digits} with
 * {@code individual_digits} splits every digit, so an original Hugging Face tokenizer.json works too. Decoding one id at a time (as Jlama's {@code generate} does) holds back
 * the bytes of a character split over several tokens until it is complete; like Jlama's own tokenizers, an instance
 * serves one generation at a time.
 */
public final class ByteLevelBpeTokenizer extends LlamaTokenizer {
    /** GPT-2's bytes_to_unicode: the code point standing for each byte. */
    private static final int[] BYTE_TO_SYMBOL = new int[256];

    private static final Map<Integer, Integer> SYMBOL_TO_BYTE = new java.util.HashMap<>();

    static {
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            BYTE_TO_SYMBOL[b] = printable ? b : 256 + n++;
            SYMBOL_TO_BYTE.put(BYTE_TO_SYMBOL[b], b);
        }
    }

    private static final int CACHE_LIMIT = 1 << 16;

    private static final java.util.regex.Pattern GPT2_SPLIT =
            java.util.regex.Pattern.compile(GgufTokenizerFiles.GPT2_REGEX);
    private static final java.util.regex.Pattern SINGLE_DIGIT =
            java.util.regex.Pattern.compile(GgufTokenizerFiles.SINGLE_DIGIT_REGEX);

    private final Map<String, long[]> cache = new ConcurrentHashMap<>();
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    /**
     * Whether {@code modelRoot/tokenizer.json} is a byte-level BPE vocabulary (GPT-2 style: a ByteLevel pre-tokenizer
     * or decoder, no byte fallback), the kind Jlama's own tokenizer gets wrong on non-ASCII text.
     */
    public static boolean isByteLevel(Path modelRoot) {
        Path file = modelRoot.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) return false;
        try {
            com.fasterxml.jackson.databind.JsonNode json =
                    new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile());
            if (!"BPE".equals(json.path("model").path("type").asText())) return false;
            if (json.path("model").path("byte_fallback").asBoolean(false)) return false;
            return "ByteLevel".equals(json.path("decoder").path("type").asText())
                    || json.path("pre_tokenizer").toString().contains("\"ByteLevel\"");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** Loads {@code modelRoot/tokenizer.json} (and tokenizer_config.json if present). */
    public ByteLevelBpeTokenizer(Path modelRoot) {
        super(modelRoot);
        if (model.byteFallback) {
            throw new IllegalArgumentException(modelRoot.resolve("tokenizer.json")
                    + ": byte_fallback is set; this is a SentencePiece-style vocabulary, not byte-level BPE");
        }
    }

    /** Splits off added (special) tokens, then applies the pre-tokenizer steps in order. */
    @Override
    public List<String> tokenize(String text) {
        List<String> pieces = new ArrayList<>();
        java.util.regex.Pattern added = model.addedTokenPattern();
        int start = 0;
        if (added != null) {
            java.util.regex.Matcher m = added.matcher(text);
            while (m.find()) {
                if (m.start() > start) pieces.addAll(preTokenize(text.substring(start, m.start())));
                pieces.add(m.group());
                start = m.end();
            }
        }
        if (start < text.length()) pieces.addAll(preTokenize(text.substring(start)));
        return pieces;
    }

    private List<String> preTokenize(String text) {
        var pre = model.preTokenizer();
        if (pre == null) return List.of(text);
        List<TokenizerModel.PretokenizerItem> steps = pre.pretokenizers;
        if (steps.isEmpty()) return pre.pretokenize(text); // a single step (Metaspace) Jlama handles itself
        List<String> pieces = List.of(text);
        for (TokenizerModel.PretokenizerItem step : steps) {
            List<String> next = new ArrayList<>();
            for (String piece : pieces) {
                switch (step.type) {
                    case "ByteLevel" ->
                        next.addAll(Boolean.FALSE.equals(step.use_regex) ? List.of(piece) : isolate(GPT2_SPLIT, piece));
                    case "Digits" ->
                        next.addAll(
                                Boolean.TRUE.equals(step.individual_digits)
                                        ? isolate(SINGLE_DIGIT, piece)
                                        : step.pretokenize(piece));
                    default -> next.addAll(step.pretokenize(piece));
                }
            }
            pieces = next;
        }
        return pieces;
    }

    /** Every match of {@code pattern} and every stretch between matches, in order (Hugging Face's "Isolated"). */
    private static List<String> isolate(java.util.regex.Pattern pattern, String text) {
        List<String> out = new ArrayList<>();
        java.util.regex.Matcher m = pattern.matcher(text);
        int start = 0;
        while (m.find()) {
            if (m.start() > start) out.add(text.substring(start, m.start()));
            if (m.end() > m.start()) out.add(m.group());
            start = m.end();
        }
        if (start < text.length()) out.add(text.substring(start));
        return out;
    }

    @Override
    public long[] encode(String text) {
        List<Long> ids = new ArrayList<>();
        for (String piece : tokenize(text)) {
            Long added = model.addedTokens().get(piece);
            if (added != null) {
                ids.add(added);
                continue;
            }
            if (cache.size() > CACHE_LIMIT) cache.clear(); // words repeat; a long stream of new ones must not grow it
            for (long id : cache.computeIfAbsent(piece, this::encodePiece)) ids.add(id);
        }
        long[] out = new long[ids.size()];
        for (int i = 0; i < out.length; i++) out[i] = ids.get(i);
        return out;
    }

    /** One pre-tokenized piece: its UTF-8 bytes as GPT-2 symbols, then merges by rank, lowest first. */
    private long[] encodePiece(String piece) {
        byte[] utf8 = piece.getBytes(StandardCharsets.UTF_8);
        List<String> symbols = new ArrayList<>(utf8.length);
        for (byte b : utf8) symbols.add(Character.toString(BYTE_TO_SYMBOL[b & 0xFF]));
        while (symbols.size() > 1) {
            int best = -1;
            long bestRank = Long.MAX_VALUE;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Long rank = model.merges.get(symbols.get(i) + " " + symbols.get(i + 1));
                if (rank != null && rank < bestRank) { // strict: the leftmost of equal ranks, as Hugging Face does
                    bestRank = rank;
                    best = i;
                }
            }
            if (best < 0) break;
            symbols.set(best, symbols.get(best) + symbols.remove(best + 1));
        }
        long[] ids = new long[symbols.size()];
        for (int i = 0; i < ids.length; i++) {
            Long id = model.vocabLookup.get(symbols.get(i));
            if (id == null) {
                Long unk = model.unkToken == null ? null : model.vocabLookup.get(model.unkToken);
                if (unk == null) {
                    throw new IllegalArgumentException(
                            "symbol '" + symbols.get(i) + "' is not in the vocabulary, which has no unknown token");
                }
                id = unk;
            }
            ids[i] = id;
        }
        return ids;
    }

    /**
     * The text of one more token, continuing the previous calls: bytes of a character not yet complete are held back
     * and come out with the token that completes it.
     */
    @Override
    public String decode(long id) {
        String token = model.vocabLookup.inverse().get(id);
        if (token == null) throw new IllegalArgumentException("token id " + id + " is not in the vocabulary");
        if (model.addedTokens().containsKey(token)) return flush() + token;
        for (int i = 0; i < token.length(); ) {
            int cp = token.codePointAt(i);
            Integer b = SYMBOL_TO_BYTE.get(cp);
            if (b != null) {
                pending.write(b);
            } else { // not a byte symbol (cannot happen in a GPT-2 vocabulary): keep the character as is
                byte[] raw = Character.toString(cp).getBytes(StandardCharsets.UTF_8);
                pending.write(raw, 0, raw.length);
            }
            i += Character.charCount(cp);
        }
        return completeCharacters();
    }

    @Override
    public String decode(long[] ids) {
        StringBuilder s = new StringBuilder(flush());
        for (long id : ids) s.append(decode(id));
        return s.append(flush()).toString();
    }

    /** Decodes the pending bytes up to the last complete character; keeps an incomplete tail. */
    private String completeCharacters() {
        byte[] bytes = pending.toByteArray();
        CharsetDecoder decoder = StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length + 1);
        CoderResult r = decoder.decode(in, out, false); // false: an incomplete sequence at the end stays in `in`
        if (r.isError()) throw new IllegalStateException("UTF-8 decoding: " + r);
        pending.reset();
        pending.write(bytes, in.position(), in.remaining());
        return out.flip().toString();
    }

    /** Everything pending, an incomplete character as U+FFFD. */
    private String flush() {
        if (pending.size() == 0) return "";
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPLACE)
                    .decode(ByteBuffer.wrap(pending.toByteArray()))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new IllegalStateException(e);
        } finally {
            pending.reset();
        }
    }
}
