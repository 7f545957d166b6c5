package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.service.AiServices;
import io.dijiang4j.adapters.DiJiangChatModel;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An AiServices method returning a record, on stories260K (a 260K-parameter story model that has never seen JSON):
 * the chat model declares JSON schema output, AiServices asks for the record's schema, and constrained decoding
 * makes every answer parse into the record, greedy and sampled.
 */
class JsonModeIT {
    @TempDir
    Path temp;

    record Character(String name, int age, boolean happy) {}

    interface StoryReader {
        Character mainCharacter(String story);
    }

    static StoryReader reader(ChatModel model) {
        return AiServices.create(StoryReader.class, model);
    }

    @Test
    void everyAnswerParsesIntoTheRecordGreedyAndSampled() {
        Path profile = Stories260K.profile(temp, "json", "mode: hybrid\nsinks: 4\nwindow: 32\nfeatures: 32\n");
        Set<Character> sampled = new HashSet<>();
        for (long seed = 1; seed <= 20; seed++) {
            try (DiJiangChatModel model = DiJiangChatModel.builder()
                    .profile(profile)
                    .seed(seed)
                    .maxOutputTokens(48)
                    .build()) {
                Character character = reader(model).mainCharacter("Lily was a little girl. She had a dog.");
                assertNotNull(character.name());
                sampled.add(character);
            }
        }
        assertTrue(sampled.size() > 1, "20 seeds gave one answer: " + sampled);
        try (DiJiangChatModel greedy = DiJiangChatModel.builder()
                .profile(profile)
                .temperature(0.0)
                .maxOutputTokens(48)
                .build()) {
            Set<Character> answers = new HashSet<>();
            for (int story = 0; story < 20; story++) {
                answers.add(reader(greedy).mainCharacter("Tom was " + story + " years old. He liked to play."));
            }
            assertTrue(answers.stream().allMatch(c -> c.name() != null), answers.toString());
            System.out.println("JsonModeIT sampled: " + sampled + "\nJsonModeIT greedy: " + answers);
        }
    }
}
