package io.dijiang4j.plugin.calibration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.plugin.io.AtomicFiles;
import io.dijiang4j.plugin.io.SafeTensors;
import io.dijiang4j.plugin.profile.FeatureMapKind;
import io.dijiang4j.plugin.profile.SettingKeys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The calibration sidecar: one safetensors file. Tensors, per layer i and KV head h: {@code layers.i.kvh.centroids}
 * [m, d] (the centroid map's centroids times sqrt(tau)) and {@code layers.i.kvh.log_weights} [m] for the centroid
 * map, or {@code layers.i.kvh.kernel_weights} [m] (NNLS weights relative to the seeded map) for a seeded map; {@code
 * layers.i.gain} [heads]. The header's {@code __metadata__} holds one key, {@value #METADATA_KEY}, whose value is a
 * JSON object: format and version, the model (name, fingerprint, shape, scale), the memory map (kind, features,
 * seed), the calibration settings (source, texts, tokens, seed, budget), per layer the settings (mode, sinks,
 * window, exact_cache, cache_policy, memory_map, features, memory on/off per head) and fitted errors (attention
 * output error with the memory off and on, layer-alone calibration KL), and measured results. Same calibration, same
 * bytes.
 */
public final class CalibrationFile {
    /** The metadata key of the JSON description. */
    public static final String METADATA_KEY = "dijiang4j_calibration";

    static final String FORMAT = "dijiang4j-calibration";
    private static final ObjectMapper JSON = new ObjectMapper();

    private CalibrationFile() {}

    /** Writes {@code calibration} to {@code file} atomically (temporary file, then rename). */
    public static void write(Path file, Calibration calibration) {
        AtomicFiles.write(file, encode(calibration));
    }

    /** Reads a sidecar; a missing, truncated or corrupt file is an IllegalArgumentException naming it. */
    public static Calibration read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("calibration sidecar " + file + " not found");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the calibration sidecar " + file + ": " + e.getMessage());
        }
        try {
            return decode(bytes);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "calibration sidecar " + file + " is not valid (" + e.getMessage()
                            + "); run dijiang calibrate again",
                    e);
        }
    }

    static byte[] encode(Calibration c) {
        Map<String, SafeTensors.Tensor> tensors = new TreeMap<>();
        int m = c.map().features(), d = c.model().headSize();
        for (int i = 0; i < c.layers().size(); i++) {
            Calibration.Layer l = c.layers().get(i);
            tensors.put(gainName(i), new SafeTensors.Tensor(l.gains().clone(), new int[] {l.gains().length}));
            for (int h = 0; h < l.weights().length; h++) {
                if (c.map().centroids()) {
                    tensors.put(
                            headName(i, h, "centroids"),
                            new SafeTensors.Tensor(l.centroids()[h].clone(), new int[] {m, d}));
                    tensors.put(
                            headName(i, h, "log_weights"),
                            new SafeTensors.Tensor(l.weights()[h].clone(), new int[] {m}));
                } else {
                    tensors.put(
                            headName(i, h, "kernel_weights"),
                            new SafeTensors.Tensor(l.weights()[h].clone(), new int[] {m}));
                }
            }
        }
        String json;
        try {
            json = JSON.writeValueAsString(metadata(c));
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode the calibration metadata", e);
        }
        // checksummed: a flipped bit anywhere is refused, not read as another plan (docs/DESIGN.md §6)
        SafeTensors.Writer writer = SafeTensors.writer().checksummed().metadata(METADATA_KEY, json);
        tensors.forEach(
                (name, t) -> writer.add(name, SafeTensors.DType.F32, t)); // name order: same calibration, same bytes
        return writer.toBytes();
    }

    private static String gainName(int layer) {
        return "layers." + layer + ".gain";
    }

    private static String headName(int layer, int kvHead, String what) {
        return "layers." + layer + ".kv" + kvHead + "." + what;
    }

    private static ObjectNode metadata(Calibration c) {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.put("version", Calibration.FORMAT_VERSION);
        ObjectNode model = root.putObject("model");
        model.put("name", c.model().name());
        model.put("fingerprint", c.model().fingerprint());
        model.put("layers", c.model().layers());
        model.put("heads", c.model().heads());
        model.put("kv_heads", c.model().kvHeads());
        model.put("head_size", c.model().headSize());
        model.put("scale", c.model().scale());
        ObjectNode map = root.putObject("memory_map");
        map.put("kind", c.map().kind().key());
        map.put("features", c.map().features());
        map.put("seed", c.map().seed());
        ObjectNode settings = root.putObject("calibration");
        settings.put("source", c.settings().source());
        settings.put("texts", c.settings().texts());
        settings.put("tokens", c.settings().tokens());
        settings.put("seed", c.settings().seed());
        settings.put("budget", c.settings().budget());
        ArrayNode layers = root.putArray("layers");
        for (Calibration.Layer l : c.layers()) {
            ObjectNode n = layers.addObject();
            n.put("mode", "hybrid");
            n.put("sinks", l.sinks());
            n.put("window", l.window());
            n.put("exact_cache", l.exactCache());
            n.put("cache_policy", SettingKeys.key(l.cachePolicy()));
            n.put("memory_map", c.map().kind().key());
            n.put("features", c.map().features());
            ArrayNode memory = n.putArray("memory");
            for (float g : l.gains()) memory.add(g > 0);
            putNumber(n, "attention_error_window", l.windowError());
            putNumber(n, "attention_error_memory", l.memoryError());
            putNumber(n, "calibration_kl", l.kl());
        }
        ObjectNode results = root.putObject("results");
        new TreeMap<>(c.results()).forEach((k, v) -> putNumber(results, k, v));
        return root;
    }

    private static void putNumber(ObjectNode n, String key, double value) {
        if (Double.isFinite(value)) n.put(key, value);
        else n.putNull(key);
    }

    static Calibration decode(byte[] bytes) {
        SafeTensors.Reader content = SafeTensors.decode(bytes, "");
        String json = content.metadata().get(METADATA_KEY);
        if (json == null)
            throw new IllegalArgumentException("no " + METADATA_KEY + " metadata: not a calibration file");
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("corrupt metadata JSON");
        }
        if (!FORMAT.equals(root.path("format").asText())) throw new IllegalArgumentException("not a calibration file");
        int version = root.path("version").asInt(-1);
        if (version != Calibration.FORMAT_VERSION) {
            throw new IllegalArgumentException(
                    "format version " + version + ", this build reads version " + Calibration.FORMAT_VERSION);
        }
        JsonNode model = root.path("model");
        Calibration.ModelInfo info = new Calibration.ModelInfo(
                text(model, "name"),
                text(model, "fingerprint"),
                integer(model, "layers"),
                integer(model, "heads"),
                integer(model, "kv_heads"),
                integer(model, "head_size"),
                number(model, "scale"));
        JsonNode mapNode = root.path("memory_map");
        Calibration.MapInfo map = new Calibration.MapInfo(
                mapKind(text(mapNode, "kind")), integer(mapNode, "features"), longValue(mapNode, "seed"));
        JsonNode s = root.path("calibration");
        Calibration.Settings settings = new Calibration.Settings(
                text(s, "source"),
                integer(s, "texts"),
                longValue(s, "tokens"),
                longValue(s, "seed"),
                number(s, "budget"));
        JsonNode layerNodes = root.path("layers");
        if (!layerNodes.isArray() || layerNodes.size() != info.layers()) {
            throw new IllegalArgumentException(
                    "metadata lists " + layerNodes.size() + " layers, the model has " + info.layers());
        }
        SafeTensors.Reader tensors = content;
        List<Calibration.Layer> layers = new ArrayList<>();
        int m = map.features(), d = info.headSize();
        for (int i = 0; i < info.layers(); i++) {
            JsonNode n = layerNodes.get(i);
            float[] gains = tensor(tensors, gainName(i), info.heads());
            float[][] centroids = map.centroids() ? new float[info.kvHeads()][] : null;
            float[][] weights = new float[info.kvHeads()][];
            for (int h = 0; h < info.kvHeads(); h++) {
                if (map.centroids()) {
                    centroids[h] = tensor(tensors, headName(i, h, "centroids"), m, d);
                    weights[h] = tensor(tensors, headName(i, h, "log_weights"), m);
                } else {
                    weights[h] = tensor(tensors, headName(i, h, "kernel_weights"), m);
                }
            }
            layers.add(new Calibration.Layer(
                    integer(n, "sinks"),
                    integer(n, "window"),
                    integer(n, "exact_cache"),
                    policy(text(n, "cache_policy")),
                    gains,
                    centroids,
                    weights,
                    optionalNumber(n, "attention_error_window"),
                    optionalNumber(n, "attention_error_memory"),
                    optionalNumber(n, "calibration_kl")));
        }
        Map<String, Double> results = new LinkedHashMap<>();
        root.path("results").fields().forEachRemaining(e -> results.put(e.getKey(), optionalNumber(e.getValue())));
        return new Calibration(info, map, settings, layers, results);
    }

    private static FeatureMapKind mapKind(String value) {
        try {
            return FeatureMapKind.parse(value);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("memory map kind " + e.getMessage());
        }
    }

    private static ExactCachePolicy policy(String value) {
        try {
            return SettingKeys.cachePolicy(value);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("cache_policy " + e.getMessage());
        }
    }

    private static float[] tensor(SafeTensors.Reader tensors, String name, int... shape) {
        if (!tensors.has(name)) throw new IllegalArgumentException("tensor '" + name + "' is missing");
        SafeTensors.Tensor t = tensors.get(name, shape);
        for (float v : t.data()) {
            if (!Float.isFinite(v)) throw new IllegalArgumentException("tensor '" + name + "' holds NaN or infinity");
        }
        return t.data();
    }

    private static JsonNode field(JsonNode n, String key) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) throw new IllegalArgumentException("metadata has no '" + key + "'");
        return v;
    }

    private static String text(JsonNode n, String key) {
        return field(n, key).asText();
    }

    private static int integer(JsonNode n, String key) {
        JsonNode v = field(n, key);
        if (!v.canConvertToInt()) throw new IllegalArgumentException("metadata '" + key + "' is not a whole number");
        return v.asInt();
    }

    private static long longValue(JsonNode n, String key) {
        JsonNode v = field(n, key);
        if (!v.canConvertToLong()) throw new IllegalArgumentException("metadata '" + key + "' is not a whole number");
        return v.asLong();
    }

    private static double number(JsonNode n, String key) {
        JsonNode v = field(n, key);
        if (!v.isNumber()) throw new IllegalArgumentException("metadata '" + key + "' is not a number");
        return v.asDouble();
    }

    private static double optionalNumber(JsonNode n, String key) {
        return optionalNumber(n.get(key));
    }

    private static double optionalNumber(JsonNode v) {
        return v == null || !v.isNumber() ? Double.NaN : v.asDouble();
    }
}
