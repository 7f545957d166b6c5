package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.model.jlama.JlamaChatModel;
import io.dijiang4j.adapters.DiJiangChatModel;
import io.dijiang4j.adapters.DiJiangLanguageModel;
import io.dijiang4j.adapters.spi.ProfileSetting;
import io.dijiang4j.plugin.LogCapture;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Level;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mode dijiang on a softmax-trained checkpoint (every Jlama model) is linear attention without training: the CLI
 * prints one warning line on stderr, the LangChain4j adapters log one; hybrid and softmax do neither.
 */
class UntrainedLinearWarningIT {
    static final String TEXT = "linear attention without training";

    @TempDir
    Path temp;

    LogCapture log;

    @BeforeEach
    void attach() {
        log = LogCapture.of("io.dijiang4j.plugin.Installation");
    }

    @AfterEach
    void detach() {
        log.close();
        System.clearProperty(ProfileSetting.PROPERTY);
    }

    long logged() {
        return log.count(Level.WARNING, TEXT);
    }

    static long lines(String err) {
        return err.lines().filter(l -> l.contains(TEXT)).count();
    }

    static CliIT.Run generate(Path profile) {
        return CliIT.run("", "generate", "--config", profile.toString(), "--prompt", "Tom", "--max-tokens", "4");
    }

    @Test
    void theCliPrintsOneWarningLineForModeDijiangOnly() {
        CliIT.Run dijiang = generate(CliIT.CONFIGS.resolve("dijiang.yaml"));
        assertEquals(0, dijiang.exitCode(), dijiang.err());
        assertEquals(1, lines(dijiang.err()), dijiang.err());
        String line =
                dijiang.err().lines().filter(l -> l.contains(TEXT)).findFirst().orElseThrow();
        assertTrue(line.startsWith("dijiang: warning: mode dijiang on a softmax-trained model"), line);
        assertTrue(line.contains("mode: hybrid"), line);
        assertTrue(line.matches(".*perplexity x[0-9].*"), line);
        for (String config : List.of("hybrid.yaml", "vanilla.yaml")) {
            CliIT.Run other = generate(CliIT.CONFIGS.resolve(config));
            assertEquals(0, other.exitCode(), other.err());
            assertEquals(0, lines(other.err()), config + ": " + other.err());
        }
    }

    @Test
    void theAdaptersLogOneWarningForModeDijiangOnly() {
        DiJiangChatModel chat = DiJiangChatModel.fromProfile(Stories260K.dijiang(temp));
        assertEquals(1, logged());
        // a second adapter on the same runtime: the model is not loaded again, no second line
        DiJiangLanguageModel.builder().runtime(chat.runtime()).build();
        assertEquals(1, logged());
        DiJiangChatModel.fromProfile(Stories260K.hybrid(temp));
        DiJiangChatModel.fromProfile(Stories260K.vanilla(temp));
        assertEquals(1, logged());
    }

    @Test
    void theJlamaDropInLogsOneWarningForModeDijiangOnly() {
        System.setProperty(ProfileSetting.PROPERTY, Stories260K.dijiang(temp).toString());
        build();
        assertEquals(1, logged());
        System.setProperty(ProfileSetting.PROPERTY, Stories260K.hybrid(temp).toString());
        build();
        assertEquals(1, logged());
    }

    private void build() {
        JlamaChatModel.builder()
                .modelCachePath(Stories260K.jlamaCache(temp))
                .modelName(Stories260K.JLAMA_MODEL_NAME)
                .workingDirectory(Stories260K.workingDirectory(temp))
                .build();
    }
}
