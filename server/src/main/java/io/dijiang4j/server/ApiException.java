package io.dijiang4j.server;

/**
 * A request the server refuses, answered with {@code status} and an OpenAI error object {@code {"error": {"message",
 * "type", "param", "code"}}}.
 */
final class ApiException extends RuntimeException {
    final int status;
    final String type;
    final String param;
    final String code;

    ApiException(int status, String message, String type, String param, String code) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400 invalid_request_error, as OpenAI answers a bad value. */
    static ApiException invalid(String message, String param, String code) {
        return new ApiException(400, message, "invalid_request_error", param, code);
    }

    /** 400 for a parameter OpenAI knows and this server cannot honour: refused, never ignored. */
    static ApiException unsupported(String param, String why) {
        return invalid(
                "Unsupported parameter: '" + param + "' " + why + " with the DiJiang models.",
                param,
                "unsupported_parameter");
    }
}
