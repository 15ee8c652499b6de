package dev.silo.platform.http;

import io.helidon.http.Method;
import io.helidon.http.PathMatcher;
import io.helidon.http.PathMatchers;
import io.helidon.webserver.http.Filter;
import io.helidon.webserver.http.Handler;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static java.util.Objects.requireNonNull;

/**
 * The routes of the server, registered through here so that every request knows its route template (for the
 * {@code api} log line) and an unmatched request can tell 404 from 405.
 */
public final class Routes {
    /** Key of the matched route template in the request context. */
    static final String ROUTE_KEY = "silo.route";

    private final HttpRouting.Builder routing;
    private final List<Entry> entries = new ArrayList<>();

    private record Entry(Method method, String template, PathMatcher matcher) {}

    /**
     * One registered route, such as {@code GET /t/{tenant}/users/{id}}: what the OpenAPI document
     * ({@code openapi/openapi.yaml}) must describe, one operation per route.
     */
    public record Route(String method, String template) {
        @Override
        public String toString() {
            return method + " " + template;
        }
    }

    Routes(HttpRouting.Builder routing) {
        this.routing = requireNonNull(routing, "routing is null");
    }

    public Routes get(String template, Handler handler) {
        return add(Method.GET, template, handler);
    }

    public Routes post(String template, Handler handler) {
        return add(Method.POST, template, handler);
    }

    public Routes put(String template, Handler handler) {
        return add(Method.PUT, template, handler);
    }

    public Routes patch(String template, Handler handler) {
        return add(Method.PATCH, template, handler);
    }

    public Routes delete(String template, Handler handler) {
        return add(Method.DELETE, template, handler);
    }

    public Routes add(Method method, String template, Handler handler) {
        PathMatcher matcher = PathMatchers.create(template);
        entries.add(new Entry(method, template, matcher));
        routing.route(method, matcher, (request, response) -> {
            request.context().register(ROUTE_KEY, template);
            handler.handle(request, response);
        });
        if (method == Method.GET) {
            entries.add(new Entry(Method.HEAD, template, matcher));
            routing.route(Method.HEAD, matcher, (request, response) -> {
                request.context().register(ROUTE_KEY, template);
                handler.handle(request, response);
            });
        }
        return this;
    }

    /**
     * Adds a filter in front of every route, inside the edge filter (so it has the request id and security
     * headers, and what it throws renders as a problem). A request it answers itself should be named with
     * {@link #answeredAs}.
     */
    public Routes filter(Filter filter) {
        routing.addFilter(filter);
        return this;
    }

    /** Names the route of a request that a filter answers itself, for its {@code api} log line. */
    public static void answeredAs(ServerRequest request, String template) {
        request.context().register(ROUTE_KEY, template);
    }

    /**
     * Every route registered so far, in registration order; {@code HEAD} is left out, since each {@code GET} route
     * answers it too (same handler, no body).
     */
    public List<Route> table() {
        return entries.stream().filter(entry -> entry.method() != Method.HEAD)
                .map(entry -> new Route(entry.method().text(), entry.template())).toList();
    }

    /** The methods registered for the request's path; empty when no route has this path. */
    Set<String> allowedMethods(ServerRequest request) {
        Set<String> allowed = new LinkedHashSet<>();
        for (Entry entry : entries) {
            if (entry.matcher().match(request.path()).accepted()) {
                allowed.add(entry.method().text());
            }
        }
        return allowed;
    }

    /** The template of the route that matched the request, such as {@code /t/{tenant}/collections/{name}}. */
    public static String routeOf(ServerRequest request) {
        return request.context().get(ROUTE_KEY, String.class).orElse("(unmatched)");
    }
}
