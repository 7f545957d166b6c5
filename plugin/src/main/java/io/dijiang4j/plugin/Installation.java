package io.dijiang4j.plugin;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.TransformerBlock;
import com.github.tjake.jlama.safetensors.Config;
import io.dijiang4j.attention.AttentionBackends;
import io.dijiang4j.attention.AttentionKernel;
import io.dijiang4j.attention.AttentionKernelProvider;
import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.FeatureMap;
import io.dijiang4j.attention.features.FeatureMaps;
import io.dijiang4j.attention.features.OnlineCentroidMap;
import io.dijiang4j.attention.jlama.AttentionObserver;
import io.dijiang4j.attention.jlama.JlamaInternals;
import io.dijiang4j.attention.jlama.KernelizedAttention;
import io.dijiang4j.attention.jlama.RotaryTable;
import io.dijiang4j.plugin.calibration.Calibration;
import io.dijiang4j.plugin.calibration.Sidecars;
import io.dijiang4j.plugin.profile.FeatureMapKind;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.Profile;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.SortedSet;

/**
 * The plugin's attention layers installed into an already loaded Jlama model: each selected layer's {@code
 * TransformerBlock} is rebuilt around a {@link KernelizedAttention} that shares the original weights, and written
 * back into the model's blocks array. {@link #uninstall()} puts the original blocks back. Works for a model loaded by
 * the plugin and for one loaded elsewhere (inside a LangChain4j {@code JlamaChatModel}, say).
 */
public final class Installation {
    private final AbstractModel model;
    private final Profile profile;
    private final TransformerBlock[] originalBlocks;
    private final KernelizedAttention[] layers;
    private final AttentionKernelProvider provider;
    private final Calibration calibration;
    private boolean installed;

    private Installation(
            AbstractModel model,
            Profile profile,
            TransformerBlock[] originalBlocks,
            KernelizedAttention[] layers,
            AttentionKernelProvider provider,
            Calibration calibration) {
        this.model = model;
        this.profile = profile;
        this.originalBlocks = originalBlocks;
        this.layers = layers;
        this.provider = provider;
        this.calibration = calibration;
        this.installed = true;
    }

    /**
     * Installs the profile's mode into {@code model}; mode softmax changes nothing. With a calibration sidecar
     * ({@link Sidecars#load}) each layer gets its own spec from it; otherwise every layer gets {@link #spec}.
     */
    static Installation install(AbstractModel model, Profile profile) {
        JlamaInternals.check();
        Config c = model.getConfig();
        TransformerBlock[] blocks = JlamaInternals.blocks(model);
        TransformerBlock[] original = blocks.clone();
        KernelizedAttention[] layers = new KernelizedAttention[blocks.length];
        if (profile.mode() == Mode.SOFTMAX) return new Installation(model, profile, original, layers, null, null);
        if (c.dctx().layerStart != 0 || blocks.length != c.numberOfLayers) {
            throw new IllegalArgumentException("kernelized attention does not support distributed (sharded) models");
        }
        SortedSet<Integer> selected;
        try {
            selected = profile.layers().resolve(c.numberOfLayers);
        } catch (IllegalArgumentException e) {
            String key = profile.layers().kind() == io.dijiang4j.plugin.profile.LayerSelection.Kind.ALL_BUT
                    ? "except_layers"
                    : "layers";
            throw profile.source().error(key, e.getMessage());
        }
        AttentionKernelProvider provider =
                AttentionBackends.select(profile.backend().key());
        RotaryTable rope = RotaryTable.of(c);
        AttentionShape shape = new AttentionShape(c.numberOfHeads, c.numberOfKeyValueHeads, c.headSize);
        Calibration calibration = Sidecars.load(profile).orElse(null);
        if (calibration == null) {
            uncalibratedMemoryWarning(profile)
                    .ifPresent(
                            w -> System.getLogger(Installation.class.getName()).log(System.Logger.Level.WARNING, w));
        }
        AttentionSpec[] specs = specs(profile, c, calibration);
        TransformerBlock[] patched = blocks.clone();
        for (int layer : selected) {
            AttentionKernel kernel = provider.create(shape, specs[layer]);
            layers[layer] = JlamaInternals.kernelized(model, JlamaInternals.attention(blocks[layer]), kernel, rope);
            patched[layer] = JlamaInternals.withAttention(blocks[layer], layers[layer]);
        }
        JlamaInternals.setBlocks(model, patched);
        return new Installation(model, profile, original, layers, provider, calibration);
    }

    /** One spec per layer: the calibration's when there is one (checked against the model's shape), else the profile's. */
    static AttentionSpec[] specs(Profile profile, Config c, Calibration calibration) {
        AttentionSpec[] specs = new AttentionSpec[c.numberOfLayers];
        if (calibration == null) {
            Arrays.fill(specs, spec(profile, c));
            return specs;
        }
        Calibration.ModelInfo m = calibration.model();
        if (m.layers() != c.numberOfLayers
                || m.heads() != c.numberOfHeads
                || m.kvHeads() != c.numberOfKeyValueHeads
                || m.headSize() != c.headSize
                || m.scale() != softmaxScale(c)) {
            throw new IllegalArgumentException("the calibration sidecar is for a model of " + m.layers() + " layers, "
                    + m.heads() + " heads (" + m.kvHeads() + " KV) of size " + m.headSize() + ", scale " + m.scale()
                    + "; this one has " + c.numberOfLayers + " layers, " + c.numberOfHeads + " heads ("
                    + c.numberOfKeyValueHeads + " KV) of size " + c.headSize + ", scale " + softmaxScale(c));
        }
        for (int layer = 0; layer < specs.length; layer++) {
            AttentionSpec spec = calibration.spec(layer, profile.mode() == Mode.HYBRID, profile.blockSize());
            specs[layer] = withDecay(spec, profile, c);
        }
        return specs;
    }

