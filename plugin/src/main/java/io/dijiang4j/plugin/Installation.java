package io.dijiang4j.plugin;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.TransformerBlock;
import com.github.tjake.jlama.safetensors.Config;
import com.github.tjake.jlama.tensor.AbstractTensor;
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
import io.dijiang4j.attention.tensorops.CpuMatrixProducts;
import io.dijiang4j.attention.tensorops.TensorOpsRouter;
import io.dijiang4j.plugin.calibration.Calibration;
import io.dijiang4j.plugin.calibration.Sidecars;
import io.dijiang4j.plugin.profile.FeatureMapKind;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.plugin.profile.TensorOps;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.WeakHashMap;
import java.util.function.UnaryOperator;

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
    private final MatrixProductsChoice products;
    private boolean installed;

    private Installation(
            AbstractModel model,
            Profile profile,
            TransformerBlock[] originalBlocks,
            KernelizedAttention[] layers,
            AttentionKernelProvider provider,
            Calibration calibration,
            MatrixProductsChoice products) {
        this.model = model;
        this.profile = profile;
        this.originalBlocks = originalBlocks;
        this.layers = layers;
        this.provider = provider;
        this.calibration = calibration;
        this.products = products;
        this.installed = true;
    }

    /**
     * Installs the profile's mode into {@code model}; mode softmax changes nothing. With a calibration sidecar
     * ({@link Sidecars#load}) each layer gets its own spec from it; otherwise every layer gets {@link #spec}; each
     * then passes through {@code adjust} (the identity but for diagnostics). Mode dijiang logs {@link
     * #untrainedLinearWarning} once per Jlama model.
     */
    static Installation install(AbstractModel model, Profile profile, UnaryOperator<AttentionSpec> adjust) {
        JlamaInternals.check();
        Config c = model.getConfig();
        TransformerBlock[] blocks = JlamaInternals.blocks(model);
        TransformerBlock[] original = blocks.clone();
        KernelizedAttention[] layers = new KernelizedAttention[blocks.length];
        if (profile.mode() == Mode.SOFTMAX) {
            return new Installation(
                    model, profile, original, layers, null, null, MatrixProductsChoice.apply(model, profile));
        }
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
        if (calibration == null) uncalibratedMemoryWarning(profile).ifPresent(w -> warnOnce(model, w));
        AttentionSpec[] specs = specs(profile, c, calibration);
        untrainedLinearWarning(profile).ifPresent(w -> warnOnce(model, w));
        TransformerBlock[] patched = blocks.clone();
        for (int layer : selected) {
            AttentionKernel kernel = provider.create(shape, adjust.apply(specs[layer]));
            layers[layer] = JlamaInternals.kernelized(model, JlamaInternals.attention(blocks[layer]), kernel, rope);
            patched[layer] =
                    JlamaInternals.withAttention(blocks[layer], layers[layer], profile.tensorOps() == TensorOps.FAST);
        }
        JlamaInternals.setBlocks(model, patched);
        return new Installation(
                model, profile, original, layers, provider, calibration, MatrixProductsChoice.apply(model, profile));
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

    /**
     * The perplexity factor of pure linear attention without training, measured with {@code dijiang eval} on
     * stories260K (configs/dijiang.yaml, every position of two held-out sets of 8 texts x 500 tokens sampled with
     * seeds 1234 and 4321: x37.2 and x42.3; scripts/defaults-table.sh, README "Fidelity").
     */
    public static final String UNTRAINED_LINEAR_PERPLEXITY = "x37-x42";

    /**
     * The warning for mode dijiang in a Jlama model: such a checkpoint was trained with softmax attention (native
     * linear-attention checkpoints load through {@code native-models}, not here), so pure linear attention without
     * training loses the model. Empty for the other modes.
     */
    public static Optional<String> untrainedLinearWarning(Profile profile) {
        if (profile.mode() != Mode.DIJIANG) return Optional.empty();
        return Optional.of("mode dijiang on a softmax-trained model is linear attention without training: perplexity "
                + UNTRAINED_LINEAR_PERPLEXITY + " on stories260K held-out text (dijiang eval); for a training-free"
                + " conversion use mode: hybrid (README \"Fidelity\")");
    }

    /** The warnings each model got (the evaluator installs candidates into one model several times). */
    private static final Map<AbstractModel, Set<String>> WARNED = new WeakHashMap<>();

    /** Logs {@code warning} (WARNING, this class's logger) unless this Jlama model already got it. */
    private static void warnOnce(AbstractModel model, String warning) {
        synchronized (WARNED) {
            if (!WARNED.computeIfAbsent(model, m -> new HashSet<>()).add(warning)) return;
        }
        System.getLogger(Installation.class.getName()).log(System.Logger.Level.WARNING, warning);
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

    /** Whose matrix products run this model's weights: "fast" (the project's kernels) or "jlama". */
    public String tensorOps() {
        return products.name();
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
        products.release();
    }

    /**
     * The profile's {@code tensor_ops} applied to one model: with {@code fast} the model's weight matrices are
     * registered with the router in Jlama's operations provider (docs/DESIGN.md §4), so its products, and only its,
     * run on the project's kernels; {@link #release} gives them back. If the router cannot be put in place (another
     * Jlama), the model keeps Jlama's products and says why once.
     */
    private record MatrixProductsChoice(String name, TensorOpsRouter router, Set<AbstractTensor> weights) {
        static MatrixProductsChoice apply(AbstractModel model, Profile profile) {
            if (profile.tensorOps() == TensorOps.JLAMA) return new MatrixProductsChoice("jlama", null, Set.of());
            try {
                TensorOpsRouter router = TensorOpsRouter.install();
                Set<AbstractTensor> weights = JlamaInternals.matmulWeights(model);
                router.route(weights, CpuMatrixProducts.INSTANCE);
                return new MatrixProductsChoice(CpuMatrixProducts.INSTANCE.name(), router, weights);
            } catch (RuntimeException e) {
                warnOnce(model, "tensor_ops fast unavailable, Jlama's matrix products run instead: " + e.getMessage());
                return new MatrixProductsChoice("jlama", null, Set.of());
            }
        }

        void release() {
            if (router != null) router.unroute(weights);
        }
    }
}
