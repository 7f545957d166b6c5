package io.dijiang4j.adapters;

import com.github.tjake.jlama.safetensors.prompt.Tool;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.TokenConstraint;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * LangChain4j {@link ChatModel} on a Jlama model with DiJiang attention. Thread-safe: requests are served one at a
 * time in arrival order (see {@link DiJiangRuntime}); a request that continues an earlier conversation prefills only
 * its new tokens. Listeners get onRequest / onResponse / onError as with LangChain4j's own models.
 */
public final class DiJiangChatModel implements ChatModel, AutoCloseable {
    private final DiJiangRuntime runtime;
    private final ChatRequestParameters defaults;
    private final List<ChatModelListener> listeners;
    private final GenerationOptions generation;

    private DiJiangChatModel(Builder builder) {
        this.runtime = builder.resolveRuntime();
        this.defaults = builder.defaultParameters(runtime.engine().modelName());
        this.listeners = List.copyOf(builder.listeners);
        this.generation = builder.options();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A model with the default settings from a YAML profile; request parameters set sampling per call. */
    public static DiJiangChatModel fromProfile(Path profile) {
        return builder().profile(profile).build();
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        GenerationOptions options = ChatRequests.options(request.parameters(), modelName(), generation);
        List<Tool> tools = ToolCalls.offered(request.parameters());
        String prompt = ChatRequests.prompt(runtime, request, tools);
        TokenConstraint json = ChatRequests.constraint(request.parameters(), runtime.engine(), options.maxTokens());
        return ChatRequests.response(
                runtime.generate(prompt, options, json, TextSink.NONE),
                modelName(),
                tools,
                request.parameters().toolChoice() == ToolChoice.REQUIRED);
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return defaults;
    }

    @Override
    public List<ChatModelListener> listeners() {
        return listeners;
    }

    /** JSON output, with a schema or without, is decoded to parse (constrained decoding). */
    @Override
    public Set<Capability> supportedCapabilities() {
        return ChatRequests.CAPABILITIES;
    }

    /** LangChain4j names no provider for local Jlama models (langchain4j-jlama's report OTHER too). */
    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    public String modelName() {
        return runtime.engine().modelName();
    }

    /** The shared model: statistics of the last generation, the saved conversation states. */
    public DiJiangRuntime runtime() {
        return runtime;
    }

    @Override
    public void close() {
        runtime.close();
    }

    public static final class Builder extends DiJiangModelBuilder<Builder> {
        private Builder() {}

        public DiJiangChatModel build() {
            return new DiJiangChatModel(this);
        }
    }
}
