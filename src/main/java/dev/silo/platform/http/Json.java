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
import dev.silo.platform.problem.UnsupportedMediaType;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/** JSON in and out of handlers, with bad input turned into 400 problems that say what is wrong. */
public final class Json {
    /** Nesting deeper than this is refused (a cheap guard against stack-exhausting documents). */
    public static final int MAX_DEPTH = 32;

    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            // {"email":"a","email":"b"} is two answers to one question: refuse it rather than keep one silently.
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .propertyNamingStrategy(com.fasterxml.jackson.databind.PropertyNamingStrategies.SNAKE_CASE)
            .findAndAddModules()
            .build();

    static {
        MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build());
    }

    private Json() {}

    /**
     * Reads the request body as {@code type}; a body that is not JSON by its {@code Content-Type} is a 415, an
     * empty, malformed or mistyped body a 400 problem.
     */
    public static <T> T read(ServerRequest request, Class<T> type) {
        return parse(request, bodyOf(request), type);
    }

    /**
     * The request body's bytes, after the media-type check ({@link #checkMediaType}). For routes that read the body
     * themselves (records parse it with their own reader).
     */
    public static byte[] bodyOf(ServerRequest request) {
        byte[] bytes = rawBodyOf(request);
        checkMediaType(request, bytes);
        return bytes;
    }

    /**
     * The request body's bytes with no media-type check, for a route that takes other types too: the OAuth2 token
     * routes take {@code application/x-www-form-urlencoded} (see {@link #isFormUrlEncoded}); they then hand JSON
     * bodies to {@link #parse}.
     */
    public static byte[] rawBodyOf(ServerRequest request) {
        try (InputStream body = request.content().inputStream()) {
            return body.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * True when the request says {@code Content-Type: application/x-www-form-urlencoded} and the body is not JSON
     * text: a real HTML-form / OAuth2 body (curl's {@code -d '{...}'} says form-urlencoded too, and is JSON).
     */
    public static boolean isFormUrlEncoded(ServerRequest request, byte[] body) {
        return mediaType(request).map(FORM::equals).orElse(false) && !looksLikeJson(body);
    }

    /**
     * Parses {@code body} of {@code request} as {@code type}: the media-type check, then JSON with every failure
     * a 400 problem that says what is wrong.
     */
    public static <T> T parse(ServerRequest request, byte[] body, Class<T> type) {
        checkMediaType(request, body);
        if (body.length == 0) {
            throw new BadRequest("malformed-json", "the request body is empty; expected a JSON object");
        }
        try {
            T value = MAPPER.readValue(body, type);
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
        } catch (JsonProcessingException e) {
            throw malformed(e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The 400 for a body Jackson could not parse, in words a client understands: nesting and size limits by
     * their numbers, a repeated key as "duplicate field", never a Jackson class or method name.
     */
    public static BadRequest malformed(JsonProcessingException error) {
        for (Throwable cause = error; cause != null; cause = cause.getCause()) {
            if (cause instanceof StreamConstraintsException constraint) {
                String message = String.valueOf(constraint.getOriginalMessage());
                if (message.contains("nesting depth")) {
                    return new BadRequest("malformed-json", "the JSON document is nested deeper than " + MAX_DEPTH + " levels");
                }
                if (message.contains("Number value length") || message.contains("number")) {
                    return new BadRequest("malformed-json", "a number in the JSON document has too many digits");
                }
                return new BadRequest("malformed-json", "a value in the JSON document is too long");
            }
            if (cause == cause.getCause()) {
                break;
            }
        }
        String message = String.valueOf(error.getOriginalMessage());
        java.util.regex.Matcher duplicate = DUPLICATE_FIELD.matcher(message);
        if (duplicate.find()) {
            return new BadRequest("malformed-json", "duplicate field '" + duplicate.group(1) + "': each field may appear once",
                    Map.of("field", duplicate.group(1)));
        }
        return new BadRequest("malformed-json", "the request body is not valid JSON: " + message.replaceAll(
                "\\s*\\(for [^)]*\\)", "").replaceAll("`[a-z]+\\.[\\w.$]+`", "JSON"));
    }

    private static final java.util.regex.Pattern DUPLICATE_FIELD = java.util.regex.Pattern.compile("Duplicate field '([^']*)'");

    /** The media type of the request, lower-cased without parameters; empty when the request has none. */
    static Optional<String> mediaType(ServerRequest request) {
        return request.headers().first(HeaderNames.CONTENT_TYPE)
                .map(value -> value.split(";", 2)[0].strip().toLowerCase(Locale.ROOT))
                .filter(value -> !value.isEmpty());
    }

    /**
     * JSON routes take {@code application/json} and any {@code +json} type (RFC 6839), with any parameters such as
     * {@code charset}. A body with no {@code Content-Type} is taken as JSON (a client that sends JSON and says
     * nothing); so is an {@code application/x-www-form-urlencoded} body that is JSON text, because that is what
     * {@code curl -d '{...}'} sends. Anything else is a 415 naming the type received and the types accepted.
     */
    public static void checkMediaType(ServerRequest request, byte[] body) {
        Optional<String> type = mediaType(request);
        if (type.isEmpty() || body.length == 0) {
            return;
        }
        String mediaType = type.get();
        if (mediaType.equals("application/json") || (mediaType.startsWith("application/") && mediaType.endsWith("+json"))) {
            return;
        }
        if (mediaType.equals(FORM) && looksLikeJson(body)) {
            return;
        }
        throw new UnsupportedMediaType("Content-Type " + mediaType + " is not accepted here; send JSON with Content-Type "
                + "application/json (or a +json type)", Map.of("received", mediaType, "accepted", ACCEPTED));
    }

    private static final String FORM = "application/x-www-form-urlencoded";
    private static final List<String> ACCEPTED = List.of("application/json", "application/*+json");

    /** A body whose first non-blank byte opens a JSON object or array. */
    static boolean looksLikeJson(byte[] body) {
        for (byte b : body) {
            if (b == ' ' || b == '\t' || b == '\r' || b == '\n') {
                continue;
            }
            return b == '{' || b == '[';
        }
        return false;
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
