package io.dijiang4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.dijiang4j.plugin.generation.ChatTurn;
import io.dijiang4j.plugin.generation.GenerationOptions;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * One parsed request of POST /v1/chat/completions or /v1/completions: its chat turns or raw prompt and the
 * {@link GenerationOptions} it asks for over the profile's. Validated as OpenAI validates: a parameter this server
 * cannot honour (tools, logprobs, penalties, n > 1...) is a 400 naming it, an unknown one a 400 "Unrecognized request
 * argument", a value out of range a 400 naming the parameter; nothing is ignored.
 *
 * @param turns the chat's messages (chat completions), else null
 * @param prompt the raw prompt (completions), else null
 */
record OpenAiRequest(
        String model, List<ChatTurn> turns, String prompt, GenerationOptions options, boolean stream, boolean usage) {

    enum Endpoint {
        CHAT,
        COMPLETIONS
    }

    /** Accepted with a neutral value only (what they would change is not implemented). */
    private static final Map<String, String> NEUTRAL = Map.of(
            "n", "1",
            "frequency_penalty", "0",
            "presence_penalty", "0",
            "logprobs", "false",
            "best_of", "1",
            "echo", "false");

    /** OpenAI parameters of these endpoints this server refuses whatever their value (beside those of NEUTRAL). */
    private static final Set<String> UNSUPPORTED = Set.of(
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "functions",
            "function_call",
            "response_format",
            "logit_bias",
            "top_logprobs",
            "audio",
            "modalities",
            "prediction",
            "reasoning_effort",
            "service_tier",
            "store",
            "metadata",
            "web_search_options",
            "suffix");

    private static final Set<String> CHAT_KEYS = Set.of(
            "model",
            "messages",
            "stream",
            "stream_options",
            "temperature",
            "top_p",
            "max_tokens",
            "max_completion_tokens",
            "stop",
            "seed",
            "user");

    private static final Set<String> COMPLETION_KEYS = Set.of(
            "model",
            "prompt",
            "stream",
            "stream_options",
            "temperature",
            "top_p",
            "max_tokens",
            "stop",
            "seed",
            "user");

    static OpenAiRequest parse(Endpoint endpoint, JsonNode body, GenerationOptions defaults, ServerSettings limits) {
        if (body == null || !body.isObject()) {
            throw ApiException.invalid("The request body must be a JSON object.", null, null);
        }
        Set<String> keys = endpoint == Endpoint.CHAT ? CHAT_KEYS : COMPLETION_KEYS;
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            JsonNode value = body.get(key);
            if (keys.contains(key)) continue;
            String neutral = NEUTRAL.get(key);
            if (neutral != null) {
                if (value.isNull()
                        || value.asText().equals(neutral)
                        || (value.isNumber() && value.asDouble() == 0 && neutral.equals("0"))) continue;
                throw ApiException.unsupported(key, "is only supported as " + neutral);
            }
            if (UNSUPPORTED.contains(key) || key.equals("top_k")) {
                if (value.isNull()) continue;
                throw ApiException.unsupported(key, "is not supported");
            }
            throw ApiException.invalid("Unrecognized request argument supplied: " + key, null, null);
        }

        JsonNode model = body.get("model");
        if (model == null || model.isNull()) {
            throw ApiException.invalid("You must provide a model parameter.", "model", null);
        }
        if (!model.isTextual())
            throw ApiException.invalid("Invalid type for 'model': expected a string.", "model", null);

        GenerationOptions o = defaults;
        Double temperature = number(body, "temperature", 0, 2);
        if (temperature != null) o = o.withTemperature(temperature.floatValue());
        Double topP = number(body, "top_p", 0, 1);
        if (topP != null) {
            if (topP == 0) throw ApiException.unsupported("top_p", "must be > 0 (use temperature 0 for greedy)");
            o = o.withTopP(topP.floatValue());
        }
        Integer maxTokens = integer(body, "max_tokens", limits.maxOutputTokens());
        Integer maxCompletion = integer(body, "max_completion_tokens", limits.maxOutputTokens());
        if (maxTokens != null && maxCompletion != null) {
            throw ApiException.invalid(
                    "Set max_tokens or max_completion_tokens, not both.", "max_completion_tokens", null);
        }
        Integer max = maxCompletion != null ? maxCompletion : maxTokens;
        o = o.withMaxTokens(max != null ? max : Math.min(o.maxTokens(), limits.maxOutputTokens()));
        o = o.withStopSequences(stops(body.get("stop"), o.stopSequences()));
        JsonNode seed = body.get("seed");
        if (seed != null && !seed.isNull()) {
            if (!seed.isIntegralNumber() || !seed.canConvertToLong()) {
                throw ApiException.invalid("Invalid type for 'seed': expected an integer.", "seed", "invalid_type");
            }
            o = o.withSeed(seed.asLong());
        }
        textOrNull(body, "user");

        boolean stream = bool(body, "stream");
        boolean usage = false;
        JsonNode streamOptions = body.get("stream_options");
        if (streamOptions != null && !streamOptions.isNull()) {
            if (!stream) {
                throw ApiException.invalid(
                        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                        "stream_options",
                        null);
            }
            if (!streamOptions.isObject()) {
                throw ApiException.invalid(
                        "Invalid type for 'stream_options': expected an object.", "stream_options", "invalid_type");
            }
            for (Iterator<String> it = streamOptions.fieldNames(); it.hasNext(); ) {
                String key = it.next();
                if (!key.equals("include_usage")) {
                    throw ApiException.invalid(
                            "Unrecognized request argument supplied: stream_options." + key, null, null);
                }
            }
            usage = bool(streamOptions, "include_usage");
        }

        if (endpoint == Endpoint.CHAT) {
            return new OpenAiRequest(model.asText(), turns(body.get("messages")), null, o, stream, usage);
        }
        return new OpenAiRequest(model.asText(), null, prompt(body.get("prompt")), o, stream, usage);
    }

    private static List<ChatTurn> turns(JsonNode messages) {
        if (messages == null || messages.isNull()) {
            throw ApiException.invalid(
                    "Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
        }
        if (!messages.isArray()) {
            throw ApiException.invalid("Invalid type for 'messages': expected an array.", "messages", "invalid_type");
        }
        if (messages.isEmpty()) {
            throw ApiException.invalid(
                    "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty"
                            + " array instead.",
                    "messages",
                    "empty_array");
        }
        List<ChatTurn> turns = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            JsonNode m = messages.get(i);
            String where = "messages[" + i + "]";
            if (!m.isObject())
                throw ApiException.invalid(
                        "Invalid type for '" + where + "': expected an object.", where, "invalid_type");
            for (Iterator<String> it = m.fieldNames(); it.hasNext(); ) {
                String key = it.next();
                if (key.equals("role") || key.equals("content") || key.equals("name")) continue;
                if (m.get(key).isNull()) continue;
                throw ApiException.unsupported(where + "." + key, "is not supported");
            }
            String role = m.path("role").asText("");
            ChatTurn.Role r = switch (role) {
                case "system", "developer" -> ChatTurn.Role.SYSTEM;
                case "user" -> ChatTurn.Role.USER;
                case "assistant" -> ChatTurn.Role.ASSISTANT;
                case "tool", "function" ->
                    throw ApiException.unsupported(where + ".role", "'" + role + "' is not" + " supported (no tools)");
                default ->
                    throw ApiException.invalid(
                            "Invalid value for '" + where
                                    + ".role': expected one of system, developer, user, assistant.",
                            where + ".role",
                            "invalid_value");
            };
            turns.add(new ChatTurn(r, content(m.get("content"), where + ".content")));
        }
        return turns;
    }

    /** A string, or an array of {"type": "text", "text": ...} parts. */
    private static String content(JsonNode content, String where) {
        if (content == null || content.isNull()) {
            throw ApiException.invalid(
                    "Missing required parameter: '" + where + "'.", where, "missing_required_parameter");
        }
        if (content.isTextual()) return content.asText();
        if (!content.isArray())
            throw ApiException.invalid(
                    "Invalid type for '" + where + "': expected a string or" + " an array of text parts.",
                    where,
                    "invalid_type");
        StringBuilder text = new StringBuilder();
        for (JsonNode part : content) {
            String type = part.path("type").asText("");
            if (!type.equals("text") || !part.path("text").isTextual()) {
                throw ApiException.unsupported(where, "with parts of type '" + type + "' is not supported (text only)");
            }
            text.append(part.get("text").asText());
        }
        return text.toString();
    }

    private static String prompt(JsonNode prompt) {
        if (prompt == null || prompt.isNull()) {
            throw ApiException.invalid("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
        }
        if (prompt.isTextual()) return prompt.asText();
        if (prompt.isArray() && prompt.size() == 1 && prompt.get(0).isTextual())
            return prompt.get(0).asText();
        throw ApiException.unsupported("prompt", "is supported as one string only (no batches, no token arrays)");
    }

    private static List<String> stops(JsonNode stop, List<String> defaults) {
        if (stop == null || stop.isNull()) return defaults;
        List<String> out = new ArrayList<>();
        if (stop.isTextual()) out.add(stop.asText());
        else if (stop.isArray()) {
            for (JsonNode s : stop) {
                if (!s.isTextual())
                    throw ApiException.invalid(
                            "Invalid type for 'stop': expected a string or an array" + " of strings.",
                            "stop",
                            "invalid_type");
                out.add(s.asText());
            }
        } else {
            throw ApiException.invalid(
                    "Invalid type for 'stop': expected a string or an array of strings.", "stop", "invalid_type");
        }
        if (out.size() > 4)
            throw ApiException.invalid("Invalid 'stop': at most 4 sequences.", "stop", "array_above_max_length");
        for (String s : out)
            if (s.isEmpty()) throw ApiException.invalid("Invalid 'stop': empty string.", "stop", "invalid_value");
        return out;
    }

    private static Double number(JsonNode body, String key, double min, double max) {
        JsonNode v = body.get(key);
        if (v == null || v.isNull()) return null;
        if (!v.isNumber())
            throw ApiException.invalid("Invalid type for '" + key + "': expected a number.", key, "invalid_type");
        double d = v.asDouble();
        if (!(d >= min))
            throw ApiException.invalid(
                    String.format(
                            Locale.ROOT,
                            "Invalid '%s': decimal below minimum"
                                    + " value. Expected a value >= %s, but got %s instead.",
                            key,
                            fmt(min),
                            v.asText()),
                    key,
                    "decimal_below_min_value");
        if (!(d <= max))
            throw ApiException.invalid(
                    String.format(
                            Locale.ROOT,
                            "Invalid '%s': decimal above maximum"
                                    + " value. Expected a value <= %s, but got %s instead.",
                            key,
                            fmt(max),
                            v.asText()),
                    key,
                    "decimal_above_max_value");
        return d;
    }

    private static Integer integer(JsonNode body, String key, int max) {
        JsonNode v = body.get(key);
        if (v == null || v.isNull()) return null;
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw ApiException.invalid("Invalid type for '" + key + "': expected an integer.", key, "invalid_type");
        }
        int n = v.asInt();
        if (n < 1)
            throw ApiException.invalid(
                    "Invalid '" + key + "': integer below minimum value. Expected a value" + " >= 1, but got " + n
                            + " instead.",
                    key,
                    "integer_below_min_value");
        if (n > max)
            throw ApiException.invalid(
                    "Invalid '" + key + "': integer above maximum value. Expected a value" + " <= " + max
                            + " (this server's --max-output-tokens), but got " + n + " instead.",
                    key,
                    "integer_above_max_value");
        return n;
    }

    private static boolean bool(JsonNode body, String key) {
        JsonNode v = body.get(key);
        if (v == null || v.isNull()) return false;
        if (!v.isBoolean())
            throw ApiException.invalid("Invalid type for '" + key + "': expected a boolean.", key, "invalid_type");
        return v.asBoolean();
    }

    private static void textOrNull(JsonNode body, String key) {
        JsonNode v = body.get(key);
        if (v != null && !v.isNull() && !v.isTextual()) {
            throw ApiException.invalid("Invalid type for '" + key + "': expected a string.", key, "invalid_type");
        }
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
    }
}
