package io.dijiang4j.adapters;

import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;
import io.dijiang4j.adapters.engine.InferenceEngine;
import io.dijiang4j.adapters.engine.PluginEngine;
import io.dijiang4j.adapters.state.PrefixStateStore;
import io.dijiang4j.plugin.generation.GenerationOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Settings shared by the builders of the four DiJiang models. The model comes from exactly one of {@link #profile}
 * (a YAML profile path, loaded when {@code build()} runs), {@link #engine} or {@link #runtime} (to share one loaded
 * model, its lock and its saved conversations between several adapters).
 */
public abstract class DiJiangModelBuilder<B extends DiJiangModelBuilder<B>> {
    private Path profile;
    private InferenceEngine engine;
    private DiJiangRuntime runtime;
    private Integer conversationCheckpoints;
    private PrefixStateStore stateStore;
    Double temperature;
    Double topP;
    Integer topK;
    Integer maxOutputTokens;
    List<String> stopSequences;
    Long seed;
    final List<ChatModelListener> listeners = new ArrayList<>();
    /** The profile's generation settings (all of them, its defaults included), else the plugin's defaults. */
    private GenerationOptions base = GenerationOptions.defaults();

    @SuppressWarnings("unchecked")
    private B self() {
        return (B) this;
    }

    /** A YAML profile (configs/vanilla.yaml, dijiang.yaml, hybrid.yaml or your own) naming the model and the mode. */
    public B profile(Path profile) {
        this.profile = profile;
        return self();
    }

    public B engine(InferenceEngine engine) {
        this.engine = engine;
        return self();
    }

    public B runtime(DiJiangRuntime runtime) {
        this.runtime = runtime;
        return self();
    }

    /** Saved states for prefix reuse of multi-turn conversations (default 4; 0 turns reuse off). */
    public B conversationCheckpoints(int checkpoints) {
        this.conversationCheckpoints = checkpoints;
        return self();
    }

    /**
     * Where the states at the ends of turns are kept for prefix reuse (default: this process, {@link
     * #conversationCheckpoints} of them); a {@link io.dijiang4j.adapters.state.RedisPrefixStateStore} shares them
     * with other processes on the same model and profile. Closed with the model.
     */
    public B stateStore(PrefixStateStore stateStore) {
        this.stateStore = stateStore;
        return self();
    }

    /**
     * Default sampling temperature (0 = greedy); a request's own parameters override it. Default: the profile's
     * {@code temperature}, else {@link GenerationOptions#DEFAULT_TEMPERATURE} (0.8, as the CLI).
     */
    public B temperature(Double temperature) {
        this.temperature = temperature;
        return self();
    }

    public B topP(Double topP) {
        this.topP = topP;
        return self();
    }

    public B topK(Integer topK) {
        this.topK = topK;
        return self();
    }

    public B maxOutputTokens(Integer maxOutputTokens) {
        this.maxOutputTokens = maxOutputTokens;
        return self();
    }

    public B stopSequences(List<String> stopSequences) {
        this.stopSequences = stopSequences;
        return self();
    }

    /**
     * Seed of the sampler, so that sampled (temperature > 0) answers repeat. Default: the profile's {@code seed}; a
     * profile without one, or none: a fresh random seed per request.
     */
    public B seed(Long seed) {
        this.seed = seed;
        return self();
    }

    public B listeners(List<ChatModelListener> listeners) {
        this.listeners.clear();
        if (listeners != null) {
            this.listeners.addAll(listeners);
        }
        return self();
    }

    DiJiangRuntime resolveRuntime() {
        int sources = (profile != null ? 1 : 0) + (engine != null ? 1 : 0) + (runtime != null ? 1 : 0);
        if (sources != 1) {
            throw new IllegalStateException(
                    "set exactly one of profile(...), engine(...) or runtime(...) on the builder, got " + sources);
        }
        if (runtime != null) {
            if (conversationCheckpoints != null || stateStore != null) {
                throw new IllegalStateException("conversationCheckpoints and stateStore are settings of the runtime,"
                        + " not of a model built on a shared runtime");
            }
            adoptProfile(runtime.engine());
            return runtime;
        }
        if (conversationCheckpoints != null && stateStore != null) {
            throw new IllegalStateException(
                    "set conversationCheckpoints (the in-process store's size) or stateStore," + " not both");
        }
        InferenceEngine source = engine != null ? engine : ProfileEngines.load(profile);
        adoptProfile(source);
        if (stateStore != null) return new DiJiangRuntime(source, stateStore);
        return new DiJiangRuntime(
                source, conversationCheckpoints == null ? DiJiangRuntime.DEFAULT_CHECKPOINTS : conversationCheckpoints);
    }

    private void adoptProfile(InferenceEngine source) {
        if (source instanceof PluginEngine plugin) base = plugin.profile().generation();
    }

    /** The builder's settings over the profile's (or the defaults). */
    GenerationOptions options() {
        GenerationOptions o = base;
        if (temperature != null) o = o.withTemperature(temperature.floatValue());
        if (topP != null) o = o.withTopP(topP.floatValue());
        if (topK != null) o = o.withTopK(topK);
        if (maxOutputTokens != null) o = o.withMaxTokens(maxOutputTokens);
        if (stopSequences != null) o = o.withStopSequences(stopSequences);
        if (seed != null) o = o.withSeed(seed);
        return o;
    }

    /** The LangChain4j view of {@link #options()} (validated here, so that a bad setting fails at build time). */
    ChatRequestParameters defaultParameters(String modelName) {
        GenerationOptions o = options();
        return DefaultChatRequestParameters.builder()
                .modelName(modelName)
                .temperature((double) o.temperature())
                .topP((double) o.topP())
                .topK(o.topK() == 0 ? null : o.topK())
                .maxOutputTokens(o.maxTokens())
                .stopSequences(o.stopSequences())
                .build();
    }
}
