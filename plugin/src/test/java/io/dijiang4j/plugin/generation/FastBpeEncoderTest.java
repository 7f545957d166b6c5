package io.dijiang4j.plugin.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import com.github.tjake.jlama.model.llama.LlamaTokenizer;
import io.dijiang4j.plugin.Stories260K;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The fast encoder gives Jlama's tokens exactly, on fresh random text (stories260K's tokenizer). */
class FastBpeEncoderTest {
    private static final String[] WORDS = {
        "Lily", "went", "to", "the", "park", ".", ",", "\n", "  ", "Tom", "said", "\"", "hello", "!", "big", "red",
        "ball", "1", "23", "\u00e9", "\u4f60", "-", "'s", "upon", "a", "time", "?", "dog", "jumped", "x"
    };

    @Test
    void sameTokensAsJlamaOnRandomText() {
        LlamaTokenizer jlama = new LlamaTokenizer(Stories260K.dir());
        FastBpeEncoder fast = FastBpeEncoder.of(jlama).orElseThrow();
        Random random = new Random(7);
        for (int round = 0; round < 60; round++) {
            StringBuilder text = new StringBuilder();
            int words = 1 + random.nextInt(round < 50 ? 40 : 400);
            for (int i = 0; i < words; i++) {
                if (random.nextInt(3) > 0) {
                    text.append(' ');
                }
                text.append(WORDS[random.nextInt(WORDS.length)]);
            }
            String sample = text.toString();
            assertArrayEquals(jlama.encode(sample), fast.encode(sample), sample);
        }
    }
}
