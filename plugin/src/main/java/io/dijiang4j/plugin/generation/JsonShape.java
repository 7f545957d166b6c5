package io.dijiang4j.plugin.generation;

import java.util.List;
import java.util.Map;

/**
 * The part of JSON Schema that {@link JsonConstraint} enforces: a value of any kind, an object with named properties
 * (written in their order, all of them), an array, a string, one of fixed strings, an integer, a number, a boolean,
 * null.
 */
public sealed interface JsonShape {
    /** Any JSON value. */
    record AnyValue() implements JsonShape {}

    /** An object with any keys. */
    record AnyObject() implements JsonShape {}

    /** An object with exactly these properties, in this order. */
    record ObjectOf(Map<String, JsonShape> properties) implements JsonShape {
        public ObjectOf {
            properties = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(properties));
        }
    }

    record ArrayOf(JsonShape items) implements JsonShape {}

    record StringValue() implements JsonShape {}

    /** One of these strings (written without escapes: none may hold a quote, a backslash or a control character). */
    record OneOf(List<String> values) implements JsonShape {
        public OneOf {
            values = List.copyOf(values);
            if (values.isEmpty()) throw new IllegalArgumentException("an enumeration needs at least one value");
            for (String v : values) {
                if (v.chars().anyMatch(c -> c == '"' || c == '\\' || c < 0x20)) {
                    throw new IllegalArgumentException("enumeration value needs escaping: " + v);
                }
            }
        }
    }

    record IntegerValue() implements JsonShape {}

    record NumberValue() implements JsonShape {}

    record BooleanValue() implements JsonShape {}

    record NullValue() implements JsonShape {}

    /** Characters of the shortest value of this shape. */
    static int shortest(JsonShape shape) {
        return switch (shape) {
            case AnyValue any -> 1; // 0
            case AnyObject object -> 2; // {}
            case ObjectOf object -> {
                int n = 2 + Math.max(0, object.properties().size() - 1); // braces and commas
                for (Map.Entry<String, JsonShape> p : object.properties().entrySet()) {
                    n += p.getKey().length() + 3 + shortest(p.getValue()); // "key":
                }
                yield n;
            }
            case ArrayOf array -> 2;
            case StringValue string -> 2;
            case OneOf oneOf ->
                2 + oneOf.values().stream().mapToInt(String::length).min().orElseThrow();
            case IntegerValue integer -> 1;
            case NumberValue number -> 1;
            case BooleanValue bool -> 4; // true
            case NullValue none -> 4;
        };
    }
}
