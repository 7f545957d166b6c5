package io.dijiang4j.tools.eval;

import io.dijiang4j.plugin.io.AtomicFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Text files of several texts (stories), separated by a line {@value #SEPARATOR}. Texts are trimmed and empty ones
 * skipped; a file without separators is one text. Line endings are normalized to {@code \n} (a file written on
 * Windows reads the same).
 */
public final class StoryTexts {
    public static final String SEPARATOR = "<<<STORY>>>";

    private StoryTexts() {}

    /** The texts of {@code content}, in order. */
    public static List<String> parse(String content) {
        List<String> texts = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : content.replace("\r\n", "\n").replace('\r', '\n').split("\n", -1)) {
            if (line.strip().equals(SEPARATOR)) {
                add(texts, current);
                current.setLength(0);
            } else {
                current.append(line).append('\n');
            }
        }
        add(texts, current);
        return texts;
    }

    private static void add(List<String> texts, StringBuilder text) {
        String t = text.toString().strip();
        if (!t.isEmpty()) texts.add(t);
    }

    /** The separated form of {@code texts}, as {@link #write} writes it. */
    public static String format(List<String> texts) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < texts.size(); i++) {
            if (i > 0) out.append(SEPARATOR).append('\n');
            out.append(texts.get(i).strip()).append('\n');
        }
        return out.toString();
    }

    /**
     * Reads the texts of a file (UTF-8).
     *
     * @throws IllegalArgumentException when the file is missing, unreadable, not UTF-8 or holds no text
     */
    public static List<String> read(Path file) {
        String content;
        try {
            // a strict decoder: a binary or Latin-1 file is refused instead of read as replacement characters
            content = StandardCharsets.UTF_8
                    .newDecoder()
                    .decode(ByteBuffer.wrap(Files.readAllBytes(file)))
                    .toString();
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("text file " + file + " not found");
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("text file " + file + " is not UTF-8");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read text file " + file + ": " + e.getMessage());
        }
        List<String> texts = parse(content);
        if (texts.isEmpty()) throw new IllegalArgumentException("text file " + file + " holds no text");
        return texts;
    }

    /** Writes {@code texts} separated by {@value #SEPARATOR} lines, atomically (a temporary file, then a rename). */
    public static void write(Path file, List<String> texts) {
        AtomicFiles.writeString(file, format(texts));
    }
}
