package dev.silo.cors;

import dev.silo.platform.http.Routes;
import dev.silo.platform.problem.Forbidden;
import dev.silo.platform.problem.NotFound;
import dev.silo.tenant.CorsOrigins;
import dev.silo.tenant.TenantDirectory;
import io.helidon.http.HeaderNames;
import io.helidon.http.Method;
import io.helidon.http.Status;
import io.helidon.webserver.http.Filter;
import io.helidon.webserver.http.FilterChain;
import io.helidon.webserver.http.RoutingRequest;
import io.helidon.webserver.http.RoutingResponse;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Cross-origin resource sharing (the Fetch standard's CORS protocol) for the tenant API, {@code /t/{tenant}/...},
 * with each tenant's own allowed origins ({@link CorsOrigins}) from the tenant cache, so a preflight touches no
 * database. {@code /admin} and {@code /health} never answer cross-origin: operators do not use browsers there.
 *
 * <ul>
 *   <li>A preflight ({@code OPTIONS} with {@code Origin} and {@code Access-Control-Request-Method}) is answered here,
 *   before any authentication (browsers send no {@code Authorization} on it): 204 with the allow headers for an
 *   allowed origin, a 403 problem {@code cors-origin-not-allowed} otherwise (as Spring and most gateways do: the
 *   browser reports a failed preflight, curl shows why).</li>
 *   <li>Any other request from an allowed origin gets {@code Access-Control-Allow-Origin} and
 *   {@code Access-Control-Expose-Headers} before the route runs, so every answer carries them: 200s, 401s and
 *   every other problem, which the browser app can then read.</li>
 *   <li>{@code Access-Control-Allow-Credentials} is never sent: Silo's tokens travel in {@code Authorization}, not
 *   in cookies, so a browser needs no credentials mode, and {@code *} can safely mean any origin.</li>
 * </ul>
 *
 * <p>Hand-written rather than Helidon's CORS module because that one takes its origins from static configuration
 * per path, while here they are per tenant and change at run time.
 */
public final class CorsFilter implements Filter {
    static final String ALLOW_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE";
    static final String ALLOW_HEADERS = "Authorization, Content-Type, If-Match, X-Request-Id";
    static final String EXPOSE_HEADERS = "ETag, Location, Retry-After, WWW-Authenticate, X-Request-Id, RateLimit, RateLimit-Policy";
    /** How long a browser may reuse a preflight; a removed origin can still send (not read) requests this long. */
    static final Duration MAX_AGE = Duration.ofMinutes(10);
    private static final String TENANT_PREFIX = "/t/";

    private final TenantDirectory directory;

    public CorsFilter(TenantDirectory directory) {
        this.directory = requireNonNull(directory, "directory is null");
    }

    @Override
    public void filter(FilterChain chain, RoutingRequest request, RoutingResponse response) {
        String path = request.path().path();
        if (!path.startsWith(TENANT_PREFIX)) {
            chain.proceed();
            return;
        }
        // The answer depends on Origin (allowed or not), so shared caches must key on it.
        response.header(HeaderNames.VARY, HeaderNames.ORIGIN_NAME);
        Optional<String> origin = request.headers().first(HeaderNames.ORIGIN);
        if (origin.isEmpty()) {
            chain.proceed();
            return;
        }
        String slug = slugOf(path);
        if (request.prologue().method() == Method.OPTIONS && request.headers().contains(HeaderNames.ACCESS_CONTROL_REQUEST_METHOD)) {
            Routes.answeredAs(request, "/t/{tenant}/* (CORS preflight)");
            CorsOrigins allowed = directory.corsOrigins(slug)
                    .orElseThrow(() -> new NotFound("tenant-not-found", "no tenant '" + printable(slug) + "'"));
            if (!allowed.allows(origin.get())) {
                throw new Forbidden("cors-origin-not-allowed", "origin '" + printable(origin.get()) + "' may not call tenant '"
                        + slug + "' from a browser: an operator or the tenant's admin adds it to the tenant's CORS origins",
                        Map.of("origin", printable(origin.get())));
            }
            allow(response, allowed, origin.get());
            response.header(HeaderNames.ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
            response.header(HeaderNames.ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
            response.header(HeaderNames.ACCESS_CONTROL_MAX_AGE, Long.toString(MAX_AGE.toSeconds()));
            response.status(Status.NO_CONTENT_204).send();
            return;
        }
        directory.corsOrigins(slug).filter(allowed -> allowed.allows(origin.get())).ifPresent(allowed -> {
            allow(response, allowed, origin.get());
            response.header(HeaderNames.ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS);
        });
        chain.proceed();
    }

    /**
     * The CORS fields of an answer given before this filter runs: the rate limits refuse (429) in a filter ahead
     * of this one, and without {@code Access-Control-Allow-Origin} a browser hides that 429, its
     * {@code Retry-After} and its {@code RateLimit} fields from the page, which then sees only a network error and
     * cannot back off. Also for a refused preflight: the browser still fails it (a preflight must answer 2xx,
     * Fetch standard), but the page's developer sees a 429 in the console rather than a CORS error.
     */
    public void addToRefusal(ServerRequest request, ServerResponse response) {
        String path = request.path().path();
        if (!path.startsWith(TENANT_PREFIX)) {
            return;
        }
        response.header(HeaderNames.VARY, HeaderNames.ORIGIN_NAME);
        Optional<String> origin = request.headers().first(HeaderNames.ORIGIN);
        if (origin.isEmpty()) {
            return;
        }
        try {
            directory.corsOrigins(slugOf(path)).filter(allowed -> allowed.allows(origin.get())).ifPresent(allowed -> {
                allow(response, allowed, origin.get());
                response.header(HeaderNames.ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS);
            });
        } catch (RuntimeException e) {
            // The catalog cannot be read: the 429 goes out without CORS fields rather than as a 500.
        }
    }

    private static void allow(ServerResponse response, CorsOrigins allowed, String origin) {
        response.header(HeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN, allowed.any() ? CorsOrigins.ANY : origin);
    }

    private static String slugOf(String path) {
        int end = path.indexOf('/', TENANT_PREFIX.length());
        return path.substring(TENANT_PREFIX.length(), end < 0 ? path.length() : end);
    }

    /** A header value or path segment fit for a problem detail: short, without control characters. */
    private static String printable(String value) {
        String cut = value.length() > 100 ? value.substring(0, 100) + "..." : value;
        return cut.replaceAll("[^\\x20-\\x7e]", "?");
    }
}
