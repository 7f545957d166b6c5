package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.model.jlama.JlamaChatModel;
import dev.langchain4j.model.jlama.JlamaLanguageModel;
import dev.langchain4j.model.jlama.JlamaStreamingChatModel;
import io.dijiang4j.adapters.spi.DiJiangJlamaChatModelBuilderFactory;
import io.dijiang4j.adapters.spi.JlamaModelPatcher;
import io.dijiang4j.adapters.spi.ProfileSetting;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An application that builds langchain4j-jlama models itself, unchanged: with the adapters jar on the class path,
 * setting {@code dijiang.profile} installs the profile's attention into the model the builder loads; without it the
 * model is vanilla Jlama.
 */
class JlamaSpiDropInIT {
    @TempDir
    Path temp;

    @AfterEach
    void clearSetting() {
        System.clearProperty(ProfileSetting.PROPERTY);
    }

    /** The application code: exactly what a langchain4j-jlama user writes. */
    private JlamaChatModel applicationBuildsChatModel() {
        return JlamaChatModel.builder()
                .modelCachePath(Stories260K.jlamaCache(temp))
                .modelName(Stories260K.JLAMA_MODEL_NAME)
                .workingDirectory(Stories260K.workingDirectory(temp))
                .temperature(0f)
                .maxTokens(64)
                .build();
    }

    @Test
    void builderComesFromTheDiJiangFactory() {
        assertInstanceOf(DiJiangJlamaChatModelBuilderFactory.Builder.class, JlamaChatModel.builder());
    }

    @Test
    void noProfileMeansVanillaJlama() {
        JlamaChatModel model = applicationBuildsChatModel();
        assertTrue(JlamaModelPatcher.kernelizedLayers(model).isEmpty());
        assertFalse(model.chat("Once upon a time").isBlank());
    }

    @Test
    void hybridProfileInstallsKernelizedAttentionInEveryLayer() {
        System.setProperty(ProfileSetting.PROPERTY, Stories260K.hybrid(temp).toString());
        JlamaChatModel model = applicationBuildsChatModel();
        var layers = JlamaModelPatcher.kernelizedLayers(model);
        assertEquals(5, layers.size(), "stories260K has 5 layers");
        // JlamaChatModel's own generation loop runs through the installed layers, twice (fresh state each call)
        String first = model.chat("Once upon a time");
        String second = model.chat("Once upon a time");
        assertFalse(first.isBlank());
        assertEquals(first, second);
    }

    @Test
    void everyJlamaModelKindIsPatched() {
        System.setProperty(ProfileSetting.PROPERTY, Stories260K.dijiang(temp).toString());
        Path cache = Stories260K.jlamaCache(temp);
        JlamaStreamingChatModel streaming = JlamaStreamingChatModel.builder()
                .modelCachePath(cache)
                .modelName(Stories260K.JLAMA_MODEL_NAME)
                .workingDirectory(Stories260K.workingDirectory(temp))
                .build();
        JlamaLanguageModel language = JlamaLanguageModel.builder()
                .modelCachePath(cache)
                .modelName(Stories260K.JLAMA_MODEL_NAME)
                .workingDirectory(Stories260K.workingDirectory(temp))
                .build();
        assertEquals(5, JlamaModelPatcher.kernelizedLayers(streaming).size());
        assertEquals(5, JlamaModelPatcher.kernelizedLayers(language).size());
    }

    @Test
    void vanillaProfileLeavesJlamaAttention() {
        System.setProperty(ProfileSetting.PROPERTY, Stories260K.vanilla(temp).toString());
        assertTrue(
                JlamaModelPatcher.kernelizedLayers(applicationBuildsChatModel()).isEmpty());
    }
}
