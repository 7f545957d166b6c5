package io.dijiang4j.tools.synth;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.tensor.FloatBufferTensor;
import com.github.tjake.jlama.tensor.Q4ByteBufferTensor;
import com.github.tjake.jlama.tensor.TensorShape;
import io.dijiang4j.plugin.io.AtomicFiles;
import io.dijiang4j.plugin.io.SafeTensors;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes synthetic llama-architecture model directories that vanilla Jlama loads: {@code config.json}
 * ({@code model_type} llama), {@code model.safetensors} with seeded random weights, {@code tokenizer.json} (one
 * token per byte value, see {@link ByteTokenizerFiles}) and {@code tokenizer_config.json} with a chat template.
 *
 * <p>Weights are N(0, 1/fan_in) (standard deviation {@code 1/sqrt(fan_in)}) so activations stay O(1) through the
 * layers; norm weights are 1; the embedding is tied to the output head with rows of norm about 1, so logits are
 * O(1). The same shape, dtype and seed always give the same bytes: each tensor draws from its own generator seeded by
 * the model seed and the tensor's name.
 *
 * <p>{@link DType#Q4} models are quantized offline with Jlama's own {@link Q4ByteBufferTensor} encoding (the format
 * of {@code SafeTensorSupport.quantizeModel}: every tensor Q4 plus its {@code .qb} block scales), because Jlama
 * 0.8.4's runtime quantization of F32 llama weights is broken.
 */
public final class SyntheticModels {

    /** Context length written to config.json unless a shape says otherwise. */
    public static final int DEFAULT_CONTEXT_LENGTH = 131072;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private SyntheticModels() {}

    /** Sizes of a synthetic llama model. {@code hidden == heads * headSize} (Jlama derives the head size). */
    public record Shape(
            String name,
            int hidden,
            int layers,
            int heads,
            int kvHeads,
            int headSize,
            int ffn,
            int vocab,
            int contextLength) {

        /** Tests: 2 layers, 4 heads (2 KV heads) of 16; FFN 192 (a multiple of Jlama's Q4 block of 32). */
        public static final Shape TINY = new Shape("tiny", 64, 2, 4, 2, 16, 192, 512, DEFAULT_CONTEXT_LENGTH);

        public static final Shape SMALL = new Shape("small", 512, 8, 8, 4, 64, 1408, 4096, DEFAULT_CONTEXT_LENGTH);
        public static final Shape MEDIUM =
                new Shape("medium", 1024, 12, 16, 8, 64, 2816, 32000, DEFAULT_CONTEXT_LENGTH);
        /** The shape of Llama 3.2 1B: 16 layers, 32 heads / 8 KV heads of 64, FFN 8192, vocab 128256. */
        public static final Shape LLAMA_1B =
                new Shape("llama-1b", 2048, 16, 32, 8, 64, 8192, 128256, DEFAULT_CONTEXT_LENGTH);

        public Shape {
            if (hidden != heads * headSize)
                throw new IllegalArgumentException(
                        "hidden size " + hidden + " must equal heads*headSize = " + heads * headSize);
            if (kvHeads <= 0 || heads % kvHeads != 0)
                throw new IllegalArgumentException(
                        "KV heads " + kvHeads + " must be positive and divide the heads " + heads);
            if (vocab < ByteTokenizerFiles.MIN_VOCAB)
                throw new IllegalArgumentException(
                        "vocab " + vocab + " is smaller than the byte tokenizer's " + ByteTokenizerFiles.MIN_VOCAB);
            if (layers <= 0 || ffn <= 0 || contextLength <= 0)
                throw new IllegalArgumentException("layers, FFN size and context length must be positive");
        }

        /** The named shapes, in size order. */
        public static List<Shape> all() {
            return List.of(TINY, SMALL, MEDIUM, LLAMA_1B);
        }

        /** Looks a shape up by name (case-insensitive); unknown names are a clear error listing the known ones. */
        public static Shape named(String name) {
            for (Shape s : all()) if (s.name.equalsIgnoreCase(name.strip())) return s;
            throw new IllegalArgumentException("unknown shape '" + name + "' (known: tiny, small, medium, llama-1b)");
        }

        /** The same shape with another context length (tests use short contexts to keep RoPE tables small). */
        public Shape withContextLength(int contextLength) {
            return new Shape(name, hidden, layers, heads, kvHeads, headSize, ffn, vocab, contextLength);
        }

        /** Number of weights (the embedding is tied to the output head). */
        public long parameterCount() {
            long perLayer = 2L * hidden
                    + (long) hidden * heads * headSize * 2
                    + (long) hidden * kvHeads * headSize * 2
                    + 3L * hidden * ffn;
            return (long) vocab * hidden + layers * perLayer + hidden;
        }
    }

