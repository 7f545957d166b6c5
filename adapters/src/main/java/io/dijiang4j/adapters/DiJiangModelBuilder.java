package io.dijiang4j.adapters;

import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;
import io.dijiang4j.adapters.engine.InferenceEngine;
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
    Double temperature;
    Double topP;
    Integer topK;
    Integer maxOutputTokens;
    List<String> stopSequences;
    Long seed;
    final List<ChatModelListener> listeners = new ArrayList<>();

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

    /** Default sampling temperature (0 = greedy); a request's own parameters override it. Default 0.3. */
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

    /** Seed of the sampler, so that sampled (temperature > 0) answers repeat; null for a random seed per request. */
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
            if (conversationCheckpoints != null) {
                throw new IllegalStateException("conversationCheckpoints is a setting of the runtime, not of a model"
                        + " built on a shared runtime");
            }
            return runtime;
        }
        InferenceEngine source = engine != null ? engine : ProfileEngines.load(profile);
        if (source instanceof io.dijiang4j.adapters.engine.PluginEngine plugin) {
            adoptProfileDefaults(plugin.profile());
        }
        return new DiJiangRuntime(
                source, conversationCheckpoints == null ? DiJiangRuntime.DEFAULT_CHECKPOINTS : conversationCheckpoints);
    }

    /** Generation keys the YAML sets explicitly become defaults where the builder left them unset. */
    private void adoptProfileDefaults(io.dijiang4j.plugin.profile.Profile loaded) {
        var keys = loaded.source().keyLines().keySet();
        var generation = loaded.generation();
        if (temperature == null && keys.contains("temperature")) {
            temperature = (double) generation.temperature();
        }
        if (topP == null && keys.contains("top_p") && generation.topP() < 1) {
            topP = (double) generation.topP();
        }
        if (topK == null && keys.contains("top_k") && generation.topK() > 0) {
            topK = generation.topK();
        }
        if (maxOutputTokens == null && keys.contains("max_tokens") && generation.maxTokens() > 0) {
            maxOutputTokens = generation.maxTokens();
        }
        if (seed == null && keys.contains("seed")) {
            seed = loaded.seed();
        }
    }

    ChatRequestParameters defaultParameters(String modelName) {
        // validated here so that a bad default fails at build time, not at the first request
        new GenerationOptions(
                temperature == null ? ChatRequests.DEFAULT_TEMPERATURE : temperature,
                topK,
                topP,
                maxOutputTokens,
                stopSequences,
                seed);
        return DefaultChatRequestParameters.builder()
                .modelName(modelName)
                .temperature(temperature == null ? ChatRequests.DEFAULT_TEMPERATURE : temperature)
                .topP(topP)
                .topK(topK)
                .maxOutputTokens(maxOutputTokens)
                .stopSequences(stopSequences)
                .build();
    }
}
