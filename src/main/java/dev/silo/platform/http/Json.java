package dev.silo.platform.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.silo.platform.problem.BadRequest;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;

/** JSON in and out of handlers, with bad input turned into 400 problems that say what is wrong. */
public final class Json {
    /** Nesting deeper than this is refused (a cheap guard against stack-exhausting documents). */
    public static final int MAX_DEPTH = 32;

    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .propertyNamingStrategy(com.fasterxml.jackson.databind.PropertyNamingStrategies.SNAKE_CASE)
            .findAndAddModules()
            .build();

    static {
        MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build());
    }

    private Json() {}

    /** Reads the request body as {@code type}; an empty, malformed or mistyped body is a 400 problem. */
    public static <T> T read(ServerRequest request, Class<T> type) {
        try (InputStream body = request.content().inputStream()) {
            byte[] bytes = body.readAllBytes();
            if (bytes.length == 0) {
                throw new BadRequest("malformed-json", "the request body is empty; expected a JSON object");
            }
            T value = MAPPER.readValue(bytes, type);
            if (value == null) {
                // the body was the JSON literal null: no object to read fields from (a 500 before issue 11.7)
                throw new BadRequest("invalid-request", "expected a JSON object, got null");
            }
            return value;
        } catch (UnrecognizedPropertyException e) {
            throw new BadRequest("invalid-request", "unknown field '" + e.getPropertyName() + "'",
                    Map.of("field", e.getPropertyName()));
        } catch (MismatchedInputException e) {
            String field = e.getPath().isEmpty() ? null : e.getPath().getLast().getFieldName();
            throw new BadRequest("invalid-request", field == null
                    ? "the JSON value does not have the expected shape (expected a JSON object)"
                    : "field '" + field + "' has the wrong type");
        } catch (StreamConstraintsException e) {
            throw new BadRequest("malformed-json", "the JSON document is nested deeper than " + MAX_DEPTH + " levels");
        } catch (JsonProcessingException e) {
            throw new BadRequest("malformed-json", "the request body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads the body as a tree, refusing anything but a JSON object. */
    public static JsonNode readObject(ServerRequest request) {
        JsonNode node = read(request, JsonNode.class);
        if (!node.isObject()) {
            throw new BadRequest("invalid-request", "expected a JSON object, got " + node.getNodeType().name().toLowerCase());
        }
        return node;
    }

    public static void send(ServerResponse response, Status status, Object body) {
        byte[] bytes;
        try {
            bytes = MAPPER.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize a response", e);
        }
        response.status(status);
        response.header(HeaderNames.CONTENT_TYPE, "application/json");
        response.send(bytes);
    }

    public static void ok(ServerResponse response, Object body) {
        send(response, Status.OK_200, body);
    }
}
