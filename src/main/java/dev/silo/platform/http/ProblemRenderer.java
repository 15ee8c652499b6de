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
        response.send(body(500, Problem.TYPE_BASE + "internal-error", "Internal server error",
                "an unexpected error occurred; quote request id " + requestId + " when reporting it", instance,
                requestId, Map.of()));
    }
}
