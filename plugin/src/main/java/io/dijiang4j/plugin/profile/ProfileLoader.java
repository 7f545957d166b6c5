package io.dijiang4j.plugin.profile;

import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.plugin.generation.GenerationOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * Reads a YAML profile into a {@link Profile}. Works on SnakeYAML's node tree (not a loaded map) so that every
 * error names the file, the line and the key. Relative model paths are resolved against the YAML file's directory.
 */
public final class ProfileLoader {
    /** Every key a profile may have. */
    public static final Set<String> KEYS = new LinkedHashSet<>(List.of(
            "model",
            "model_cache",
            "mode",
            "layers",
            "except_layers",
            "feature_map",
            "features",
            "sinks",
            "window",
            "exact_cache",
            "budget",
            "cache_policy",
            "calibration",
            "block_size",
            "decay",
            "backend",
            "feature_seed",
            "check_weights",
            "seed",
            "max_tokens",
            "temperature",
            "top_p",
            "top_k"));

    /**
     * Upper bound of sinks, window, exact cache, budget and features: a state is allocated whole when a session
     * starts (per KV head, this many rows of the head size), so a mistyped huge value would otherwise end in an
     * OutOfMemoryError or an int overflow instead of one line; 2^20 is far beyond any useful setting.
     */
    public static final int MAX_TOKENS_PER_HEAD = 1 << 20;

    /** Upper bound of block_size: the chunked form holds a block x block score matrix. */
    public static final int MAX_BLOCK_SIZE = 4096;

    private ProfileLoader() {}

