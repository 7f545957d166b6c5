package io.dijiang4j.attention.jlama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.llama.LlamaTokenizer;
import com.github.tjake.jlama.safetensors.tokenizer.BPETokenizer;
import java.lang.reflect.Method;
import org.junit.jupiter.api.Test;

class JlamaInternalsTest {
    @Test
    void theJlamaOnTheClassPathIsTheSupportedOneAndItsInternalsAreFound() {
        assertEquals(JlamaInternals.SUPPORTED, JlamaInternals.jlamaVersion());
        JlamaInternals.check(); // every field and method looked up: a renamed one fails here, naming it
    }

    @Test
    void protectedTokenizerStepsAreFoundInSuperclasses() throws Exception {
        Method m = JlamaInternals.method(LlamaTokenizer.class, "encodeCharacterAsToken", byte.class);
        assertTrue(m.getDeclaringClass().isAssignableFrom(LlamaTokenizer.class), m.toString());
        NoSuchMethodException e = assertThrows(
                NoSuchMethodException.class, () -> JlamaInternals.method(BPETokenizer.class, "noSuchStep", long.class));
        assertEquals("method BPETokenizer.noSuchStep not found", e.getMessage());
    }

    @SuppressWarnings("unused")
    private static final class Holder {
        private final String name = "x";
        private AbstractModel model;
    }

    @Test
    void aHolderWithoutAModelIsOneClearError() {
        assertEquals(
                JlamaInternalsTest.Holder.class.getName() + ".model is null",
                assertThrows(IllegalStateException.class, () -> JlamaInternals.modelInside(new Holder()))
                        .getMessage());
        assertTrue(assertThrows(IllegalStateException.class, () -> JlamaInternals.modelInside("text"))
                .getMessage()
                .startsWith("no Jlama AbstractModel field in java.lang.String"));
    }
}
