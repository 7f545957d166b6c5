package io.dijiang4j.adapters.spi;

import dev.langchain4j.model.jlama.JlamaStreamingChatModel;
import dev.langchain4j.model.jlama.spi.JlamaStreamingChatModelBuilderFactory;

/**
 * Registered through META-INF/services: {@code JlamaStreamingChatModel.builder()} returns this factory's builder, which builds
 * the model exactly as langchain4j-jlama does and then, when a profile is configured ({@link ProfileSetting}),
 * installs its attention into the loaded model.
 */
public final class DiJiangJlamaStreamingChatModelBuilderFactory implements JlamaStreamingChatModelBuilderFactory {
    @Override
    public JlamaStreamingChatModel.JlamaStreamingChatModelBuilder get() {
        return new Builder();
    }

    /** The langchain4j-jlama builder with the profile installed after loading. */
    public static final class Builder extends JlamaStreamingChatModel.JlamaStreamingChatModelBuilder {
        @Override
        public JlamaStreamingChatModel build() {
            return JlamaModelPatcher.installConfigured(super.build());
        }
    }
}
