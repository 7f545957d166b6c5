package io.dijiang4j.adapters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.json.JsonAnyOfSchema;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonSchema;
import dev.langchain4j.model.chat.request.json.JsonStringSchema;
import java.util.Set;
import org.junit.jupiter.api.Test;

class JsonOutputTest {
    static ChatRequest jsonRequest(JsonSchema schema) {
        return ChatRequest.builder()
                .messages(UserMessage.from("who?"))
                .parameters(ChatRequestParameters.builder()
                        .responseFormat(ResponseFormat.builder()
                                .type(ResponseFormatType.JSON)
                                .jsonSchema(schema)
                                .build())
                        .build())
                .build();
    }

    static JsonSchema nameSchema() {
        return JsonSchema.builder()
                .name("Person")
                .rootElement(JsonObjectSchema.builder()
                        .addStringProperty("name")
                        .addIntegerProperty("age")
                        .required("name", "age")
                        .build())
                .build();
    }

    @Test
    void chatModelsDeclareJsonSchemaOutput() {
        assertEquals(
                Set.of(Capability.RESPONSE_FORMAT_JSON_SCHEMA),
                DiJiangChatModel.builder().engine(new FakeEngine()).build().supportedCapabilities());
        assertEquals(
                Set.of(Capability.RESPONSE_FORMAT_JSON_SCHEMA),
                DiJiangStreamingChatModel.builder()
                        .engine(new FakeEngine())
                        .build()
                        .supportedCapabilities());
    }

    @Test
    void validOutputPassesUnchangedAndInvalidOutputIsSteeredToTheSchema() {
        String valid = "{\"name\":\"Ann\",\"age\":7}";
        DiJiangChatModel model = DiJiangChatModel.builder()
                .engine(new ScriptedEngine(true, prompt -> valid))
                .temperature(0.0)
                .build();
        assertEquals(valid, model.chat(jsonRequest(nameSchema())).aiMessage().text());
        // a model that would answer in prose writes the schema's JSON instead (the first allowed token each step)
        DiJiangChatModel prose = DiJiangChatModel.builder()
                .engine(new ScriptedEngine(true, prompt -> "Sure! Ann is 7."))
                .temperature(0.0)
                .maxOutputTokens(40)
                .build();
        String text = prose.chat(jsonRequest(nameSchema())).aiMessage().text();
        // (the first allowed tokens are whitespace, which JSON allows before a value)
        assertTrue(text.strip().matches("\\{\"name\":\".*\",\"age\":-?\\d+}"), text);
        String any = prose.chat(jsonRequest(null)).aiMessage().text().strip();
        assertTrue(any.startsWith("{") && any.endsWith("}"), any);
    }

    @Test
    void schemaElementsWithoutAShapeAreRefusedByName() {
        DiJiangChatModel model = DiJiangChatModel.builder()
                .engine(new ScriptedEngine(true, prompt -> "{}"))
                .build();
        JsonSchema anyOf = JsonSchema.builder()
                .name("Either")
                .rootElement(JsonObjectSchema.builder()
                        .addProperty(
                                "value",
                                JsonAnyOfSchema.builder()
                                        .anyOf(new JsonStringSchema(), new JsonStringSchema())
                                        .build())
                        .build())
                .build();
        var error = assertThrows(UnsupportedFeatureException.class, () -> model.chat(jsonRequest(anyOf)));
        assertTrue(error.getMessage().contains("JsonAnyOfSchema at $.value"), error.getMessage());
    }
}
