package io.dijiang4j.plugin.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.Stories260K;
import io.dijiang4j.plugin.profile.Mode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Damaged and inconsistent checkpoints are one line naming the file and the tensor, before Jlama maps them. */
class ModelFileCheckTest {
    @TempDir
    Path tmp;

    /** A copy of stories260K whose model.safetensors is replaced by {@code bytes}. */
    private Path copyWith(byte[] bytes) throws IOException {
        Path dir = Files.createTempDirectory(tmp, "model");
        try (var files = Files.list(Stories260K.dir())) {
            for (Path f : files.filter(Files::isRegularFile).toList()) Files.copy(f, dir.resolve(f.getFileName()));
        }
        Files.write(dir.resolve("model.safetensors"), bytes);
        return dir;
    }

    private static byte[] weights() throws IOException {
        return Files.readAllBytes(Stories260K.dir().resolve("model.safetensors"));
    }

    /** Byte offset of element {@code i} of {@code name} in a stories260K file. */
    private static int offsetOf(byte[] file, String name, int i) {
        SafeTensors.Reader r = SafeTensors.decode(file, "f");
        long headerLength =
                ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(file, 8, (int) headerLength, java.nio.charset.StandardCharsets.UTF_8);
        int at = header.indexOf("\"" + name + "\"");
        int offsets = header.indexOf("data_offsets", at);
        int begin = Integer.parseInt(header.substring(header.indexOf('[', offsets) + 1, header.indexOf(',', offsets))
                .strip());
        assertTrue(r.has(name));
        return 8 + (int) headerLength + begin + 4 * i;
    }

    @Test
    void theShippedModelPasses() {
        assertEquals(47, ModelFileCheck.check(Stories260K.dir(), true));
    }

    @Test
    void aTruncatedFileNamesTheTensorAndBothSizes() throws IOException {
        Path dir = copyWith(Arrays.copyOf(weights(), 500_000));
        var e = assertThrows(IllegalArgumentException.class, () -> ModelFileCheck.check(dir, false));
        assertEquals(
                dir.resolve("model.safetensors") + ": tensor 'model.layers.1.mlp.up_proj.weight' lies outside the file"
                        + " (offsets 455680..500736, data 495136 bytes; truncated? the file has 500000 bytes, this"
                        + " tensor needs at least 505600)",
                e.getMessage());
        // and through the plugin's load: the same line, not Jlama's "cannot extend file to required size"
        var load = assertThrows(
                IllegalArgumentException.class,
                () -> DiJiang.load(Stories260K.profile(Mode.HYBRID)
                        .withModel(io.dijiang4j.plugin.profile.ModelReference.local(dir))));
        assertEquals(e.getMessage(), load.getMessage());
    }

