package io.dijiang4j.adapters.spi;

import dev.langchain4j.model.jlama.JlamaStreamingLanguageModel;
import dev.langchain4j.model.jlama.spi.JlamaStreamingLanguageModelBuilderFactory;

/**
 * Registered through META-INF/services: {@code JlamaStreamingLanguageModel.builder()} returns this factory's builder, which builds
 * the model exactly as langchain4j-jlama does and then, when a profile is configured ({@link ProfileSetting}),
 * installs its attention into the loaded model.
 */
public final class DiJiangJlamaStreamingLanguageModelBuilderFactory
        implements JlamaStreamingLanguageModelBuilderFactory {
    @Override
    public JlamaStreamingLanguageModel.JlamaStreamingLanguageModelBuilder get() {
        return new Builder();
    }

    /** The langchain4j-jlama builder with the profile installed after loading. */
    public static final class Builder extends JlamaStreamingLanguageModel.JlamaStreamingLanguageModelBuilder {
        @Override
        public JlamaStreamingLanguageModel build() {
            return JlamaModelPatcher.installConfigured(super.build());
        }
    }
}
