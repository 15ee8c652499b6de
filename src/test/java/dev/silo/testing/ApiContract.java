package dev.silo.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import dev.silo.openapi.OpenApiDocument;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * Checks one real HTTP exchange against the OpenAPI document ({@code openapi/openapi.yaml}): the path and method are
 * described (or the answer is a 4xx problem, as for a route that does not exist), the status is one the operation
 * lists, the content type is the described one, and a JSON body is valid against the response's schema (problem
 * bodies against {@code Problem}). The request body of an accepted (2xx) request is checked against the request
 * schema too. A violation is an {@link AssertionError} at once, in the test that made the request.
 *
 * <p>The document is read and its paths indexed once per JVM; each schema is compiled on first use and kept, so a
 * check costs a map lookup, a regex match and a schema walk.
 */
public final class ApiContract {
    /** The document's base IRI for the schema registry: {@code $ref: '#/components/...'} resolves against it. */
    private static final String BASE = "https://silo.invalid/openapi.json";

    /**
     * Statuses Helidon's direct handler answers before routing, whatever the path (HttpServer.direct): a request line
     * too long, a transfer encoding not supported, HTTP/1.0. Not listed per operation; still checked as problems.
     */
    private static final Set<Integer> EDGE_STATUSES = Set.of(414, 501, 505);

    private static final ApiContract INSTANCE = new ApiContract(OpenApiDocument.load());

    private final JsonNode tree;
    private final List<PathEntry> paths = new ArrayList<>();
    private final SchemaRegistry registry;
    private final Map<String, Schema> compiled = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicLong checked = new java.util.concurrent.atomic.AtomicLong();

    private record PathEntry(String template, Pattern pattern, int literalSegments, JsonNode item) {}