    /** The weight type a {@code --dtype} option names: F32 or Q4, any case. */
    public static DType dtype(String name) {
        return switch (name.strip().toUpperCase(java.util.Locale.ROOT)) {
            case "F32" -> DType.F32;
            case "Q4" -> DType.Q4;
            default -> throw new IllegalArgumentException("unknown dtype '" + name + "' (use F32 or Q4)");
        };
    }

    /** Writes a model with the defaults: no progress output. */
    public static Path write(Shape shape, Path out, DType dtype, long seed) throws IOException {
        return write(shape, out, dtype, seed, null);
    }

    /**
     * Writes the model directory {@code out} atomically: everything goes to a temporary sibling directory that is
     * renamed into place at the end. {@code out} must not exist or be an empty directory.
     *
     * @param progress where to print progress lines, or null for none
     * @return {@code out}
     */
    public static Path write(Shape shape, Path out, DType dtype, long seed, PrintStream progress) throws IOException {
        if (dtype != DType.F32 && dtype != DType.Q4)
            throw new IllegalArgumentException("dtype must be F32 or Q4, got " + dtype);
        return AtomicFiles.writeDirectory(out, dir -> {
            writeConfig(shape, dtype, dir.resolve("config.json"));
            ByteTokenizerFiles.write(shape.vocab(), shape.contextLength(), dir);
            writeWeights(shape, dtype, seed, dir.resolve("model.safetensors"), progress);
            AtomicFiles.writeString(
                    dir.resolve("README.md"),
                    "Synthetic " + shape.name() + " llama model (random weights, seed " + seed + ", " + dtype
                            + ") written by dijiang4j `bin/dijiang synth-model`. Not a trained model.\n");
        });
    }

    private static void writeConfig(Shape s, DType dtype, Path file) throws IOException {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architectures", List.of("LlamaForCausalLM"));
        c.put("model_type", "llama");
        c.put("hidden_size", s.hidden());
        c.put("intermediate_size", s.ffn());
        c.put("num_hidden_layers", s.layers());
        c.put("num_attention_heads", s.heads());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("head_dim", s.headSize());
        c.put("vocab_size", s.vocab());
        c.put("max_position_embeddings", s.contextLength());
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("hidden_act", "silu");
        c.put("bos_token_id", ByteTokenizerFiles.BOS_ID);
        c.put("eos_token_id", ByteTokenizerFiles.EOS_ID);
        c.put("tie_word_embeddings", true);
        c.put("torch_dtype", "float32");
        c.put("dijiang4j_synthetic", Map.of("shape", s.name(), "dtype", dtype.name()));
        AtomicFiles.write(file, JSON.writeValueAsBytes(c));
    }

    /** One tensor to write: name, shape and the standard deviation of its entries (0 means all ones). */
    private record TensorSpec(String name, int[] shape, double std) {
        long size() {
            long n = 1;
            for (int d : shape) n *= d;
            return n;
        }
    }

    private static List<TensorSpec> tensors(Shape s) {
        List<TensorSpec> t = new ArrayList<>();
        int q = s.heads() * s.headSize();
        int kv = s.kvHeads() * s.headSize();
        // Embedding rows of norm ~1: the tied output head then gives logits of standard deviation ~1.
        t.add(new TensorSpec(
                "model.embed_tokens.weight", new int[] {s.vocab(), s.hidden()}, 1 / Math.sqrt(s.hidden())));
        for (int i = 0; i < s.layers(); i++) {
            String base = "model.layers." + i + ".";
            t.add(new TensorSpec(base + "input_layernorm.weight", new int[] {s.hidden()}, 0));
            t.add(new TensorSpec(base + "self_attn.q_proj.weight", new int[] {q, s.hidden()}, fanIn(s.hidden())));
            t.add(new TensorSpec(base + "self_attn.k_proj.weight", new int[] {kv, s.hidden()}, fanIn(s.hidden())));
            t.add(new TensorSpec(base + "self_attn.v_proj.weight", new int[] {kv, s.hidden()}, fanIn(s.hidden())));
            t.add(new TensorSpec(base + "self_attn.o_proj.weight", new int[] {s.hidden(), q}, fanIn(q)));
            t.add(new TensorSpec(base + "post_attention_layernorm.weight", new int[] {s.hidden()}, 0));
            t.add(new TensorSpec(base + "mlp.gate_proj.weight", new int[] {s.ffn(), s.hidden()}, fanIn(s.hidden())));
            t.add(new TensorSpec(base + "mlp.up_proj.weight", new int[] {s.ffn(), s.hidden()}, fanIn(s.hidden())));
            t.add(new TensorSpec(base + "mlp.down_proj.weight", new int[] {s.hidden(), s.ffn()}, fanIn(s.ffn())));
        }
        t.add(new TensorSpec("model.norm.weight", new int[] {s.hidden()}, 0));
        return t;
    }

    private static double fanIn(int n) {
        return 1 / Math.sqrt(n);
    }

