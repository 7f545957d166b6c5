package io.dijiang4j.tools.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoryTextsTest {
    @TempDir
    Path temp;

    @Test
    void aFileWithoutSeparatorsIsOneTrimmedText() {
        assertEquals(
                List.of("Once upon a time.\n\nThe end."), StoryTexts.parse("\n  Once upon a time.\n\nThe end.\n\n"));
    }

    @Test
    void separatorsSplitAndEmptyPartsAreSkipped() {
        String content = "<<<STORY>>>\nfirst one\n<<<STORY>>>\n   \n<<<STORY>>>\nsecond\nline two\n<<<STORY>>>  \n";
        assertEquals(List.of("first one", "second\nline two"), StoryTexts.parse(content));
    }

    @Test
    void windowsLineEndingsReadAsNewlines() {
        String content = "Tom ran.\r\nHe fell.\r\n<<<STORY>>>\r\nLily sang.\r\n";
        assertEquals(List.of("Tom ran.\nHe fell.", "Lily sang."), StoryTexts.parse(content));
    }

    @Test
    void theSeparatorInsideALineIsText() {
        assertEquals(List.of("a <<<STORY>>> b"), StoryTexts.parse("a <<<STORY>>> b\n"));
    }

    @Test
    void writeThenReadGivesTheTextsBack() throws Exception {
        List<String> texts = List.of("One day, a cat.", "Two\nlines here.", "Ünïcödé ✓");
        Path file = temp.resolve("sub/texts.txt");
        StoryTexts.write(file, texts);
        assertEquals(texts, StoryTexts.read(file));
        String content = Files.readString(file, StandardCharsets.UTF_8);
        assertEquals(2, content.lines().filter(StoryTexts.SEPARATOR::equals).count(), content);
        try (var left = Files.list(file.getParent())) {
            assertEquals(1, left.count(), "no temporary file left beside the output");
        }
    }

    @Test
    void missingEmptyAndBinaryFilesAreRefusedWithOneLine() throws Exception {
        IllegalArgumentException missing =
                assertThrows(IllegalArgumentException.class, () -> StoryTexts.read(temp.resolve("nope.txt")));
        assertTrue(missing.getMessage().contains("not found"), missing.getMessage());
        Path empty = Files.writeString(temp.resolve("empty.txt"), "\n<<<STORY>>>\n  \n");
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> StoryTexts.read(empty));
        assertTrue(none.getMessage().contains("holds no text"), none.getMessage());
        Path binary = Files.write(temp.resolve("binary.txt"), new byte[] {(byte) 0xff, (byte) 0xfe, 0x41});
        IllegalArgumentException notUtf8 = assertThrows(IllegalArgumentException.class, () -> StoryTexts.read(binary));
        assertTrue(notUtf8.getMessage().contains("not UTF-8"), notUtf8.getMessage());
    }
}