    /**
     * The softmax temperature tau of the model's attention (the kernels and the calibration search use it, and a
     * sidecar records it): the config's attention multiplier, else 1/sqrt(head size).
     */
    public static double softmaxScale(Config c) {
        return c.attentionMultiplier != null ? c.attentionMultiplier : 1.0 / StrictMath.sqrt(c.headSize);
    }

    /**
     * The warning for a hybrid whose memory, uncalibrated, destroys a softmax-trained model: wdcf (and its Monte
     * Carlo twin) with the paper's weights has query/key norms of 5-25 swamp the exact part. Kept, not refused: it is
     * the map of checkpoints trained with it and of the speed benchmarks.
     */
    static Optional<String> uncalibratedMemoryWarning(Profile profile) {
        FeatureMapKind map = profile.featureMap();
        if (profile.mode() != Mode.HYBRID || (map != FeatureMapKind.WDCF && map != FeatureMapKind.WDCF_MC)) {
            return Optional.empty();
        }
        return Optional.of("feature_map " + map + " without a calibration sidecar swamps a softmax-trained model's"
                + " attention (stories260K, held-out text beyond the window: perplexity x50, KL 3.96, against KL"
                + " 0.10 with no memory); use feature_map online (the default of mode hybrid: KL 0.016) or calibrate");
    }

    /** The profile's spec (one for every layer) when no calibration is used. */
    public static AttentionSpec spec(Profile profile, Config c) {
        FeatureMap map = switch (profile.featureMap()) {
            case CENTROIDS ->
                throw profile.source()
                        .error(
                                "feature_map",
                                "the centroids map is fitted by dijiang calibrate: it needs that calibration sidecar"
                                        + " (key calibration, or the file beside the model), or pick a seeded map");
            case ONLINE, NONE -> {
                if (profile.mode() != Mode.HYBRID) {
                    throw profile.source()
                            .error(
                                    "feature_map",
                                    profile.featureMap() + " is a memory of the tokens the hybrid's window evicts:"
                                            + " use it in mode hybrid, or a seeded map (wdcf) in mode dijiang");
                }
                // none: a one-feature map whose gain 0 (below) keeps it from ever being read
                yield profile.featureMap() == FeatureMapKind.ONLINE
                        ? new OnlineCentroidMap(c.headSize, profile.features())
                        : FeatureMaps.create(FeatureMapKind.PERFORMER.key(), c.headSize, 1, profile.featureSeed());
            }
            default ->
                FeatureMaps.create(profile.featureMap().key(), c.headSize, profile.features(), profile.featureSeed());
        };
        AttentionSpec spec = profile.mode() == Mode.HYBRID
                ? AttentionSpec.hybrid(map, c.headSize, profile.sinks(), profile.window())
                : AttentionSpec.linear(map, c.headSize);
        spec = spec.withScale(softmaxScale(c)).withBlockSize(profile.blockSize());
        if (profile.featureMap() == FeatureMapKind.NONE) spec = spec.withMemoryGain(new double[c.numberOfHeads]);
        if (profile.mode() == Mode.HYBRID && profile.exactCache() > 0) {
            spec = spec.withExactCache(profile.exactCache(), profile.cachePolicy());
        }
        return withDecay(spec, profile, c);
    }

    private static AttentionSpec withDecay(AttentionSpec spec, Profile profile, Config c) {
        if (profile.decay() < 1.0) {
            double[] decay = new double[c.numberOfHeads];
            Arrays.fill(decay, profile.decay());
            return spec.withDecay(decay);
        }
        return spec;
    }

    public AbstractModel model() {
        return model;
    }

    public Profile profile() {
        return profile;
    }

    /** The backend the kernels run on ("cpu", "cuda:0"), or "jlama" in mode softmax. */
    public String backend() {
        for (KernelizedAttention a : layers) if (a != null) return a.kernel().backend();
        return "jlama";
    }

    public int numberOfLayers() {
        return layers.length;
    }

    /** The plugin's layer at {@code layer}, or empty where Jlama's softmax attention runs. */
    public Optional<KernelizedAttention> kernelizedLayer(int layer) {
        return Optional.ofNullable(layers[layer]);
    }

    public List<KernelizedAttention> kernelizedLayers() {
        return Arrays.stream(layers).filter(a -> a != null).toList();
    }

    /** The spec of a kernelized layer, or empty where Jlama's softmax attention runs. */
    public Optional<AttentionSpec> spec(int layer) {
        return kernelizedLayer(layer).map(a -> a.kernel().spec());
    }

    /** The calibration sidecar in use, or empty. */
    public Optional<Calibration> calibration() {
        return Optional.ofNullable(calibration);
    }

    /** Whether some layer still uses Jlama's KV cache (bounded by the context length). */
    public boolean hasSoftmaxLayers() {
        return Arrays.stream(layers).anyMatch(a -> a == null);
    }

    /** Observes the q/k/v/out of every kernelized layer (null removes). */
    public void setObserver(AttentionObserver observer) {
        for (KernelizedAttention a : layers) if (a != null) a.setObserver(observer);
    }

    /** Puts Jlama's original blocks back and frees the kernels. */
    public synchronized void uninstall() {
        if (!installed) return;
        installed = false;
        JlamaInternals.setBlocks(model, originalBlocks);
        for (KernelizedAttention a : layers) if (a != null) a.kernel().close();
    }
}