    /** Per-tensor seed: the model seed mixed with the tensor name (SplittableRandom's mixing of a 64-bit hash). */
    private static long tensorSeed(long seed, String name) {
        long h = 1125899906842597L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) h = 31 * h + b;
        return new SplittableRandom(seed ^ h).nextLong();
    }

    private static float[] values(TensorSpec spec, long seed) {
        float[] v = new float[Math.toIntExact(spec.size())];
        new Values(spec, seed).next(v, v.length);
        return v;
    }

    /** A tensor's values in order, in pieces: the same numbers as one call for the whole tensor. */
    private static final class Values {
        private final SplittableRandom rnd;
        private final float std;

        Values(TensorSpec spec, long seed) {
            this.rnd = new SplittableRandom(tensorSeed(seed, spec.name));
            this.std = (float) spec.std;
        }

        void next(float[] into, int n) {
            if (std == 0) {
                java.util.Arrays.fill(into, 0, n, 1f);
                return;
            }
            for (int i = 0; i < n; i++) into[i] = (float) rnd.nextGaussian() * std;
        }
    }

    /** Rows generated and quantized per piece: a few MB of floats, whatever the tensor's size. */
    private static final int Q4_PIECE_VALUES = 1 << 20;

    /**
     * Writes one tensor as Q4 (Jlama's blocks: 32 values, one float scale) and its scales ({@code name.qb}). The
     * floats are generated and quantized a piece of rows at a time (Q4 blocks never cross a row), so the writer holds
     * the tensor's Q4 bytes but never its floats: llama-1b's embedding is 1 GB of floats, 164 MB of Q4.
     */
    private static void writeQ4(SafeTensors.Writer out, TensorSpec spec, long seed) {
        int columns = spec.shape[spec.shape.length - 1];
        if (spec.size() % Q4ByteBufferTensor.BLOCK_SIZE != 0 || columns % Q4ByteBufferTensor.BLOCK_SIZE != 0)
            throw new IllegalArgumentException("Q4 needs rows that are a multiple of " + Q4ByteBufferTensor.BLOCK_SIZE
                    + "; " + spec.name + " has shape " + java.util.Arrays.toString(spec.shape));
        int rows = Math.toIntExact(spec.size() / columns);
        int pieceRows = Math.max(1, Math.min(rows, Q4_PIECE_VALUES / columns));
        ByteBuffer packed = ByteBuffer.allocate(Math.toIntExact(spec.size() / 2));
        ByteBuffer scales = ByteBuffer.allocate(Math.toIntExact(spec.size() / Q4ByteBufferTensor.BLOCK_SIZE * 4));
        Values values = new Values(spec, seed);
        float[] piece = new float[pieceRows * columns];
        for (int row = 0; row < rows; row += pieceRows) {
            int n = Math.min(pieceRows, rows - row);
            values.next(piece, n * columns);
            FloatBufferTensor f32 =
                    new FloatBufferTensor(FloatBuffer.wrap(piece, 0, n * columns), TensorShape.of(n, columns), false);
            try (f32;
                    Q4ByteBufferTensor q4 = new Q4ByteBufferTensor(f32)) {
                packed.put(q4.getMemorySegment().asByteBuffer());
                scales.put(q4.getBlockF().getMemorySegment().asByteBuffer());
            }
        }
        out.addRaw(spec.name, SafeTensors.DType.Q4, spec.shape, packed.flip());
        // the scales' own shape (rows by blocks): [1, blocks] for a 1-D tensor, as Jlama's Q4 tensor makes them
        int[] scaleShape = spec.shape.length == 1
                ? new int[] {1, columns / Q4ByteBufferTensor.BLOCK_SIZE}
                : new int[] {rows, columns / Q4ByteBufferTensor.BLOCK_SIZE};
        out.addRaw(spec.name + ".qb", SafeTensors.DType.F32, scaleShape, scales.flip());
    }

    private static void writeWeights(Shape shape, DType dtype, long seed, Path file, PrintStream progress) {
        List<TensorSpec> specs = tensors(shape);
        long totalWeights = specs.stream().mapToLong(TensorSpec::size).sum();
        long doneWeights = 0;
        int lastPercent = -1;
        long start = System.nanoTime();
        try (SafeTensors.Writer out = SafeTensors.spooledWriter(file.getParent())) {
            for (TensorSpec spec : specs) {
                if (dtype == DType.F32) {
                    out.add(spec.name, SafeTensors.DType.F32, new SafeTensors.Tensor(values(spec, seed), spec.shape));
                } else {
                    writeQ4(out, spec, seed);
                }
                doneWeights += spec.size();
                int percent = (int) (100 * doneWeights / totalWeights);
                if (progress != null && percent / 10 != lastPercent / 10) {
                    progress.printf(
                            Locale.ROOT,
                            "synth-model: %3d%% of %,d weights (%.1f s)%n",
                            percent,
                            totalWeights,
                            (System.nanoTime() - start) / 1e9);
                    lastPercent = percent;
                }
            }
            out.writeTo(file);
        }
    }
}