    @Test
    void aNaNOrInfinityIsNamedByTensorAndElement() throws IOException {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            byte[] file = weights();
            int at = offsetOf(file, "model.layers.3.self_attn.k_proj.weight", 1001);
            ByteBuffer.wrap(file, at, 4).order(ByteOrder.LITTLE_ENDIAN).putFloat(bad);
            Path dir = copyWith(file);
            var e = assertThrows(IllegalArgumentException.class, () -> ModelFileCheck.check(dir, true));
            assertTrue(
                    e.getMessage()
                            .startsWith(dir.resolve("model.safetensors")
                                    + ": tensor 'model.layers.3.self_attn.k_proj.weight' holds a NaN or infinite"
                                    + " value at element 1001"),
                    e.getMessage());
            assertEquals(47, ModelFileCheck.check(dir, false), "the scan is what finds it");
        }
    }

    @Test
    void shapesAreCheckedAgainstConfig() throws IOException {
        Path dir = copyWith(weights());
        String config = Files.readString(dir.resolve("config.json"));
        Files.writeString(
                dir.resolve("config.json"), config.replace("\"num_key_value_heads\": 4", "\"num_key_value_heads\": 2"));
        var e = assertThrows(IllegalArgumentException.class, () -> ModelFileCheck.check(dir, false));
        assertTrue(e.getMessage().endsWith("has shape [32, 64], config.json expects [16, 64]"), e.getMessage());
        assertTrue(e.getMessage().contains("k_proj.weight") || e.getMessage().contains("v_proj.weight"));

        Files.writeString(
                dir.resolve("config.json"), config.replace("\"num_hidden_layers\": 5", "\"num_hidden_layers\": 6"));
        e = assertThrows(IllegalArgumentException.class, () -> ModelFileCheck.check(dir, false));
        assertEquals(
                dir + ": no tensor 'model.layers.5.self_attn.q_proj.weight' in model.safetensors (config.json has"
                        + " num_hidden_layers 6)",
                e.getMessage());

        Files.writeString(
                dir.resolve("config.json"), config.replace("\"num_hidden_layers\": 5", "\"num_hidden_layers\": 4"));
        e = assertThrows(IllegalArgumentException.class, () -> ModelFileCheck.check(dir, false));
        assertTrue(e.getMessage().contains("is of layer 4 but config.json has num_hidden_layers 4"), e.getMessage());

        Files.writeString(dir.resolve("config.json"), config.replace("\"vocab_size\": 512", "\"vocab_size\": -3"));
        e = assertThrows(IllegalArgumentException.class, () -> ModelFileCheck.check(dir, false));
        assertTrue(e.getMessage().contains("vocab_size must be a positive whole number, got -3"), e.getMessage());
    }

    @Test
    void shardsMustAgreeWithTheirIndex() throws IOException {
        SafeTensors.Reader full = SafeTensors.open(Stories260K.dir().resolve("model.safetensors"));
        Path dir = copyWith(new byte[0]);
        Files.delete(dir.resolve("model.safetensors"));
        Map<String, SafeTensors.Tensor> a = new LinkedHashMap<>(), b = new LinkedHashMap<>();
        StringBuilder index = new StringBuilder("{\"weight_map\": {");
        for (String name : full.names()) {
            boolean first = name.startsWith("model.layers.0.") || name.startsWith("model.layers.1.");
            (first ? a : b).put(name, full.get(name));
            // the index misplaces one tensor
            String shard = name.equals("model.norm.weight") || first ? "a.safetensors" : "b.safetensors";
            index.append('"').append(name).append("\": \"").append(shard).append("\", ");
        }
        index.setLength(index.length() - 2);
        index.append("}}");
        SafeTensors.write(dir.resolve("a.safetensors"), a);
        SafeTensors.write(dir.resolve("b.safetensors"), b);
        Files.writeString(dir.resolve("model.safetensors.index.json"), index.toString());
        var e = assertThrows(IllegalArgumentException.class, () -> ModelFileCheck.check(dir, true));
        assertEquals(
                dir.resolve("model.safetensors.index.json")
                        + ": tensor 'model.norm.weight' is listed in a.safetensors but b.safetensors holds it",
                e.getMessage());
        // the same tensor in two shards
        b.put("model.layers.0.input_layernorm.weight", full.get("model.layers.0.input_layernorm.weight"));
        SafeTensors.write(dir.resolve("b.safetensors"), b);
        e = assertThrows(IllegalArgumentException.class, () -> ModelFileCheck.check(dir, true));
        assertEquals(
                dir.resolve("b.safetensors")
                        + ": tensor 'model.layers.0.input_layernorm.weight' is also in a.safetensors",
                e.getMessage());
    }

    /** The vectorized scan against a plain loop over Float.isFinite, on random data of odd lengths and dtypes. */
    @Test
    void theVectorScanFindsWhatAPlainLoopFinds() {
        Random random = new Random(17);
        for (SafeTensors.DType dtype :
                new SafeTensors.DType[] {SafeTensors.DType.F32, SafeTensors.DType.F16, SafeTensors.DType.BF16}) {
            for (int n : new int[] {1, 7, 33, 1000, dtype == SafeTensors.DType.F32 ? 262_147 : 524_291}) {
                for (int trial = 0; trial < 4; trial++) { // none, NaN, +inf, -inf; chunks are 1 MiB
                    float[] v = new float[n];
                    for (int i = 0; i < n; i++) v[i] = (float) random.nextGaussian() * 100;
                    int bad =
                            trial == 0 ? -1 : trial == 3 ? n - 1 : random.nextInt(n); // the last: past the first chunk
                    if (bad >= 0) {
                        v[bad] = switch (trial) {
                            case 1 -> Float.NaN;
                            case 2 -> Float.POSITIVE_INFINITY;
                            default -> Float.NEGATIVE_INFINITY;
                        };
                        // a later one too: the first is reported
                        if (bad + 1 < n) v[bad + 1 + random.nextInt(n - bad - 1)] = Float.NaN;
                    }
                    byte[] file = SafeTensors.writer()
                            .add("t", dtype, new SafeTensors.Tensor(v, new int[] {n}))
                            .toBytes();
                    SafeTensors.Reader r = SafeTensors.decode(file, "f");
                    float[] stored = r.get("t").data();
                    long naive = -1;
                    for (int i = 0; i < n && naive < 0; i++) if (!Float.isFinite(stored[i])) naive = i;
                    assertEquals(bad, naive, "the stored values hold the planted value only");
                    assertEquals(naive, r.firstNonFinite("t"), dtype + " n=" + n + " trial " + trial);
                }
            }
        }
    }
}
