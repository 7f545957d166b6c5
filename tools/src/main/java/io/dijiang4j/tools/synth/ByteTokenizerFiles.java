package io.dijiang4j.tools.synth;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.dijiang4j.plugin.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tokenizer of the synthetic models: {@code <unk>}, {@code <s>}, {@code </s>}, then one token per byte value
 * 0..255 (id {@code 3 + b}), then {@code <pad_N>} fillers up to the vocabulary size.
 *
 * <p>Each byte token is the one-character string of code point {@code b} (ISO-8859-1) with {@code byte_fallback}
 * off, rather than the usual {@code <0xNN>} fallback tokens, because Jlama 0.8.4's LlamaTokenizer buffers fallback
 * bytes that are letters in groups of four when decoding, so {@code <0xNN>} text does not round-trip. With plain
 * character tokens every Latin-1 text (ASCII included) encodes to one token per character and decodes back exactly;
 * characters above U+00FF encode to {@code <unk>}.
 */
public final class ByteTokenizerFiles {

    public static final int UNK_ID = 0;
    public static final int BOS_ID = 1;
    public static final int EOS_ID = 2;
    /** Id of the token of byte value 0; byte {@code b} is {@code FIRST_BYTE_ID + b}. */
    public static final int FIRST_BYTE_ID = 3;
    /** Smallest vocabulary that holds the special and byte tokens. */
    public static final int MIN_VOCAB = FIRST_BYTE_ID + 256;

    /** Chat template: role tags, each message closed by EOS, and the assistant tag as generation prompt. */
    public static final String CHAT_TEMPLATE = "{% for message in messages %}<|{{ message['role'] }}|>\n"
            + "{{ message['content'] }}{{ eos_token }}\n{% endfor %}"
            + "{% if add_generation_prompt %}<|assistant|>\n{% endif %}";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ByteTokenizerFiles() {}

    /** Writes tokenizer.json and tokenizer_config.json into {@code dir}. */
    public static void write(int vocabSize, int contextLength, Path dir) throws IOException {
        if (vocabSize < MIN_VOCAB)
            throw new IllegalArgumentException(
                    "vocab size " + vocabSize + " < " + MIN_VOCAB + " (3 specials + 256 bytes)");
        Map<String, Object> vocab = new LinkedHashMap<>();
        vocab.put("<unk>", UNK_ID);
        vocab.put("<s>", BOS_ID);
        vocab.put("</s>", EOS_ID);
        for (int b = 0; b < 256; b++) vocab.put(Character.toString(b), FIRST_BYTE_ID + b);
        for (int id = MIN_VOCAB; id < vocabSize; id++) vocab.put("<pad_" + id + ">", id);

        List<Map<String, Object>> added = new ArrayList<>();
        added.add(special(UNK_ID, "<unk>"));
        added.add(special(BOS_ID, "<s>"));
        added.add(special(EOS_ID, "</s>"));

        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("dropout", null);
        model.put("unk_token", "<unk>");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        model.put("vocab", vocab);
        model.put("merges", List.of());

        Map<String, Object> tokenizer = new LinkedHashMap<>();
        tokenizer.put("version", "1.0");
        tokenizer.put("truncation", null);
        tokenizer.put("padding", null);
        tokenizer.put("added_tokens", added);
        tokenizer.put("normalizer", null);
        tokenizer.put("pre_tokenizer", null);
        tokenizer.put("post_processor", null);
        tokenizer.put("decoder", null);
        tokenizer.put("model", model);
        AtomicFiles.write(dir.resolve("tokenizer.json"), JSON.writeValueAsBytes(tokenizer));

        Map<String, Object> config = new LinkedHashMap<>();
        config.put("bos_token", "<s>");
        config.put("eos_token", "</s>");
        config.put("unk_token", "<unk>");
        config.put("add_bos_token", true);
        config.put("add_eos_token", false);
        config.put("legacy", false);
        config.put("model_max_length", contextLength);
        config.put("tokenizer_class", "LlamaTokenizer");
        config.put("chat_template", CHAT_TEMPLATE);
        AtomicFiles.write(dir.resolve("tokenizer_config.json"), JSON.writeValueAsBytes(config));
    }

    private static Map<String, Object> special(int id, String content) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("content", content);
        m.put("single_word", false);
        m.put("lstrip", false);
        m.put("rstrip", false);
        m.put("normalized", false);
        m.put("special", true);
        return m;
    }
}
