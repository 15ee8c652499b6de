package dev.silo.openapi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.silo.platform.http.Json;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.List;

import static java.util.Objects.requireNonNull;

/**
 * The OpenAPI 3.1 description of Silo's HTTP API: {@code openapi/openapi.yaml} in the jar, the source of truth
 * (README "HTTP API"), read once at start and served as JSON at {@code GET /openapi.json}.
 *
 * <p>YAML in the repository because it carries the comments that say how to add a route; JSON on the wire
 * because that is what every OpenAPI tool reads without a second parser.
 */
public final class OpenApiDocument {
    /** Where the document is in the jar (src/main/resources). */
    public static final String RESOURCE = "openapi/openapi.yaml";

    /**
     * Routes that are not part of the API and so not described: the consoles' static files (HTML, scripts, styles)
     * and the routes only tests register ({@code Silo.start}'s {@code extraRoutes}). Whole path segments, and a
     * {@code {name}} segment matches any one segment. The one place that rule lives ({@link #undescribed}).
     */
    public static final List<String> UNDESCRIBED_PREFIXES = List.of("/console", "/t/{tenant}/console", "/test");

    /**
     * Whether a route template or a request path is one the document leaves out: it starts with one of
     * {@link #UNDESCRIBED_PREFIXES}, segment by segment ({@code /console} and {@code /console/app.js}, not
     * {@code /consoles}).
     */
    public static boolean undescribed(String pathOrTemplate) {
        String[] segments = pathOrTemplate.split("/", -1);
        for (String prefix : UNDESCRIBED_PREFIXES) {
            String[] wanted = prefix.split("/", -1);
            boolean matches = segments.length >= wanted.length;
            for (int i = 0; matches && i < wanted.length; i++) {
                boolean anySegment = wanted[i].startsWith("{") && wanted[i].endsWith("}") && !segments[i].isEmpty();
                matches = anySegment || wanted[i].equals(segments[i]);
            }
            if (matches) {
                return true;
            }
        }
        return false;
    }

    private final JsonNode tree;
    private final byte[] json;
    private final String etag;

    private OpenApiDocument(JsonNode tree, byte[] json) {
        this.tree = requireNonNull(tree, "tree is null");
        this.json = json.clone();
        this.etag = etagOf(json);
    }

    /** Reads the document from the jar; a missing or malformed file fails the start (it is a build defect). */
    public static OpenApiDocument load() {
        try (InputStream in = OpenApiDocument.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is missing from the classpath");
            }
            return parse(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + RESOURCE, e);
        }
    }

    static OpenApiDocument parse(byte[] yaml) throws IOException {
        ObjectMapper yamlMapper = new YAMLMapper();
        JsonNode tree = yamlMapper.readTree(yaml);
        if (tree == null || !tree.path("openapi").asText().startsWith("3.1")) {
            throw new IllegalStateException(RESOURCE + " is not an OpenAPI 3.1 document");
        }
        return new OpenApiDocument(tree, Json.MAPPER.writeValueAsBytes(tree));
    }

    /** The document as a tree (a copy: callers cannot change what is served). */
    public JsonNode tree() {
        return tree.deepCopy();
    }

    /** The document as served: compact JSON. */
    public byte[] json() {
        return json.clone();
    }

    /** A strong ETag of the served bytes: the same for every node running the same build. */
    public String etag() {
        return etag;
    }

    private static String etagOf(byte[] json) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(json);
            return "\"" + Base64.getUrlEncoder().withoutPadding().encodeToString(digest).substring(0, 22) + "\"";
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