    public static Profile load(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ProfileException(file + ": profile file not found");
        } catch (IOException e) {
            throw new ProfileException(file + ": cannot read the profile: " + e.getMessage());
        }
        return parse(text, file);
    }

    /** Parses profile text; {@code file} (may be null) names it in errors and anchors relative paths. */
    public static Profile parse(String text, Path file) {
        Node root;
        try (java.io.Reader reader = new java.io.StringReader(text)) {
            root = new Yaml(new LoaderOptions()).compose(reader);
        } catch (MarkedYAMLException e) {
            int line = e.getProblemMark() == null ? 0 : e.getProblemMark().getLine() + 1;
            throw ProfileException.at(file, line, null, "not valid YAML: " + e.getProblem());
        } catch (IOException | RuntimeException e) {
            throw ProfileException.at(file, 0, null, "not valid YAML: " + e.getMessage());
        }
        if (root == null) throw ProfileException.at(file, 0, null, "the profile is empty; it needs at least 'model'");
        if (!(root instanceof MappingNode mapping)) {
            throw ProfileException.at(file, line(root), null, "a profile is a mapping of keys to values");
        }
        Map<String, Node> values = new HashMap<>();
        Map<String, Integer> lines = new HashMap<>();
        for (NodeTuple tuple : mapping.getValue()) {
            Node keyNode = tuple.getKeyNode();
            if (!(keyNode instanceof ScalarNode scalarKey)) {
                throw ProfileException.at(file, line(keyNode), null, "keys must be plain names");
            }
            String key = scalarKey.getValue();
            if (!KEYS.contains(key)) {
                throw ProfileException.at(
                        file, line(keyNode), key, "unknown key" + suggestion(key) + " (known keys: " + KEYS + ")");
            }
            if (values.containsKey(key)) throw ProfileException.at(file, line(keyNode), key, "key given twice");
            values.put(key, tuple.getValueNode());
            lines.put(key, line(keyNode));
        }
        Values r = new Values(file, values);
        Profile.Source source = new Profile.Source(file, lines);
        if (!values.containsKey("model")) throw ProfileException.at(file, 0, "model", "missing (a model directory)");

        ModelReference model = r.choice("model", value -> ModelReference.parse(value, path -> resolve(file, path)));
        Profile d = Profile.defaults(model);
        Path cache = values.containsKey("model_cache") ? resolve(file, r.string("model_cache")) : d.modelCache();
        Mode mode = values.containsKey("mode") ? r.choice("mode", Mode::parse) : d.mode();
        LayerSelection layers = LayerSelection.all();
        if (values.containsKey("layers") && values.containsKey("except_layers")) {
            throw r.error("except_layers", "give either 'layers' or 'except_layers', not both");
        }
        if (values.containsKey("layers")) {
            Node n = values.get("layers");
            if (n instanceof ScalarNode s && s.getValue().equalsIgnoreCase("all")) layers = LayerSelection.all();
            else layers = LayerSelection.only(r.intList("layers"));
        } else if (values.containsKey("except_layers")) {
            layers = LayerSelection.allBut(r.intList("except_layers"));
        }
        FeatureMapKind featureMap = values.containsKey("feature_map")
                ? r.choice("feature_map", FeatureMapKind::parse)
                : Profile.defaultFeatureMap(mode);
        int features = values.containsKey("features") ? r.integer("features") : d.features();
        if (features < 1) throw r.error("features", "must be a positive number of features, got " + features);
        r.atMost("features", features, MAX_TOKENS_PER_HEAD);
        int sinks = values.containsKey("sinks") ? r.integer("sinks") : d.sinks();
        if (sinks < 0) throw r.error("sinks", "must be >= 0, got " + sinks);
        r.atMost("sinks", sinks, MAX_TOKENS_PER_HEAD);
        int window = values.containsKey("window") ? r.integer("window") : d.window();
        if (window < 0) throw r.error("window", "must be >= 0, got " + window);
        r.atMost("window", window, MAX_TOKENS_PER_HEAD);
        int exactCache = values.containsKey("exact_cache") ? r.integer("exact_cache") : d.exactCache();
        if (exactCache < 0)
            throw r.error("exact_cache", "must be >= 0 (evicted tokens per KV head), got " + exactCache);
        r.atMost("exact_cache", exactCache, MAX_TOKENS_PER_HEAD);
        if (values.containsKey("budget")) {
            int budget = r.integer("budget");
            r.atMost("budget", budget, MAX_TOKENS_PER_HEAD);
            try {
                ExactBudget split = ExactBudget.split(
                        budget,
                        values.containsKey("sinks") ? sinks : null,
                        values.containsKey("window") ? window : null,
                        values.containsKey("exact_cache") ? exactCache : null);
                sinks = split.sinks();
                window = split.window();
                exactCache = split.exactCache();
            } catch (IllegalArgumentException e) {
                throw r.error("budget", e.getMessage());
            }
        }
        ExactCachePolicy cachePolicy = values.containsKey("cache_policy")
                ? r.choice("cache_policy", SettingKeys::cachePolicy)
                : d.cachePolicy();
        CalibrationChoice calibration = d.calibration();
        if (values.containsKey("calibration")) {
            String value = r.string("calibration");
            if (value.equalsIgnoreCase("none")) calibration = CalibrationChoice.NONE;
            else if (value.equalsIgnoreCase("auto")) calibration = CalibrationChoice.AUTO;
            else calibration = CalibrationChoice.file(resolve(file, value));
        }
        int blockSize = values.containsKey("block_size") ? r.integer("block_size") : d.blockSize();
        if (blockSize < 1) throw r.error("block_size", "must be >= 1, got " + blockSize);
        r.atMost("block_size", blockSize, MAX_BLOCK_SIZE);
        double decay = values.containsKey("decay") ? r.number("decay") : d.decay();
        if (!(decay > 0 && decay <= 1)) throw r.error("decay", "must be in (0, 1], got " + decay);
        Backend backend = values.containsKey("backend") ? r.choice("backend", Backend::parse) : d.backend();
        long featureSeed = values.containsKey("feature_seed") ? r.longValue("feature_seed") : d.featureSeed();
        boolean checkWeights = values.containsKey("check_weights") ? r.bool("check_weights") : d.checkWeights();

        GenerationOptions g = d.generation();
        int maxTokens = values.containsKey("max_tokens") ? r.integer("max_tokens") : g.maxTokens();
        if (maxTokens < 0) throw r.error("max_tokens", "must be >= 0, got " + maxTokens);
        double temperature = values.containsKey("temperature") ? r.number("temperature") : g.temperature();
        if (!(temperature >= 0)) throw r.error("temperature", "must be >= 0, got " + temperature);
        double topP = values.containsKey("top_p") ? r.number("top_p") : g.topP();
        if (!(topP > 0 && topP <= 1)) throw r.error("top_p", "must be in (0, 1], got " + topP);
        int topK = values.containsKey("top_k") ? r.integer("top_k") : g.topK();
        if (topK < 0) throw r.error("top_k", "must be >= 0, got " + topK);
        Long seed = values.containsKey("seed") ? Long.valueOf(r.longValue("seed")) : g.seed();
        GenerationOptions generation = new GenerationOptions(
                maxTokens, (float) temperature, (float) topP, topK, seed, g.stopAtEndToken(), g.stopSequences());
        return new Profile(
                model,
                cache,
                mode,
                layers,
                featureMap,
                features,
                sinks,
                window,
                exactCache,
                cachePolicy,
                calibration,
                blockSize,
                decay,
                backend,
                featureSeed,
                checkWeights,
                generation,
                source);
    }

    private static Path resolve(Path file, String value) {
        Path p = Path.of(value.startsWith("~/") ? System.getProperty("user.home") + value.substring(1) : value);
        if (p.isAbsolute() || file == null) return p.normalize();
        Path dir = file.toAbsolutePath().getParent();
        return dir.resolve(p).normalize();
    }

    private static String suggestion(String key) {
        String best = null;
        int bestDistance = 3;
        for (String known : KEYS) {
            int d = distance(key.toLowerCase(Locale.ROOT), known);
            if (d < bestDistance) {
                bestDistance = d;
                best = known;
            }
        }
        return best == null ? "" : " (did you mean '" + best + "'?)";
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    private static int line(Node n) {
        return n.getStartMark() == null ? 0 : n.getStartMark().getLine() + 1;
    }

    /** Typed access to the values, each error naming the value's own line. */
    private record Values(Path file, Map<String, Node> values) {
        ProfileException error(String key, String message) {
            return ProfileException.at(file, line(values.get(key)), key, message);
        }

        private ScalarNode scalar(String key, String expected) {
            Node n = values.get(key);
            if (!(n instanceof ScalarNode s) || s.getValue().isEmpty()) {
                throw error(key, "expected " + expected + ", got " + describe(n));
            }
            return s;
        }

        String string(String key) {
            return scalar(key, "a text value").getValue();
        }

        /** A text value that {@code parse} turns into a typed one; its IllegalArgumentException names the key. */
        <T> T choice(String key, java.util.function.Function<String, T> parse) {
            try {
                return parse.apply(string(key));
            } catch (ProfileException e) {
                throw e;
            } catch (IllegalArgumentException e) {
                throw error(key, e.getMessage());
            }
        }

        long longValue(String key) {
            String v = scalar(key, "a whole number").getValue().replace("_", "");
            try {
                return Long.parseLong(v);
            } catch (NumberFormatException e) {
                throw error(key, "expected a whole number, got '" + v + "'");
            }
        }

        int integer(String key) {
            long v = longValue(key);
            if (v != (int) v) throw error(key, "number too large: " + v);
            return (int) v;
        }

        void atMost(String key, long value, long max) {
            if (value > max) throw error(key, "must be at most " + max + ", got " + value);
        }

        boolean bool(String key) {
            String v = scalar(key, "true or false").getValue().strip();
            if (v.equalsIgnoreCase("true")) return true;
            if (v.equalsIgnoreCase("false")) return false;
            throw error(key, "expected true or false, got '" + v + "'");
        }

        double number(String key) {
            String v = scalar(key, "a number").getValue();
            try {
                double d = Double.parseDouble(v);
                if (!Double.isFinite(d)) throw new NumberFormatException();
                return d;
            } catch (NumberFormatException e) {
                throw error(key, "expected a number, got '" + v + "'");
            }
        }

        List<Integer> intList(String key) {
            Node n = values.get(key);
            if (!(n instanceof SequenceNode seq)) {
                throw error(key, "expected 'all' or a list of layer indices like [0, 2], got " + describe(n));
            }
            List<Integer> out = new ArrayList<>();
            for (Node item : seq.getValue()) {
                if (!(item instanceof ScalarNode s)) throw error(key, "list items must be layer indices");
                try {
                    int layer = Integer.parseInt(s.getValue().strip());
                    if (layer < 0) throw error(key, "layer index must be >= 0, got " + layer);
                    out.add(layer);
                } catch (NumberFormatException e) {
                    throw error(key, "list items must be layer indices, got '" + s.getValue() + "'");
                }
            }
            return out;
        }

        private static String describe(Node n) {
            if (n instanceof ScalarNode s) return s.getValue().isEmpty() ? "nothing" : "'" + s.getValue() + "'";
            if (n instanceof SequenceNode) return "a list";
            if (n instanceof MappingNode) return "a mapping";
            return "nothing";
        }
    }
}
