package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.memory.chat.MessageWindowChatMemory;
import dev.langchain4j.model.chat.ChatModel;
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

    /** stories260K never ends a story by itself: answers are cut at this many tokens. */
    static final int OUTPUT_TOKENS = 40;

    @TempDir
    Path temp;

    @Test
    void vanillaProfileAnswersAsJlamaChatModelAndHybridAnswersToo() {
        List<String> expected = runApplication(new JlamaReference(temp, OUTPUT_TOKENS));

        try (DiJiangChatModel vanilla = DiJiangChatModel.builder()
                .profile(Stories260K.vanilla(temp))
                .temperature(0.0)
                .maxOutputTokens(OUTPUT_TOKENS)
                .build()) {
            assertEquals(expected, runApplication(vanilla));
            // the third turn extends the second conversation: its state was restored, not prefilled again
            assertTrue(vanilla.runtime().lastResult().reusedPromptTokens() > 0, "no prefix reuse");
        }

        try (DiJiangChatModel hybrid = DiJiangChatModel.builder()
                .profile(Stories260K.hybrid(temp))
                .temperature(0.0)
                .maxOutputTokens(OUTPUT_TOKENS)
                .build()) {
            List<String> answers = runApplication(hybrid);
            assertEquals(QUESTIONS.size(), answers.size());
            for (String answer : answers) {
                assertFalse(answer.isBlank(), "empty answer in " + answers);
            }
        }
    }
}
