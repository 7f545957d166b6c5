package io.dijiang4j.adapters.spi;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.TransformerBlock;
import io.dijiang4j.attention.jlama.KernelizedAttention;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.Installation;
import io.dijiang4j.plugin.profile.ProfileLoader;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reaches the {@link AbstractModel} that a langchain4j-jlama model loaded (a private field: langchain4j-jlama offers
 * no way to pass a model in) and installs the configured profile's attention into it.
 */
public final class JlamaModelPatcher {
    private JlamaModelPatcher() {}

    /** Installs the profile named by {@link ProfileSetting} into the adapter's model; does nothing when none is. */
    public static <T> T installConfigured(T langchain4jJlamaModel) {
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
        AbstractModel model = loadedModel(langchain4jJlamaModel);
        List<KernelizedAttention> layers = new ArrayList<>();
        try {
            Field blocksField = AbstractModel.class.getDeclaredField("transformerBlocks");
            blocksField.setAccessible(true);
            Field attentionField = TransformerBlock.class.getDeclaredField("attention");
            attentionField.setAccessible(true);
            for (TransformerBlock block : (TransformerBlock[]) blocksField.get(model)) {
                if (attentionField.get(block) instanceof KernelizedAttention kernelized) {
                    layers.add(kernelized);
                }
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException(
                    "cannot read the attention layers of the Jlama model: " + e
                            + "; this Jlama version is not supported by dijiang4j",
                    e);
        }
        return layers;
    }

    /** The Jlama model inside a JlamaChatModel, JlamaStreamingChatModel, JlamaLanguageModel, ... */
    public static AbstractModel loadedModel(Object langchain4jJlamaModel) {
        Class<?> type = langchain4jJlamaModel.getClass();
        for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field field : c.getDeclaredFields()) {
                if (!Modifier.isStatic(field.getModifiers()) && AbstractModel.class.isAssignableFrom(field.getType())) {
                    Object value;
                    try {
                        field.setAccessible(true);
                        value = field.get(langchain4jJlamaModel);
                    } catch (ReflectiveOperationException | RuntimeException e) {
                        throw new IllegalStateException(
                                "cannot read the Jlama model inside " + type.getName() + " (field " + field.getName()
                                        + "): " + e + "; this langchain4j-jlama version is not supported by dijiang4j",
                                e);
                    }
                    if (value == null) {
                        throw new IllegalStateException(type.getName() + "." + field.getName() + " is null");
                    }
                    return (AbstractModel) value;
                }
            }
        }
        throw new IllegalStateException("no Jlama AbstractModel field in " + type.getName()
                + "; this langchain4j-jlama version is not supported by dijiang4j");
    }
}
