package io.dijiang4j.plugin.gguf;

/**
 * A GGUF file that cannot be read or converted: truncated, inconsistent, or using something this reader does not
 * support. The message is one line that names the file and what is wrong (which tensor or key, expected vs actual).
 * An {@link IllegalArgumentException} so that the CLI reports it as bad input (exit code 2, no stack trace).
 */
public final class GgufException extends IllegalArgumentException {
    public GgufException(String message) {
        super(message);
    }
}
