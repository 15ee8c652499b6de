package dev.silo.openapi;

import dev.silo.platform.http.Routes;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;

import static java.util.Objects.requireNonNull;

/**
 * {@code GET /openapi.json}: the API description, without authentication (it holds no tenant data, only the shape
 * of the API every Silo build has), cacheable and revalidated with its ETag.
 */
public final class OpenApiRoutes {
    /** A client may reuse the document for five minutes, then revalidate (a 304 when the build is the same). */
    static final String CACHE_CONTROL = "public, max-age=300";

    private final OpenApiDocument document;

    public OpenApiRoutes(OpenApiDocument document) {
        this.document = requireNonNull(document, "document is null");
    }

    public void register(Routes routes) {
        byte[] body = document.json();
        String etag = document.etag();
        routes.get("/openapi.json", (request, response) -> {
            response.header(HeaderNames.ETAG, etag);
            response.header(HeaderNames.CACHE_CONTROL, CACHE_CONTROL);
            boolean unchanged = request.headers().first(HeaderNames.IF_NONE_MATCH)
                    .map(value -> matches(value, etag)).orElse(false);
            if (unchanged) {
                response.status(Status.NOT_MODIFIED_304);
                response.send();
                return;
            }
            response.header(HeaderNames.CONTENT_TYPE, "application/json");
            response.send(body);
        });
    }

    /** RFC 9110 section 13.1.2: {@code *}, or a list of tags compared weakly (a W/ prefix still matches). */
    static boolean matches(String ifNoneMatch, String etag) {
        for (String candidate : ifNoneMatch.split(",")) {
            String tag = candidate.strip();
            if (tag.equals("*") || tag.equals(etag) || tag.equals("W/" + etag)) {
                return true;
            }
        }
        return false;
    }
}
