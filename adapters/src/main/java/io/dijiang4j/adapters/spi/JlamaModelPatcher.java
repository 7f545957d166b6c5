package io.dijiang4j.adapters.spi;

import com.github.tjake.jlama.model.AbstractModel;
import io.dijiang4j.attention.jlama.JlamaInternals;
import io.dijiang4j.attention.jlama.KernelizedAttention;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.Installation;
import io.dijiang4j.plugin.profile.ProfileLoader;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Reaches the {@link AbstractModel} that a langchain4j-jlama model loaded (a private field: langchain4j-jlama offers
 * no way to pass a model in) and installs the configured profile's attention into it.
 */
public final class JlamaModelPatcher {
    private JlamaModelPatcher() {}

    /**
     * Installs the profile named by {@link ProfileSetting} into the adapter's model (none: Jlama's attention stays),
     * and in every case keeps its KV pages in memory for one request ({@link RequestKvCache}).
     */
    public static <T> T installConfigured(T langchain4jJlamaModel) {
        RequestKvCache.install(loadedModel(langchain4jJlamaModel));
        Optional<Path> profile = ProfileSetting.configured();
        profile.ifPresent(path -> install(langchain4jJlamaModel, path));
        return langchain4jJlamaModel;
    }

    /**
     * Installs a profile's attention into the model inside a langchain4j-jlama adapter (the profile's {@code model}
     * key is not used: the adapter already loaded its model). The layers stay installed for the model's life.
     *
     * @throws io.dijiang4j.plugin.profile.ProfileException for a bad profile
     */
    public static Installation install(Object langchain4jJlamaModel, Path profile) {
        AbstractModel model = loadedModel(langchain4jJlamaModel);
        return DiJiang.install(model, ProfileLoader.load(profile)).installation();
    }

    /**
     * The plugin's attention layers now in the adapter's model, read from the model's blocks; empty when every layer
     * runs Jlama's own attention.
     */
    public static List<KernelizedAttention> kernelizedLayers(Object langchain4jJlamaModel) {
        return JlamaInternals.kernelizedLayers(loadedModel(langchain4jJlamaModel));
    }

    /** The Jlama model inside a JlamaChatModel, JlamaStreamingChatModel, JlamaLanguageModel, ... */
    public static AbstractModel loadedModel(Object langchain4jJlamaModel) {
        return JlamaInternals.modelInside(langchain4jJlamaModel);
    }
}
