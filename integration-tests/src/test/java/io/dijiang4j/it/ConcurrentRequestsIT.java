package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.dijiang4j.adapters.DiJiangChatModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Requests from several threads on one model get the answers they get one after another (real weights, hybrid). */
class ConcurrentRequestsIT {
    @TempDir
    Path temp;

    @Test
    void concurrentAnswersEqualSequentialAnswers() throws Exception {
        List<String> prompts = List.of("Lily", "Tom went", "The cat", "Once upon a time", "The big dog", "Sue saw");
        try (DiJiangChatModel model = DiJiangChatModel.builder()
                .profile(Stories260K.hybrid(temp))
                .temperature(0.0)
                .maxOutputTokens(24)
                .build()) {
            List<String> sequential = new ArrayList<>();
            for (String prompt : prompts) {
                sequential.add(model.chat(prompt));
            }
            ExecutorService pool = Executors.newFixedThreadPool(3);
            try {
                List<Future<String>> answers = new ArrayList<>();
                for (int round = 0; round < 2; round++) {
                    for (String prompt : prompts) {
                        answers.add(pool.submit(() -> model.chat(prompt)));
                    }
                }
                for (int i = 0; i < answers.size(); i++) {
                    assertEquals(
                            sequential.get(i % prompts.size()), answers.get(i).get(), prompts.get(i % prompts.size()));
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
