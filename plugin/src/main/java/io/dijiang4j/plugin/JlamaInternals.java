package io.dijiang4j.plugin;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.CausalSelfAttention;
import com.github.tjake.jlama.model.TransformerBlock;
import com.github.tjake.jlama.model.functions.SampleOutput;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.util.Properties;

/**
 * The Jlama 0.8.4 internals the plugin reads reflectively (there is no attention SPI): the blocks array of a model,
 * the parts of a block, the weights of an attention layer. Every field is looked up once, when this class
 * initializes; if Jlama changed them the first use fails with one message naming the field and the Jlama version
 * found.
 */
final class JlamaInternals {
    static final String SUPPORTED = "0.8.4";

    static final Field BLOCKS;
    static final Field SAMPLE_OUTPUT;
    static final Field BLOCK_MODEL, BLOCK_LAYER, PRE_ATTENTION_NORM, ATTENTION, POST_ATTENTION_NORM, PRE_FF_NORM;
    static final Field FF_BLOCK, POST_FF_NORM, PRE_RESPONSE_NORM;
    static final Field Q_BIAS, K_BIAS, V_BIAS, O_BIAS, Q_WEIGHTS, K_WEIGHTS, V_WEIGHTS, O_WEIGHTS, ATTENTION_LAYER;

    static {
        try {
            BLOCKS = field(AbstractModel.class, "transformerBlocks");
            SAMPLE_OUTPUT = field(AbstractModel.class, "sampleOutput");
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
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("dijiang4j needs the internals of Jlama " + SUPPORTED + " but found Jlama "
                    + jlamaVersion() + ": " + e.getMessage());
        }
    }

    private JlamaInternals() {}

    /** Forces the checks (call at startup for an early, clear error). */
    static void check() {}

    private static Field field(Class<?> owner, String name) throws ReflectiveOperationException {
        try {
            Field f = owner.getDeclaredField(name);
            f.setAccessible(true);
            return f;
        } catch (NoSuchFieldException e) {
            throw new NoSuchFieldException("field " + owner.getSimpleName() + "." + name + " not found");
        }
    }

    static Object get(Field f, Object owner) {
        try {
            return f.get(owner);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot read Jlama field " + f.getName() + ": " + e.getMessage(), e);
        }
    }

    static void set(Field f, Object owner, Object value) {
        try {
            f.set(owner, value);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot write Jlama field " + f.getName() + ": " + e.getMessage(), e);
        }
    }

    static TransformerBlock[] blocks(AbstractModel model) {
        TransformerBlock[] blocks = (TransformerBlock[]) get(BLOCKS, model);
        if (blocks == null)
            throw new IllegalArgumentException("this Jlama model was loaded without transformer blocks");
        return blocks;
    }

    static SampleOutput sampleOutput(AbstractModel model) {
        SampleOutput out = (SampleOutput) get(SAMPLE_OUTPUT, model);
        if (out == null) throw new IllegalArgumentException("this Jlama model was loaded without an output layer");
        return out;
    }

    /** The jlama-core version on the class path, from its Maven metadata. */
    static String jlamaVersion() {
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
}
