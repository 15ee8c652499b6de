package dev.silo.tenant;

import dev.silo.audit.Actor;
import dev.silo.operator.OperatorAuth;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;
import dev.silo.platform.problem.BadRequest;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;
import io.helidon.webserver.http.ServerRequest;

import java.sql.Statement;
import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/** The operator API for tenants ({@code /admin/tenants}) and the tenant's own health route. */
public final class TenantRoutes {
    private final TenantService tenants;
    private final TenantDirectory directory;
    private final TenantDatabases databases;
    private final OperatorAuth auth;

    public TenantRoutes(TenantService tenants, TenantDirectory directory, TenantDatabases databases, OperatorAuth auth) {
        this.tenants = requireNonNull(tenants, "tenants is null");
        this.directory = requireNonNull(directory, "directory is null");
        this.databases = requireNonNull(databases, "databases is null");
        this.auth = requireNonNull(auth, "auth is null");
    }

    record CreateTenant(String slug, String name, String placement) {}

    record RotateSecret(boolean revokePrevious) {}

    public void register(Routes routes) {
        routes.post("/admin/tenants", (request, response) -> {
            Actor actor = auth.require(request);
            CreateTenant body = Json.read(request, CreateTenant.class);
            if (body.slug() == null) {
                throw new BadRequest("invalid-request", "field 'slug' is required");
            }
            Tenant tenant = tenants.create(body.slug(), body.name(), Optional.ofNullable(body.placement()), actor);
            response.header(HeaderNames.LOCATION, "/admin/tenants/" + tenant.slug());
            Json.send(response, Status.CREATED_201, tenants.view(tenant));
        });
        routes.get("/admin/tenants", (request, response) -> {
            auth.require(request);
            boolean includePurged = request.query().first("include_purged").map("true"::equals).orElse(false);
            Json.ok(response, Map.of("tenants", tenants.list(includePurged).stream().map(tenants::view).toList()));
        });
        routes.get("/admin/tenants/{slug}", (request, response) -> {
            auth.require(request);
            Json.ok(response, tenants.view(tenants.get(slug(request))));
        });
        routes.post("/admin/tenants/{slug}/suspend", (request, response) ->
                Json.ok(response, tenants.view(tenants.suspend(slug(request), auth.require(request)))));
        routes.post("/admin/tenants/{slug}/resume", (request, response) ->
                Json.ok(response, tenants.view(tenants.resume(slug(request), auth.require(request)))));
        routes.post("/admin/tenants/{slug}/deprovision", (request, response) ->
                Json.ok(response, tenants.view(tenants.deprovision(slug(request), auth.require(request)))));
        routes.post("/admin/tenants/{slug}/restore", (request, response) ->
                Json.ok(response, tenants.view(tenants.restore(slug(request), auth.require(request)))));
        routes.post("/admin/tenants/{slug}/rotate-secret", (request, response) -> {
            Actor actor = auth.require(request);
            boolean revoke = request.content().hasEntity() && Json.read(request, RotateSecret.class).revokePrevious();
            String kid = tenants.rotateSecret(slug(request), revoke, actor);
            Json.ok(response, Map.of("slug", slug(request), "signing_key_id", kid, "previous_key",
                    revoke ? "revoked" : "verifies for " + tenants.settings().secretGrace().toMinutes() + " more minutes"));
        });
        routes.delete("/admin/tenants/{slug}", (request, response) -> {
            Actor actor = auth.require(request);
            String slug = slug(request);
            boolean now = request.query().first("now").map("true"::equals).orElse(false);
            if (!slug.equals(request.query().first("confirm").orElse(""))) {
                throw new BadRequest("confirmation-required", "purging destroys the tenant's data and keys for good: "
                        + "repeat the slug as ?confirm=" + slug);
            }
            Json.ok(response, tenants.view(tenants.purge(slug, now, actor)));
        });
        routes.get("/t/{tenant}/health", (request, response) -> {
            TenantDirectory.ResolvedTenant tenant = directory.requireServing(request.path().pathParameters().get("tenant"));
            databases.withConnection(tenant.tenant(), connection -> {
                try (Statement statement = connection.createStatement()) {
                    statement.setQueryTimeout(5);
                    statement.execute("SELECT 1");
                }
                return null;
            });
            Json.ok(response, Map.of("tenant", tenant.tenant().slug(), "status", "ok"));
        });
    }

    private static String slug(ServerRequest request) {
        return request.path().pathParameters().get("slug");
    }
}
