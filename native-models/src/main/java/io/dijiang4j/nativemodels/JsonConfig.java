package io.dijiang4j.nativemodels;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Typed reads of a config.json with one-line errors naming the missing or bad key. */
public final class JsonConfig {

    private final JsonNode root;
    private final Path file;

    private JsonConfig(JsonNode root, Path file) {
        this.root = root;
        this.file = file;
    }

    public static JsonConfig read(Path dir) {
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("no config.json in " + dir);
        try {
            JsonNode root = new ObjectMapper().readTree(file.toFile());
            if (root == null || !root.isObject()) throw new IllegalArgumentException(file + " is not a JSON object");
            return new JsonConfig(root, file);
        } catch (IOException e) {
            throw new IllegalArgumentException(
                    "cannot parse " + file + ": " + e.getMessage().split("\n")[0]);
        }
    }

    public JsonNode root() {
        return root;
    }

    public boolean has(String key) {
        return root.hasNonNull(key);
    }

    private JsonNode need(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) throw new IllegalArgumentException(file + ": missing '" + key + "'");
        return n;
    }

    public int integer(String key) {
        JsonNode n = need(key);
        if (!n.canConvertToInt() || !n.isIntegralNumber()) {
            throw new IllegalArgumentException(file + ": '" + key + "' must be an integer, got " + n);
        }
        return n.asInt();
    }

    public int integer(String key, int dflt) {
        return has(key) ? integer(key) : dflt;
    }

    public double number(String key, double dflt) {
        if (!has(key)) return dflt;
        JsonNode n = need(key);
        if (!n.isNumber()) throw new IllegalArgumentException(file + ": '" + key + "' must be a number, got " + n);
        return n.asDouble();
    }

    public boolean bool(String key, boolean dflt) {
        if (!has(key)) return dflt;
        JsonNode n = need(key);
        if (!n.isBoolean()) throw new IllegalArgumentException(file + ": '" + key + "' must be true or false");
        return n.asBoolean();
    }

    public String text(String key, String dflt) {
        return has(key) ? need(key).asText() : dflt;
    }

    /** A positive integer, checked. */
    public int positive(String key) {
        int v = integer(key);
        if (v <= 0) throw new IllegalArgumentException(file + ": '" + key + "' must be > 0, got " + v);
        return v;
    }
}
