package io.dijiang4j.adapters.spi;

import dev.langchain4j.model.jlama.JlamaLanguageModel;
import dev.langchain4j.model.jlama.spi.JlamaLanguageModelBuilderFactory;

/**
 * Registered through META-INF/services: {@code JlamaLanguageModel.builder()} returns this factory's builder, which builds
 * the model exactly as langchain4j-jlama does and then, when a profile is configured ({@link ProfileSetting}),
 * installs its attention into the loaded model.
 */
public final class DiJiangJlamaLanguageModelBuilderFactory implements JlamaLanguageModelBuilderFactory {
    @Override
    public JlamaLanguageModel.JlamaLanguageModelBuilder get() {
        return new Builder();
    }

    /** The langchain4j-jlama builder with the profile installed after loading. */
    public static final class Builder extends JlamaLanguageModel.JlamaLanguageModelBuilder {
        @Override
        public JlamaLanguageModel build() {
            return JlamaModelPatcher.installConfigured(super.build());
        }
    }
}
