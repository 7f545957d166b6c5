package io.dijiang4j.plugin.gguf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Rebuilds Hugging Face {@code tokenizer.json} and {@code tokenizer_config.json} from a GGUF's {@code tokenizer.ggml.*}
 * metadata, for the byte-level BPE vocabularies ({@code tokenizer.ggml.model = gpt2}) that Jlama's BPE tokenizer runs.
 *
 * <p>The pre-tokenizer comes from {@code tokenizer.ggml.pre} (llama.cpp's name for the model's split rules, see its
 * {@code llama-vocab.cpp}) and is written as {@code Split} steps with explicit regexes followed by a {@code ByteLevel}
 * step without its own regex: Jlama 0.8.4 ignores ByteLevel's {@code use_regex} (it never splits there) but applies
 * Split regexes, and Hugging Face tokenizers reads the same file the same way. {@code \s} is spelled out as the Unicode
 * White_Space set because Java's {@code \s} is ASCII-only while Hugging Face's (Oniguruma) is Unicode.
 */
final class GgufTokenizerFiles {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** Unicode White_Space, as a character-class body (no brackets). */
    private static final String WS =
            "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

    /** GPT-2's split (Hugging Face ByteLevel's use_regex pattern). */
    static final String GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" + WS + "\\p{L}\\p{N}]+|[" + WS
            + "]+(?![^" + WS + "])|[" + WS + "]+";

    /** Llama 3's split (tokenizer.ggml.pre = llama-bpe); digits in groups of up to three. */
    static final String LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^"
            + WS + "\\p{L}\\p{N}]+[\\r\\n]*|[" + WS + "]*[\\r\\n]+|[" + WS + "]+(?![^" + WS + "])|[" + WS + "]+";

    /** Qwen 2's split: as Llama 3's with single digits. */
    static final String QWEN2_REGEX = LLAMA3_REGEX.replace("\\p{N}{1,3}", "\\p{N}");

    /** Each digit on its own (Hugging Face {@code Digits(individual_digits=true)}). */
    static final String SINGLE_DIGIT_REGEX = "\\p{N}";

    // token types (llama.cpp's enum llama_token_type)
    static final int NORMAL = 1, CONTROL = 3, USER_DEFINED = 4;

    private GgufTokenizerFiles() {}

    /** The Split regexes, in order, for a {@code tokenizer.ggml.pre} value; a {@link GgufException} if unknown. */
    static List<String> splitRegexes(GgufFile gguf, String pre) {
        return switch (pre) {
            case "smollm", "starcoder", "refact", "codeshell" -> List.of(SINGLE_DIGIT_REGEX, GPT2_REGEX);
            case "gpt2", "gpt-2", "mpt", "olmo" -> List.of(GPT2_REGEX);
            case "llama-bpe", "llama3", "falcon3" -> List.of(LLAMA3_REGEX);
            case "qwen2" -> List.of(QWEN2_REGEX);
            default ->
                throw gguf.fail("tokenizer.ggml.pre is '" + pre + "', which this converter does not know"
                        + " (supported: smollm, starcoder, refact, codeshell, gpt2, mpt, olmo, llama-bpe, qwen2)");
        };
    }

    /** What the converter learned about the vocabulary, for config.json. */
    record Vocabulary(int size, int bosId, int eosId) {}

    /** Writes tokenizer.json and tokenizer_config.json into {@code dir}. */
    static Vocabulary write(GgufFile gguf, int contextLength, Path dir) throws IOException {
        String model = gguf.string("tokenizer.ggml.model");
        if (!model.equals("gpt2")) {
            throw gguf.fail("tokenizer.ggml.model is '" + model + "'; only byte-level BPE ('gpt2') can be converted"
                    + " (SentencePiece vocabularies such as 'llama' are not supported yet)");
        }
        List<String> tokens = gguf.strings("tokenizer.ggml.tokens");
        int[] types = gguf.has("tokenizer.ggml.token_type") ? gguf.ints("tokenizer.ggml.token_type") : null;
        if (types != null && types.length != tokens.size()) {
            throw gguf.fail("tokenizer.ggml.token_type has " + types.length + " entries, tokenizer.ggml.tokens "
                    + tokens.size());
        }
        List<String> merges = gguf.strings("tokenizer.ggml.merges");
        String pre = gguf.has("tokenizer.ggml.pre") ? gguf.string("tokenizer.ggml.pre") : "gpt2";
        List<String> regexes = splitRegexes(gguf, pre);

        int bos = tokenId(gguf, "tokenizer.ggml.bos_token_id", tokens.size());
        int eos = tokenId(gguf, "tokenizer.ggml.eos_token_id", tokens.size());
        int unk = tokenId(gguf, "tokenizer.ggml.unknown_token_id", tokens.size());
        int pad = tokenId(gguf, "tokenizer.ggml.padding_token_id", tokens.size());
        if (bos < 0 || eos < 0) {
            throw gguf.fail("lacks tokenizer.ggml.bos_token_id or tokenizer.ggml.eos_token_id");
        }

        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        ObjectNode addedDecoder = JSON.createObjectNode();
        for (int id = 0; id < tokens.size(); id++) {
            int type = types == null ? NORMAL : types[id];
            if (type != CONTROL && type != USER_DEFINED) continue;
            ObjectNode t = added.addObject();
            t.put("id", id);
            t.put("content", tokens.get(id));
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", type == USER_DEFINED);
            t.put("special", type == CONTROL);
            ObjectNode d = addedDecoder.putObject(Integer.toString(id));
            d.setAll((ObjectNode) t.deepCopy().without(List.of("id")));
        }
        root.putNull("normalizer");
        ObjectNode preTokenizer = root.putObject("pre_tokenizer");
        preTokenizer.put("type", "Sequence");
        ArrayNode steps = preTokenizer.putArray("pretokenizers");
        for (String regex : regexes) {
            ObjectNode split = steps.addObject();
            split.put("type", "Split");
            split.putObject("pattern").put("Regex", regex);
            split.put("behavior", "Isolated");
            split.put("invert", false);
        }
        byteLevel(steps.addObject(), false, true, false);
        byteLevel(root.putObject("post_processor"), false, false, false);
        byteLevel(root.putObject("decoder"), true, true, true);

        ObjectNode bpe = root.putObject("model");
        bpe.put("type", "BPE");
        bpe.putNull("dropout");
        if (unk >= 0) bpe.put("unk_token", tokens.get(unk));
        else bpe.putNull("unk_token");
        bpe.putNull("continuing_subword_prefix");
        bpe.putNull("end_of_word_suffix");
        bpe.put("fuse_unk", false);
        bpe.put("byte_fallback", false);
        bpe.put("ignore_merges", false);
        ObjectNode vocab = bpe.putObject("vocab");
        Set<String> seen = new HashSet<>();
        for (int id = 0; id < tokens.size(); id++) {
            String token = tokens.get(id);
            if (!seen.add(token)) {
                throw gguf.fail("tokenizer.ggml.tokens holds '" + token + "' twice (second at id " + id + ")");
            }
            vocab.put(token, id);
        }
        ArrayNode mergeList = bpe.putArray("merges");
        for (int i = 0; i < merges.size(); i++) {
            String m = merges.get(i);
            int space = m.indexOf(' ');
            if (space <= 0 || space == m.length() - 1 || m.indexOf(' ', space + 1) >= 0) {
                throw gguf.fail("tokenizer.ggml.merges[" + i + "] is '" + m + "', expected two tokens and one space");
            }
            mergeList.add(m);
        }
        Files.write(dir.resolve("tokenizer.json"), JSON.writeValueAsBytes(root));

        ObjectNode config = JSON.createObjectNode();
        config.put(
                "add_bos_token", gguf.has("tokenizer.ggml.add_bos_token") && gguf.bool("tokenizer.ggml.add_bos_token"));
        config.put(
                "add_eos_token", gguf.has("tokenizer.ggml.add_eos_token") && gguf.bool("tokenizer.ggml.add_eos_token"));
        config.set("added_tokens_decoder", addedDecoder);
        config.put("bos_token", tokens.get(bos));
        config.put("eos_token", tokens.get(eos));
        if (pad >= 0) config.put("pad_token", tokens.get(pad));
        if (unk >= 0) config.put("unk_token", tokens.get(unk));
        if (gguf.has("tokenizer.chat_template")) config.put("chat_template", gguf.string("tokenizer.chat_template"));
        config.put("clean_up_tokenization_spaces", false);
        config.put("model_max_length", contextLength);
        config.put("tokenizer_class", "GPT2Tokenizer");
        Files.write(dir.resolve("tokenizer_config.json"), JSON.writeValueAsBytes(config));
        return new Vocabulary(tokens.size(), bos, eos);
    }

    /** A Hugging Face ByteLevel step (pre-tokenizer, post-processor or decoder: they share the fields). */
    private static void byteLevel(ObjectNode node, boolean addPrefixSpace, boolean trimOffsets, boolean useRegex) {
        node.put("type", "ByteLevel");
        node.put("add_prefix_space", addPrefixSpace);
        node.put("trim_offsets", trimOffsets);
        node.put("use_regex", useRegex);
    }

    /** A token id from the metadata, -1 if absent; a {@link GgufException} if outside the vocabulary. */
    private static int tokenId(GgufFile gguf, String key, int vocabularySize) {
        if (!gguf.has(key)) return -1;
        long id = gguf.integer(key);
        if (id < 0 || id >= vocabularySize) {
            throw gguf.fail(key + " is " + id + ", outside the vocabulary of " + vocabularySize + " tokens");
        }
        return (int) id;
    }
}
