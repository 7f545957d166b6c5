package io.dijiang4j.adapters;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.github.tjake.jlama.safetensors.prompt.Function;
import com.github.tjake.jlama.safetensors.prompt.Tool;
import com.github.tjake.jlama.safetensors.prompt.ToolCall;
import com.github.tjake.jlama.util.JsonSupport;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.internal.JsonSchemaElementUtils;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonSchemaElement;
import io.dijiang4j.plugin.generation.JsonShape;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tools as langchain4j-jlama handles them, so that an application sees the same prompts and calls on both: the
 * request's specifications become Jlama tools (its conversion), and a generation that ended at an end token and
 * names one of them is read back as the JSON calls it holds (Jlama's {@code AbstractModel.postProcessResponse}: every
 * JSON object or array in the text, duplicates dropped, sorted by name, ids {@code 000000000}, {@code 000000001}...).
 */
final class ToolCalls {
    private ToolCalls() {}

    /** The tools the prompt offers: none without specifications, and none when the request says NONE. */
    static List<Tool> offered(ChatRequestParameters parameters) {
        if (parameters.toolSpecifications() == null || parameters.toolChoice() == ToolChoice.NONE) {
            return List.of();
        }
        return parameters.toolSpecifications().stream().map(ToolCalls::toTool).toList();
    }

    /** langchain4j-jlama's {@code JlamaModel.toTool} (package-private there), line for line. */
    static Tool toTool(ToolSpecification specification) {
        Function.Builder builder = Function.builder().name(specification.name());
        if (specification.description() != null) {
            builder.description(specification.description());
        }
        if (specification.parameters() != null) {
            JsonObjectSchema parameters = specification.parameters();
            for (Map.Entry<String, JsonSchemaElement> p :
                    parameters.properties().entrySet()) {
                builder.addParameter(
                        p.getKey(),
                        JsonSchemaElementUtils.toMap(p.getValue()),
                        parameters.required().contains(p.getKey()));
            }
        }
        return Tool.from(builder.build());
    }

    /**
     * What toolChoice REQUIRED decodes to: one call as the templates ask for it and Jlama reads it, {@code {"name":
     * one of the tools, "parameters": an object}} (the arguments are not checked against the tool's schema).
     */
    static JsonShape requiredCall(List<ToolSpecification> specifications) {
        Map<String, JsonShape> call = new LinkedHashMap<>();
        call.put(
                "name",
                new JsonShape.OneOf(
                        specifications.stream().map(ToolSpecification::name).toList()));
        call.put("parameters", new JsonShape.AnyObject());
        return new JsonShape.ObjectOf(call);
    }

    /** The calls in a generated text; empty when it holds none (then the text is the answer). */
    static List<ToolExecutionRequest> parse(String text, List<Tool> offered) {
        if (offered.stream().noneMatch(tool -> text.contains(tool.getFunction().getName()))) {
            return List.of();
        }
        List<ToolCall> calls = new ArrayList<>();
        try {
            for (String json : JsonSupport.extractJsonFromString(text)) {
                if (json.startsWith("[")) {
                    calls.addAll(JsonSupport.om.readValue(json, new TypeReference<List<ToolCall>>() {}));
                } else {
                    calls.add(JsonSupport.om.readValue(json, ToolCall.class));
                }
            }
        } catch (JsonProcessingException e) {
            return List.of(); // as Jlama: text that is not a call is an answer
        }
        List<ToolCall> distinct = calls.stream()
                .filter(call -> call.getName() != null)
                .sorted(Comparator.comparing(ToolCall::getName))
                .distinct()
                .toList();
        List<ToolExecutionRequest> requests = new ArrayList<>(distinct.size());
        for (int i = 0; i < distinct.size(); i++) {
            ToolCall call = distinct.get(i);
            requests.add(ToolExecutionRequest.builder()
                    .id(String.format("%09d", i))
                    .name(call.getName())
                    .arguments(JsonSupport.toJson(call.getParameters() == null ? Map.of() : call.getParameters()))
                    .build());
        }
        return requests;
    }
}
