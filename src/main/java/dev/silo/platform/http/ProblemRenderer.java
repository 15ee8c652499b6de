package dev.silo.platform.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.silo.platform.problem.Problem;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;

import java.util.LinkedHashMap;
import java.util.Map;

/** Renders problems as RFC 9457 {@code application/problem+json}; the only place that does. */
public final class ProblemRenderer {
    public static final String CONTENT_TYPE = "application/problem+json";

    private ProblemRenderer() {}

    /**
     * The title of a problem with this status, in sentence case like every {@link Problem} title ("Not found",
     * never Helidon's "Not Found"), for problems Silo writes without a {@code Problem} (the direct handlers).
     */
    public static String title(int status) {
        return switch (status) {
            case 400 -> "Bad request";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 404 -> "Not found";
            case 405 -> "Method not allowed";
            case 408 -> "Request timeout";
            case 409 -> "Conflict";
            case 412 -> "Precondition failed";
            case 413 -> "Payload too large";
            case 414 -> "URI too long";
            case 415 -> "Unsupported media type";
            case 428 -> "Precondition required";
            case 429 -> "Too many requests";
            case 431 -> "Request header fields too large";
            case 500 -> "Internal server error";
            case 501 -> "Not implemented";
            case 503 -> "Service unavailable";
            case 505 -> "HTTP version not supported";
            default -> status >= 500 ? "Server error" : "Client error";
        };
    }

    public static byte[] body(int status, String typeUri, String title, String detail, String instance,
                              String requestId, Map<String, Object> extensions) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", typeUri);
        body.put("title", title);
        body.put("status", status);
        body.put("detail", detail);
        if (instance != null) {
            body.put("instance", instance);
        }
        if (requestId != null) {
            body.put("request_id", requestId);
        }
        extensions.forEach(body::putIfAbsent);
        try {
            return Json.MAPPER.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static void render(ServerResponse response, Problem problem, String instance, String requestId) {
        if (response.isSent()) {
            return;
        }
        response.status(problem.status());
        problem.headers().forEach(response::header);
        response.header(HeaderNames.CONTENT_TYPE, CONTENT_TYPE);
        response.send(body(problem.status(), problem.typeUri(), problem.title(), problem.detail(), instance, requestId,
                problem.extensions()));
    }

    /** The opaque 500: no exception text, no stack trace; the request id lets an operator find the log line. */
    public static void renderInternalError(ServerResponse response, String instance, String requestId) {
        if (response.isSent()) {
            return;
        }
        response.status(500);
        response.header(HeaderNames.CONTENT_TYPE, CONTENT_TYPE);
        response.send(body(500, Problem.TYPE_BASE + "internal-error", title(500),
                "an unexpected error occurred; quote request id " + requestId + " when reporting it", instance,
                requestId, Map.of()));
    }
}
