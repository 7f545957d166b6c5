package io.dijiang4j.server;

import io.dijiang4j.adapters.DiJiangRuntime;
import io.dijiang4j.adapters.Scheduling;
import io.dijiang4j.adapters.engine.PluginEngine;
import io.dijiang4j.adapters.state.PrefixStateStore;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.profile.Profile;
import java.util.function.Consumer;

/**
 * A profile's model behind a started {@link OpenAiServer}: the engine, the runtime with its state store, the server.
 * Closing it drains the server, then closes the runtime (and the store, and the model).
 */
public final class ServingStack implements AutoCloseable {
    private final DiJiangRuntime runtime;
    private final OpenAiServer server;

    private ServingStack(DiJiangRuntime runtime, OpenAiServer server) {
        this.runtime = runtime;
        this.server = server;
    }

    /**
     * Loads the profile's model and starts serving it.
     *
     * @param modelId the id clients name; null: derived from the model and mode ({@link #modelId})
     * @param settingsFor the settings for the resolved model id
     */
    public static ServingStack start(
            Profile profile,
            String modelId,
            java.util.function.Function<String, ServerSettings> settingsFor,
            PrefixStateStore states,
            Consumer<String> progress) {
        return start(profile, modelId, settingsFor, states, Scheduling.DEFAULT, progress);
    }

    /** As {@link #start(Profile, String, java.util.function.Function, PrefixStateStore, Consumer)}, scheduled so. */
    public static ServingStack start(
            Profile profile,
            String modelId,
            java.util.function.Function<String, ServerSettings> settingsFor,
            PrefixStateStore states,
            Scheduling scheduling,
            Consumer<String> progress) {
        PluginEngine engine = new PluginEngine(DiJiang.load(profile, progress));
        DiJiangRuntime runtime = new DiJiangRuntime(engine, states, scheduling);
        try {
            String id = modelId != null ? modelId : modelId(engine.modelName());
            // a request without a seed gets a fresh one, as OpenAI's; the profile's seed serves the CLI's repeatability
            OpenAiServer server = new OpenAiServer(
                            runtime, settingsFor.apply(id), profile.generation().withSeed(null))
                    .start();
            return new ServingStack(runtime, server);
        } catch (RuntimeException e) {
            runtime.close();
            throw e;
        }
    }

    /** "stories260K (hybrid)" -> "stories260K-hybrid": an id without spaces, as model ids are. */
    static String modelId(String engineName) {
        return engineName.replace(" (", "-").replace(")", "").replace(' ', '-');
    }

    public OpenAiServer server() {
        return server;
    }

    public DiJiangRuntime runtime() {
        return runtime;
    }

    @Override
    public void close() {
        try {
            server.stop();
        } finally {
            runtime.close();
        }
    }
}
