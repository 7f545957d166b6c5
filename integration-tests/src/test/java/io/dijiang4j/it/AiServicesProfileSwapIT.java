package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.langchain4j.memory.chat.MessageWindowChatMemory;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.jlama.JlamaChatModel;
import dev.langchain4j.service.AiServices;
import io.dijiang4j.adapters.DiJiangChatModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An existing LangChain4j application (an AiServices interface with a chat memory), written once and run on three
 * chat models: langchain4j-jlama's own, and DiJiang's with the vanilla and the hybrid profile. Only the YAML changes
 * between the last two.
 */
class AiServicesProfileSwapIT {
    static final List<String> QUESTIONS = List.of("Once upon a time, there was a", "Then the dog", "The end was");

    /** The application: an assistant that remembers the conversation. */
    interface StoryTeller {
        String continueStory(String text);
    }

    static List<String> runApplication(ChatModel model) {
        StoryTeller teller = AiServices.builder(StoryTeller.class)
                .chatModel(model)
                .chatMemory(MessageWindowChatMemory.withMaxMessages(10))
                .build();
        List<String> answers = new ArrayList<>();
        for (String question : QUESTIONS) {
            answers.add(teller.continueStory(question));
        }
        return answers;
    }

    @TempDir
    Path temp;

    @Test
    void vanillaProfileAnswersAsJlamaChatModelAndHybridAnswersToo() {
        JlamaChatModel jlama = JlamaChatModel.builder()
                .modelCachePath(Stories260K.jlamaCache(temp))
                .modelName(Stories260K.JLAMA_MODEL_NAME)
                .workingDirectory(temp.resolve("jlama-work"))
                .temperature(0f)
                .build();
        List<String> expected = runApplication(jlama);

        try (DiJiangChatModel vanilla = DiJiangChatModel.builder()
                .profile(Stories260K.vanilla(temp))
                .temperature(0.0)
                .build()) {
            assertEquals(expected, runApplication(vanilla));
        }

        try (DiJiangChatModel hybrid = DiJiangChatModel.builder()
                .profile(Stories260K.hybrid(temp))
                .temperature(0.0)
                .build()) {
            List<String> answers = runApplication(hybrid);
            assertEquals(QUESTIONS.size(), answers.size());
            for (String answer : answers) {
                assertFalse(answer.isBlank(), "empty answer in " + answers);
            }
        }
    }
}
