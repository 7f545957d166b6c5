package io.dijiang4j.adapters;

import dev.langchain4j.model.StreamingResponseHandler;
import dev.langchain4j.model.language.StreamingLanguageModel;
import dev.langchain4j.model.output.Response;
import io.dijiang4j.plugin.generation.GenerationOptions;
import java.nio.file.Path;
import java.util.concurrent.Executor;

/**
 * LangChain4j {@link StreamingLanguageModel}: like {@link DiJiangLanguageModel}, with the text streamed to onNext
 * and exactly one onComplete or onError.
 */
public final class DiJiangStreamingLanguageModel implements StreamingLanguageModel, AutoCloseable {
    private final DiJiangRuntime runtime;
    private final GenerationOptions options;
    private final Executor executor;

    private DiJiangStreamingLanguageModel(Builder builder) {
        this.runtime = builder.resolveRuntime();
        this.options = builder.options();
        this.executor = builder.executor == null ? StreamingCallbacks.NEW_VIRTUAL_THREAD : builder.executor;
    }

    public static Builder builder() {
        return new Builder();
    }

    public static DiJiangStreamingLanguageModel fromProfile(Path profile) {
        return builder().profile(profile).build();
    }

    @Override
    public void generate(String prompt, StreamingResponseHandler<String> handler) {
        executor.execute(() -> {
            Response<String> response;
            try {
                response = DiJiangLanguageModel.response(
                        runtime.generate(prompt, options, StreamingCallbacks.partials(handler::onNext)));
            } catch (Throwable e) {
                Throwable cause = StreamingCallbacks.unwrap(e);
                StreamingCallbacks.quietly("onError", () -> handler.onError(cause));
                return;
            }
            StreamingCallbacks.quietly("onComplete", () -> handler.onComplete(response));
        });
    }

    public DiJiangRuntime runtime() {
        return runtime;
    }

    @Override
    public void close() {
        runtime.close();
    }

    public static final class Builder extends DiJiangModelBuilder<Builder> {
        private Executor executor;

        private Builder() {}

        public Builder executor(Executor executor) {
            this.executor = executor;
            return this;
        }

        public DiJiangStreamingLanguageModel build() {
            return new DiJiangStreamingLanguageModel(this);
        }
    }
}
