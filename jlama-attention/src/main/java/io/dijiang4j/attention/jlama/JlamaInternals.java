package io.dijiang4j.attention.jlama;

import com.github.tjake.jlama.math.ActivationFunction;
import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.CausalSelfAttention;
import com.github.tjake.jlama.model.LayerNorm;
import com.github.tjake.jlama.model.MLPBlock;
import com.github.tjake.jlama.model.RMSNorm;
import com.github.tjake.jlama.model.TransformerBlock;
import com.github.tjake.jlama.model.functions.EmbedInput;
import com.github.tjake.jlama.model.functions.FeedForward;
import com.github.tjake.jlama.model.functions.SampleOutput;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;
import com.github.tjake.jlama.tensor.TensorCache;
import com.github.tjake.jlama.tensor.operations.TensorOperations;
import com.github.tjake.jlama.tensor.operations.TensorOperationsProvider;
import io.dijiang4j.attention.AttentionKernel;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Queue;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * Every Jlama internal the project reaches reflectively, in one place: Jlama 0.8.4 has no attention SPI, so the
 * blocks array of a model, the parts of a block, the weights of an attention layer, {@code maybeQuantize}, the
 * tensor pool and the tokenizer's protected steps are read here and nowhere else. Each field and method is looked
 * up once, when this class initializes; if Jlama changed them, the first use fails with one message naming what is
 * missing and the Jlama version found ({@link #check()} forces that early).
 */
public final class JlamaInternals {
    /** The Jlama version whose internals these are. */
    public static final String SUPPORTED = "0.8.4";

    private static final Field BLOCKS, SAMPLE_OUTPUT, EMBED_INPUT, TENSOR_POOL, KV_CACHE;
    private static final Field BLOCK_MODEL, BLOCK_LAYER, PRE_ATTENTION_NORM, ATTENTION, POST_ATTENTION_NORM;
    private static final Field PRE_FF_NORM, FF_BLOCK, POST_FF_NORM, PRE_RESPONSE_NORM;
    private static final Field Q_BIAS, K_BIAS, V_BIAS, O_BIAS, Q_WEIGHTS, K_WEIGHTS, V_WEIGHTS, O_WEIGHTS;
    private static final Field ATTENTION_LAYER;
    private static final Field OPS_INSTANCE, OPS_PROVIDER;
    private static final Field NORM_WEIGHTS, NORM_ADJUSTMENT;
    private static final Field MLP_ACTIVATION, MLP_GATE, MLP_GATE_BIAS, MLP_UP, MLP_DOWN, MLP_DOWN_BIAS;
    private static final Method MAYBE_QUANTIZE;

    static {
        try {
            BLOCKS = field(AbstractModel.class, "transformerBlocks");
            SAMPLE_OUTPUT = field(AbstractModel.class, "sampleOutput");
            EMBED_INPUT = field(AbstractModel.class, "embedInput");
            TENSOR_POOL = field(TensorCache.class, "availableByShape");
            KV_CACHE = field(AbstractModel.class, "kvBufferCache");
            BLOCK_MODEL = field(TransformerBlock.class, "model");
            BLOCK_LAYER = field(TransformerBlock.class, "layerIndex");
            PRE_ATTENTION_NORM = field(TransformerBlock.class, "preAttentionNorm");
            ATTENTION = field(TransformerBlock.class, "attention");
            POST_ATTENTION_NORM = field(TransformerBlock.class, "postAttentionNorm");
            PRE_FF_NORM = field(TransformerBlock.class, "preFFNorm");
            FF_BLOCK = field(TransformerBlock.class, "ffBlock");
            POST_FF_NORM = field(TransformerBlock.class, "postFFNorm");
            PRE_RESPONSE_NORM = field(TransformerBlock.class, "preResponseNorm");
            Q_BIAS = field(CausalSelfAttention.class, "queryAttnBias");
            K_BIAS = field(CausalSelfAttention.class, "keyAttnBias");
            V_BIAS = field(CausalSelfAttention.class, "valueAttnBias");
            O_BIAS = field(CausalSelfAttention.class, "outputProjectionBias");
            Q_WEIGHTS = field(CausalSelfAttention.class, "queryAttnWeights");
            K_WEIGHTS = field(CausalSelfAttention.class, "keyAttnWeights");
            V_WEIGHTS = field(CausalSelfAttention.class, "valueAttnWeights");
            O_WEIGHTS = field(CausalSelfAttention.class, "outputProjectionWeights");
            ATTENTION_LAYER = field(CausalSelfAttention.class, "layerIndex");
            OPS_INSTANCE = field(TensorOperationsProvider.class, "instance");
            OPS_PROVIDER = field(TensorOperationsProvider.class, "provider");
            NORM_WEIGHTS = field(LayerNorm.class, "weights");
            NORM_ADJUSTMENT = field(RMSNorm.class, "weightAdjustment");
            MLP_ACTIVATION = field(MLPBlock.class, "activationFunction");
            MLP_GATE = field(MLPBlock.class, "fullyConnectedWeights");
            MLP_GATE_BIAS = field(MLPBlock.class, "fullyConnectedBias");
            MLP_UP = field(MLPBlock.class, "upProjectionWeights");
            MLP_DOWN = field(MLPBlock.class, "projectionWeights");
            MLP_DOWN_BIAS = field(MLPBlock.class, "projectionBias");
            MAYBE_QUANTIZE = method(AbstractModel.class, "maybeQuantize", AbstractTensor.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("dijiang4j needs the internals of Jlama " + SUPPORTED + " but found Jlama "
                    + jlamaVersion() + ": " + e.getMessage());
        }
    }

    private JlamaInternals() {}

    /** Forces the lookups (call at startup for an early, clear error). */
    public static void check() {}

    /** The transformer blocks of a model (the array Jlama runs). */
    public static TransformerBlock[] blocks(AbstractModel model) {
        TransformerBlock[] blocks = (TransformerBlock[]) get(BLOCKS, model);
        if (blocks == null) {
            throw new IllegalArgumentException("this Jlama model was loaded without transformer blocks");
        }
        return blocks;
    }

    /** Replaces the blocks Jlama runs (installing or removing attention layers). */
    public static void setBlocks(AbstractModel model, TransformerBlock[] blocks) {
        set(BLOCKS, model, blocks);
    }

    public static SampleOutput sampleOutput(AbstractModel model) {
        SampleOutput out = (SampleOutput) get(SAMPLE_OUTPUT, model);
        if (out == null) throw new IllegalArgumentException("this Jlama model was loaded without an output layer");
        return out;
    }

    /** The input embedding of a model (a token at a position to its embedding row). */
    public static EmbedInput embedInput(AbstractModel model) {
        EmbedInput in = (EmbedInput) get(EMBED_INPUT, model);
        if (in == null) throw new IllegalArgumentException("this Jlama model was loaded without an input embedding");
        return in;
    }

    /** The attention layer of a block. */
    public static CausalSelfAttention attention(TransformerBlock block) {
        return (CausalSelfAttention) get(ATTENTION, block);
    }

    /** The plugin's attention layers among a model's blocks, in layer order (empty when none is installed). */
    public static List<KernelizedAttention> kernelizedLayers(AbstractModel model) {
        List<KernelizedAttention> layers = new ArrayList<>();
        for (TransformerBlock block : blocks(model)) {
            if (attention(block) instanceof KernelizedAttention kernelized) layers.add(kernelized);
        }
        return layers;
    }

    /** A block like {@code block} (same norms, feed-forward, model and layer) with another attention layer. */
    public static TransformerBlock withAttention(TransformerBlock block, CausalSelfAttention attention) {
        return withAttention(block, attention, false);
    }

    /**
     * A block like {@code block} with another attention layer; with {@code vectorized}, its RMS norms and its gated
     * SiLU feed-forward block run vectorized over the same weights ({@link FastRmsNorm}, {@link FastMlpBlock}: the
     * element-wise parts of {@code tensor_ops: fast}, docs/DESIGN.md §4); other norms and blocks stay Jlama's.
     */
    @SuppressWarnings("unchecked")
    public static TransformerBlock withAttention(
            TransformerBlock block, CausalSelfAttention attention, boolean vectorized) {
        AbstractModel model = (AbstractModel) get(BLOCK_MODEL, block);
        UnaryOperator<Optional<LayerNorm>> norm = n -> vectorized ? n.map(x -> vectorizedNorm(model, x)) : n;
        FeedForward ff = (FeedForward) get(FF_BLOCK, block);
        return new TransformerBlock(
                model,
                (int) get(BLOCK_LAYER, block),
                norm.apply((Optional<LayerNorm>) get(PRE_ATTENTION_NORM, block)),
                attention,
                norm.apply((Optional<LayerNorm>) get(POST_ATTENTION_NORM, block)),
                norm.apply((Optional<LayerNorm>) get(PRE_FF_NORM, block)),
                vectorized ? vectorizedFeedForward(model, ff) : ff,
                norm.apply((Optional<LayerNorm>) get(POST_FF_NORM, block)),
                norm.apply((Optional<LayerNorm>) get(PRE_RESPONSE_NORM, block)));
    }

    /** Jlama's own RMSNorm (not a subclass, whose forward may differ) as a {@link FastRmsNorm}; others unchanged. */
    private static LayerNorm vectorizedNorm(AbstractModel model, LayerNorm norm) {
        if (norm.getClass() != RMSNorm.class) return norm;
        return new FastRmsNorm(model, (AbstractTensor) get(NORM_WEIGHTS, norm), (float) get(NORM_ADJUSTMENT, norm));
    }

    /** Jlama's gated SiLU MLPBlock without biases as a {@link FastMlpBlock}; every other block unchanged. */
    @SuppressWarnings("unchecked")
    private static FeedForward vectorizedFeedForward(AbstractModel model, FeedForward ff) {
        if (ff.getClass() != MLPBlock.class
                || get(MLP_ACTIVATION, ff) != ActivationFunction.Type.SILU
                || get(MLP_UP, ff) == null
                || ((Optional<AbstractTensor>) get(MLP_GATE_BIAS, ff)).isPresent()
                || ((Optional<AbstractTensor>) get(MLP_DOWN_BIAS, ff)).isPresent()) return ff;
        return new FastMlpBlock(
                model, (AbstractTensor) get(MLP_GATE, ff), (AbstractTensor) get(MLP_DOWN, ff), (AbstractTensor)
                        get(MLP_UP, ff));
    }

    /** A kernelized layer sharing the weights and biases of Jlama's attention layer {@code original}. */
    @SuppressWarnings("unchecked")
    public static KernelizedAttention kernelized(
            AbstractModel model, CausalSelfAttention original, AttentionKernel kernel, RotaryTable rope) {
        if (original instanceof KernelizedAttention) {
            throw new IllegalStateException("dijiang4j attention is already installed in this model");
        }
        return new KernelizedAttention(
                model,
                (int) get(ATTENTION_LAYER, original),
                (Optional<AbstractTensor>) get(Q_BIAS, original),
                (Optional<AbstractTensor>) get(K_BIAS, original),
                (Optional<AbstractTensor>) get(V_BIAS, original),
                (AbstractTensor) get(Q_WEIGHTS, original),
                (AbstractTensor) get(K_WEIGHTS, original),
                (AbstractTensor) get(V_WEIGHTS, original),
                (Optional<AbstractTensor>) get(O_BIAS, original),
                (AbstractTensor) get(O_WEIGHTS, original),
                kernel,
                rope);
    }

    /** {@code model.maybeQuantize(t)} (protected in Jlama; overridden per architecture, e.g. LlamaModel). */
    static AbstractTensor maybeQuantize(AbstractModel model, AbstractTensor t) {
        try {
            return (AbstractTensor) MAYBE_QUANTIZE.invoke(model, t);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e.getCause());
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The {@code TensorOperations} Jlama runs now (its provider's choice, or what replaced it). */
    public static TensorOperations tensorOperations() {
        return TensorOperationsProvider.get();
    }

    /**
     * Replaces the process-wide {@code TensorOperations} of Jlama's provider (a private final field of its singleton:
     * Jlama has no setter) with {@code replace} applied to the current one, and returns the one replaced.
     */
    public static synchronized TensorOperations replaceTensorOperations(UnaryOperator<TensorOperations> replace) {
        TensorOperations current = TensorOperationsProvider.get(); // creates the singleton
        Object provider = get(OPS_INSTANCE, null);
        set(OPS_PROVIDER, provider, replace.apply(current));
        return current;
    }

    /**
     * The weight matrices of a model's matrix products: every 2-D tensor (or array of them) held by the attention and
     * feed-forward objects of its blocks, and the output logits weights. Read generically, field by field, so that
     * every architecture's layer classes (MLP, MoE experts, fused QKV arrays) are covered.
     */
    public static Set<AbstractTensor> matmulWeights(AbstractModel model) {
        Set<AbstractTensor> weights = Collections.newSetFromMap(new IdentityHashMap<>());
        for (TransformerBlock block : blocks(model)) {
            collectTensors(attention(block), weights);
            collectTensors(get(FF_BLOCK, block), weights);
        }
        AbstractTensor logits = sampleOutput(model).getOutputLogitsWeights();
        if (logits != null && logits.dims() == 2) weights.add(logits);
        return weights;
    }

    private static void collectTensors(Object holder, Set<AbstractTensor> into) {
        if (holder == null) return;
        for (Class<?> c = holder.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers())) continue;
                boolean one = AbstractTensor.class.isAssignableFrom(f.getType());
                boolean many = f.getType().isArray()
                        && AbstractTensor.class.isAssignableFrom(f.getType().getComponentType());
                if (!one && !many) continue;
                Object v;
                try {
                    f.setAccessible(true);
                    v = f.get(holder);
                } catch (ReflectiveOperationException | RuntimeException e) {
                    throw new IllegalStateException(
                            "cannot read Jlama field " + c.getSimpleName() + "." + f.getName() + ": " + e.getMessage());
                }
                if (v instanceof AbstractTensor t && t.dims() == 2) into.add(t);
                if (v instanceof AbstractTensor[] ts) {
                    for (AbstractTensor t : ts) if (t != null && t.dims() == 2) into.add(t);
                }
            }
        }
    }

    /**
     * Bytes of the tensors parked in Jlama's {@link TensorCache} pool (allocated, not in use): released tensors,
     * KV pages of earlier runs among them, kept for reuse. Memory measurements leave them out.
     */
    @SuppressWarnings("unchecked")
    public static long idleTensorCacheBytes() {
        Map<Object, Queue<AbstractTensor>> byShape =
                (Map<Object, Queue<AbstractTensor>>) get(TENSOR_POOL, TensorCache.instance);
        long bytes = 0;
        for (Queue<AbstractTensor> q : byShape.values()) {
            List<AbstractTensor> parked = new ArrayList<>();
            for (AbstractTensor t; (t = q.poll()) != null; ) parked.add(t);
            for (AbstractTensor t : parked) {
                bytes += t.size() * (long) t.dType().size();
                q.offer(t);
            }
        }
        return bytes;
    }

    /**
     * A non-public method of {@code type} or a superclass (Jlama's tokenizers keep their pre-tokenization,
     * normalization and byte fallback protected), made accessible.
     */
    public static Method method(Class<?> type, String name, Class<?>... parameters) throws NoSuchMethodException {
        for (Class<?> c = type; c != null; c = c.getSuperclass()) {
            try {
                Method m = c.getDeclaredMethod(name, parameters);
                m.setAccessible(true);
                return m;
            } catch (NoSuchMethodException e) {
                // look in the superclass
            }
        }
        throw new NoSuchMethodException("method " + type.getSimpleName() + "." + name + " not found");
    }

    /** Replaces the model's KV cache (the one its own {@code generate} takes buffers from) and closes the old one. */
    public static void replaceKvBufferCache(AbstractModel model, KvBufferCache cache) {
        KvBufferCache old = (KvBufferCache) get(KV_CACHE, model);
        set(KV_CACHE, model, cache);
        old.close();
    }

    /**
     * The Jlama model inside an object that holds one in a private field (a langchain4j-jlama {@code
     * JlamaChatModel}, {@code JlamaLanguageModel}, ...: they offer no way to pass a model in or get it out).
     */
    public static AbstractModel modelInside(Object holder) {
        Class<?> type = holder.getClass();
        for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field field : c.getDeclaredFields()) {
                if (Modifier.isStatic(field.getModifiers()) || !AbstractModel.class.isAssignableFrom(field.getType())) {
                    continue;
                }
                Object value;
                try {
                    field.setAccessible(true);
                    value = field.get(holder);
                } catch (ReflectiveOperationException | RuntimeException e) {
                    throw new IllegalStateException("cannot read the Jlama model inside " + type.getName() + " (field "
                            + field.getName() + "): " + e + "; this version of it is not supported by dijiang4j");
                }
                if (value == null) throw new IllegalStateException(type.getName() + "." + field.getName() + " is null");
                return (AbstractModel) value;
            }
        }
        throw new IllegalStateException("no Jlama AbstractModel field in " + type.getName()
                + "; this version of it is not supported by dijiang4j");
    }

    /** The jlama-core version on the class path, from its Maven metadata. */
    public static String jlamaVersion() {
        try (InputStream in =
                AbstractModel.class.getResourceAsStream("/META-INF/maven/com.github.tjake/jlama-core/pom.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                return p.getProperty("version", "unknown");
            }
        } catch (Exception ignored) {
            // fall through to the manifest
        }
        String v = AbstractModel.class.getPackage().getImplementationVersion();
        return v == null ? "unknown" : v;
    }

    private static Field field(Class<?> owner, String name) throws ReflectiveOperationException {
        try {
            Field f = owner.getDeclaredField(name);
            f.setAccessible(true);
            return f;
        } catch (NoSuchFieldException e) {
            throw new NoSuchFieldException("field " + owner.getSimpleName() + "." + name + " not found");
        }
    }

    private static Object get(Field f, Object owner) {
        try {
            return f.get(owner);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot read Jlama field " + f.getName() + ": " + e.getMessage(), e);
        }
    }

    private static void set(Field f, Object owner, Object value) {
        try {
            f.set(owner, value);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot write Jlama field " + f.getName() + ": " + e.getMessage(), e);
        }
    }
}
