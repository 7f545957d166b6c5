package io.dijiang4j.plugin.generation;

/**
 * One message of a chat prompt. A tool call (the assistant asking for a tool, {@code text} its arguments as a JSON
 * object) and a tool result ({@code text} what the tool returned) also name the tool and the call's id.
 */
public record ChatTurn(Role role, String text, String toolName, String toolCallId) {
    public enum Role {
        SYSTEM,
        USER,
        ASSISTANT,
        TOOL_CALL,
        TOOL_RESULT
    }

    public ChatTurn(Role role, String text) {
        this(role, text, null, null);
    }

    public static ChatTurn user(String text) {
        return new ChatTurn(Role.USER, text);
    }

    public static ChatTurn assistant(String text) {
        return new ChatTurn(Role.ASSISTANT, text);
    }

    public static ChatTurn toolCall(String toolName, String toolCallId, String argumentsJson) {
        return new ChatTurn(Role.TOOL_CALL, argumentsJson, toolName, toolCallId);
    }

    public static ChatTurn toolResult(String toolName, String toolCallId, String result) {
        return new ChatTurn(Role.TOOL_RESULT, result, toolName, toolCallId);
    }
}