    private ApiContract(OpenApiDocument document) {
        this.tree = document.tree();
        String json = new String(document.json(), StandardCharsets.UTF_8);
        this.registry = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12,
                builder -> builder.schemas(Map.of(BASE, json)));
        for (Map.Entry<String, JsonNode> field : tree.path("paths").properties()) {
            String template = field.getKey();
            StringBuilder regex = new StringBuilder();
            int literals = 0;
            for (String segment : template.substring(1).split("/", -1)) {
                regex.append('/');
                if (segment.startsWith("{") && segment.endsWith("}")) {
                    regex.append("[^/]+");
                } else {
                    regex.append(Pattern.quote(segment));
                    literals++;
                }
            }
            paths.add(new PathEntry(template, Pattern.compile(regex.toString()), literals, field.getValue()));
        }
        // The most literal template wins (/t/{tenant}/me/sessions over a hypothetical /t/{tenant}/me/{x}).
        paths.sort(Comparator.comparingInt(PathEntry::literalSegments).reversed());
    }

    /** The contract of this build's document, read once per JVM. */
    public static ApiContract get() {
        return INSTANCE;
    }

    /** One exchange as the test client saw it; {@code requestBody} is null when there was none or it is unknown. */
    public record Exchange(String method, String rawPath, String requestContentType, String requestBody, int status,
                           String responseContentType, String responseBody) {}

    /** Checks an exchange; throws an AssertionError naming the operation and what does not match. */
    public void check(Exchange exchange) {
        checked.incrementAndGet();
        String method = exchange.method().toUpperCase(Locale.ROOT);
        String path = exchange.rawPath();
        if (OpenApiDocument.undescribed(path)) {
            return;
        }
        if (method.equals("OPTIONS") && path.startsWith("/t/")) {
            return; // CORS preflight, answered by CorsFilter for every tenant path (see the document's header)
        }
        String where = method + " " + path + " → " + exchange.status();
        if (EDGE_STATUSES.contains(exchange.status())) {
            checkProblem(where, exchange);
            return;
        }
        Optional<PathEntry> entry = paths.stream().filter(candidate -> candidate.pattern().matcher(path).matches()).findFirst();
        if (entry.isEmpty()) {
            requireRefusal(where + ": no path of openapi.yaml matches, so only a 4xx problem may answer", exchange);
            return;
        }
        boolean head = method.equals("HEAD");
        JsonNode operation = entry.get().item().path((head ? "GET" : method).toLowerCase(Locale.ROOT));
        String name = method + " " + entry.get().template();
        if (operation.isMissingNode()) {
            requireRefusal(where + ": openapi.yaml has no operation " + name + ", so only a 4xx problem may answer", exchange);
            return;
        }
        String pointer = "/paths/" + escape(entry.get().template()) + "/" + (head ? "get" : method.toLowerCase(Locale.ROOT));
        JsonNode response = operation.path("responses").path(Integer.toString(exchange.status()));
        if (response.isMissingNode()) {
            throw new AssertionError(where + ": status " + exchange.status() + " is not described for " + name
                    + " in openapi.yaml (described: " + listOf(operation.path("responses")) + ")"
                    + (exchange.status() >= 500 ? "; a 5xx other than 503 is a bug of the code, not of the document" : "")
                    + bodyHint(exchange));
        }
        String responsePointer = pointer + "/responses/" + exchange.status();
        if (response.has("$ref")) {
            String ref = response.get("$ref").asText();
            responsePointer = ref.substring(1);
            response = resolve(ref);
        }
        checkContent(where + " (" + name + ")", responsePointer, response.path("content"), head,
                exchange.responseContentType(), exchange.responseBody());
        if (exchange.status() >= 200 && exchange.status() < 300 && exchange.requestBody() != null
                && !exchange.requestBody().isEmpty()) {
            checkRequest(where + " (" + name + ")", pointer, operation.path("requestBody").path("content"), exchange);
        }
    }

    private void checkContent(String where, String pointer, JsonNode content, boolean head, String contentType,
                              String body) {
        if (content.isMissingNode() || content.isEmpty()) {
            if (!head && body != null && !body.isEmpty()) {
                throw new AssertionError(where + ": openapi.yaml describes no body, but one came: " + abbreviate(body));
            }
            return;
        }
        String media = mediaType(contentType);
        if (media == null || !content.has(media)) {
            throw new AssertionError(where + ": Content-Type " + contentType + " is not described (described: "
                    + listOf(content) + ")");
        }
        if (head || !isJson(media)) {
            return;
        }
        validate(where + ": the body", pointer + "/content/" + escape(media) + "/schema", body);
    }

    private void checkRequest(String where, String pointer, JsonNode content, Exchange exchange) {
        if (content.isMissingNode()) {
            return; // a body where none is described: the route ignores it (an empty {} from a client, say)
        }
        String media = exchange.requestContentType() == null ? "application/json" : mediaType(exchange.requestContentType());
        if (!content.has(media) || !isJson(media) || !looksLikeJson(exchange.requestBody())) {
            return; // JSON sent as a form (curl -d) is accepted by the server too; only JSON bodies are validated
        }
        validate(where + ": the accepted request body", pointer + "/requestBody/content/" + escape(media) + "/schema",
                exchange.requestBody());
    }

    private void checkProblem(String where, Exchange exchange) {
        String media = mediaType(exchange.responseContentType());
        if (!"application/problem+json".equals(media)) {
            throw new AssertionError(where + ": an error must be an application/problem+json body, not "
                    + exchange.responseContentType() + bodyHint(exchange));
        }
        validate(where + ": the problem body", "/components/schemas/Problem", exchange.responseBody());
    }

    private void requireRefusal(String where, Exchange exchange) {
        if (exchange.status() < 400 || exchange.status() >= 500) {
            throw new AssertionError(where + bodyHint(exchange));
        }
        if (exchange.method().equalsIgnoreCase("HEAD")) {
            return;
        }
        checkProblem(where, exchange);
    }

    private void validate(String what, String pointer, String body) {
        Schema schema = compiled.computeIfAbsent(pointer, key -> registry.getSchema(SchemaLocation.of(BASE + "#" + key)));
        List<com.networknt.schema.Error> errors;
        try {
            errors = schema.validate(body == null ? "" : body, InputFormat.JSON);
        } catch (RuntimeException notJson) {
            throw new AssertionError(what + " is not JSON: " + abbreviate(body), notJson);
        }
        if (!errors.isEmpty()) {
            throw new AssertionError(what + " does not match openapi.yaml#" + pointer + ": "
                    + errors.stream().limit(5).map(Object::toString).toList() + "; body " + abbreviate(body));
        }
    }

    private JsonNode resolve(String ref) {
        JsonNode node = tree;
        for (String token : ref.substring(2).split("/")) {
            node = node.path(token.replace("~1", "/").replace("~0", "~"));
        }
        return node;
    }

    private static String escape(String token) {
        return token.replace("~", "~0").replace("/", "~1");
    }

    private static String mediaType(String contentType) {
        if (contentType == null) {
            return null;
        }
        int semicolon = contentType.indexOf(';');
        return (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).strip().toLowerCase(Locale.ROOT);
    }

    private static boolean isJson(String media) {
        return media.equals("application/json") || media.endsWith("+json");
    }

    private static boolean looksLikeJson(String body) {
        String trimmed = body.strip();
        return trimmed.startsWith("{") || trimmed.startsWith("[");
    }

    private static List<String> listOf(JsonNode object) {
        List<String> names = new ArrayList<>();
        object.fieldNames().forEachRemaining(names::add);
        return names;
    }

    private static String bodyHint(Exchange exchange) {
        return exchange.responseBody() == null || exchange.responseBody().isEmpty() ? ""
                : "; body " + abbreviate(exchange.responseBody());
    }

    private static String abbreviate(String body) {
        if (body == null) {
            return "(none)";
        }
        return body.length() <= 400 ? body : body.substring(0, 400) + "...";
    }

    /** How many exchanges this JVM has checked (lets a test see that its client really checks). */
    public long checkedExchanges() {
        return checked.get();
    }

    /** The templates of the document's paths and their methods, as {@code "GET /t/{tenant}/me"}. */
    public List<String> describedOperations() {
        List<String> operations = new ArrayList<>();
        for (PathEntry entry : paths) {
            entry.item().fieldNames().forEachRemaining(field -> {
                if (Set.of("get", "put", "post", "delete", "patch", "options", "head", "trace").contains(field)) {
                    operations.add(field.toUpperCase(Locale.ROOT) + " " + entry.template());
                }
            });
        }
        return operations;
    }
}
