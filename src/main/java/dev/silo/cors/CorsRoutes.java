package dev.silo.cors;

import dev.silo.auth.Caller;
import dev.silo.auth.TenantRequests;
import dev.silo.operator.OperatorAuth;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;
import dev.silo.tenant.CorsOrigins;
import dev.silo.tenant.TenantDirectory;
import dev.silo.tenant.TenantService;
import io.helidon.webserver.http.ServerRequest;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static java.util.Objects.requireNonNull;

/**
 * CORS for the tenant API: the {@link CorsFilter} in front of every route, and the tenant's allowed origins,
 * managed by an operator ({@code /admin/tenants/{slug}/cors-origins}) or by the tenant's admins
 * ({@code /t/{tenant}/settings/cors}).
 */
public final class CorsRoutes {
    private final TenantService tenants;
    private final TenantDirectory directory;
    private final CorsSettings settings;
    private final TenantRequests requests;
    private final OperatorAuth operators;

    public CorsRoutes(TenantService tenants, TenantDirectory directory, CorsSettings settings, TenantRequests requests,
                      OperatorAuth operators) {
        this.tenants = requireNonNull(tenants, "tenants is null");
        this.directory = requireNonNull(directory, "directory is null");
        this.settings = requireNonNull(settings, "settings is null");
        this.requests = requireNonNull(requests, "requests is null");
        this.operators = requireNonNull(operators, "operators is null");
    }

    /** The body of a PUT and of every answer. */
    record CorsOriginsBody(List<String> corsOrigins) {}

    public void register(Routes routes) {
        routes.filter(new CorsFilter(directory));
        routes.get("/admin/tenants/{slug}/cors-origins", (request, response) -> {
            operators.require(request);
            String slug = slug(request);
            Json.ok(response, view(slug, tenants.corsOrigins(tenants.get(slug).id())));
        });
        routes.put("/admin/tenants/{slug}/cors-origins", (request, response) -> {
            var actor = operators.require(request);
            CorsOriginsBody body = Json.read(request, CorsOriginsBody.class);
            Json.ok(response, view(slug(request), tenants.setCorsOrigins(slug(request), body.corsOrigins(), actor)));
        });
        routes.get("/t/{tenant}/settings/cors", (request, response) -> {
            Caller caller = requests.admin(request);
            Json.ok(response, view(caller.tenant().slug(), settings.get(caller)));
        });
        routes.put("/t/{tenant}/settings/cors", (request, response) -> {
            Caller caller = requests.admin(request);
            CorsOriginsBody body = Json.read(request, CorsOriginsBody.class);
            Json.ok(response, view(caller.tenant().slug(), settings.set(caller, body.corsOrigins())));
        });
    }

    private static Map<String, Object> view(String slug, CorsOrigins origins) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("tenant", slug);
        view.put("cors_origins", origins.origins());
        return view;
    }

    private static String slug(ServerRequest request) {
        return request.path().pathParameters().get("slug");
    }
}
