package io.dijiang4j.plugin.generation;

/** One message of a chat prompt. */
public record ChatTurn(Role role, String text) {
    public enum Role {
        SYSTEM,
        USER,
        ASSISTANT
    }

    public static ChatTurn user(String text) {
        return new ChatTurn(Role.USER, text);
    }

    public static ChatTurn assistant(String text) {
        return new ChatTurn(Role.ASSISTANT, text);
    }
}
