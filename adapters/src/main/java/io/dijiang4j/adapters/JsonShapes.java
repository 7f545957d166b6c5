package io.dijiang4j.adapters;

import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.json.JsonArraySchema;
import dev.langchain4j.model.chat.request.json.JsonBooleanSchema;
import dev.langchain4j.model.chat.request.json.JsonEnumSchema;
import dev.langchain4j.model.chat.request.json.JsonIntegerSchema;
import dev.langchain4j.model.chat.request.json.JsonNullSchema;
import dev.langchain4j.model.chat.request.json.JsonNumberSchema;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonSchemaElement;
import dev.langchain4j.model.chat.request.json.JsonStringSchema;
import io.dijiang4j.plugin.generation.JsonShape;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** A request's {@link ResponseFormat} as the shape constrained decoding enforces. */
final class JsonShapes {
    private JsonShapes() {}

    /** Empty for text; an object of any keys for JSON without a schema; else the schema's shape. */
    static Optional<JsonShape> of(ResponseFormat format) {
        if (format == null || format.type() != ResponseFormatType.JSON) {
            return Optional.empty();
        }
        if (format.jsonSchema() == null || format.jsonSchema().rootElement() == null) {
            return Optional.of(new JsonShape.AnyObject());
        }
        return Optional.of(shape(format.jsonSchema().rootElement(), "$"));
    }

    /** Every property of an object schema is written (required or not), in its order. */
    static JsonShape shape(JsonSchemaElement element, String path) {
        return switch (element) {
            case JsonObjectSchema object -> {
                if (object.properties() == null || object.properties().isEmpty()) {
                    yield new JsonShape.AnyObject();
                }
                Map<String, JsonShape> properties = new LinkedHashMap<>();
                object.properties().forEach((name, value) -> properties.put(name, shape(value, path + "." + name)));
                yield new JsonShape.ObjectOf(properties);
            }
            case JsonArraySchema array ->
                new JsonShape.ArrayOf(
                        array.items() == null ? new JsonShape.AnyValue() : shape(array.items(), path + "[]"));
            case JsonStringSchema string -> new JsonShape.StringValue();
            case JsonEnumSchema enumeration -> {
                try {
                    yield new JsonShape.OneOf(enumeration.enumValues());
                } catch (IllegalArgumentException e) {
                    throw ChatRequests.unsupported("JSON schema at " + path + ": " + e.getMessage());
                }
            }
            case JsonIntegerSchema integer -> new JsonShape.IntegerValue();
            case JsonNumberSchema number -> new JsonShape.NumberValue();
            case JsonBooleanSchema bool -> new JsonShape.BooleanValue();
            case JsonNullSchema none -> new JsonShape.NullValue();
            default ->
                throw ChatRequests.unsupported(
                        "JSON schema element " + element.getClass().getSimpleName() + " at " + path
                                + " (objects, arrays, strings, enums, integers, numbers, booleans, null)");
        };
    }
}
