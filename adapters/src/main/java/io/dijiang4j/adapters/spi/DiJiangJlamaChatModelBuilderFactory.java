package io.dijiang4j.adapters.spi;

import dev.langchain4j.model.jlama.JlamaChatModel;
import dev.langchain4j.model.jlama.spi.JlamaChatModelBuilderFactory;

/**
 * Registered through META-INF/services: {@code JlamaChatModel.builder()} returns this factory's builder, which builds
 * the model exactly as langchain4j-jlama does and then, when a profile is configured ({@link ProfileSetting}),
 * installs its attention into the loaded model.
 */
public final class DiJiangJlamaChatModelBuilderFactory implements JlamaChatModelBuilderFactory {
    @Override
    public JlamaChatModel.JlamaChatModelBuilder get() {
        return new Builder();
    }

    /** The langchain4j-jlama builder with the profile installed after loading. */
    public static final class Builder extends JlamaChatModel.JlamaChatModelBuilder {
        @Override
        public JlamaChatModel build() {
            return JlamaModelPatcher.installConfigured(super.build());
        }
    }
}
