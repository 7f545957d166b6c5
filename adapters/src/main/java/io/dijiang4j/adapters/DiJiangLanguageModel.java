package io.dijiang4j.adapters;

import dev.langchain4j.model.language.LanguageModel;
import dev.langchain4j.model.output.Response;
import dev.langchain4j.model.output.TokenUsage;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.GenerationResult;
import java.nio.file.Path;

/**
 * LangChain4j {@link LanguageModel}: continues a raw prompt (no chat template). Every call starts from the prompt it
 * is given (no hidden session: a second call never returns 0 tokens because of the first); a prompt that extends an
 * earlier prompt and its answer reuses their state.
 */
public final class DiJiangLanguageModel implements LanguageModel, AutoCloseable {
    private final DiJiangRuntime runtime;
    private final GenerationOptions options;

    private DiJiangLanguageModel(Builder builder) {
        this.runtime = builder.resolveRuntime();
        this.options = builder.options();
    }

    static Response<String> response(GenerationResult result) {
        return Response.from(
                result.text(),
                new TokenUsage(result.promptTokens(), result.generatedTokens()),
                ChatRequests.finishReason(result));
    }

    public static Builder builder() {
        return new Builder();
    }

    public static DiJiangLanguageModel fromProfile(Path profile) {
        return builder().profile(profile).build();
    }

    @Override
    public Response<String> generate(String prompt) {
        return response(runtime.generate(prompt, options, TextSink.NONE));
    }

    public DiJiangRuntime runtime() {
        return runtime;
    }

    @Override
    public void close() {
        runtime.close();
    }

    public static final class Builder extends DiJiangModelBuilder<Builder> {
        private Builder() {}

        public DiJiangLanguageModel build() {
            return new DiJiangLanguageModel(this);
        }
    }
}
