package dev.silo.tenant;

import dev.silo.audit.Actor;
import dev.silo.operator.OperatorAuth;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;
import dev.silo.platform.problem.BadRequest;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;
import io.helidon.webserver.http.ServerRequest;

import java.nio.charset.StandardCharsets;
import java.sql.Statement;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

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
            Listing listing = Listing.of(request);
            // By creation time then id, the order of TenantService.list, so the cursor (the last tenant's time
            // and id) continues exactly after the previous page even while tenants are created.
            List<Tenant> all = tenants.list(listing.includePurged());
            List<Tenant> page = all.stream().filter(listing::isAfterCursor).limit(listing.limit() + 1L).toList();
            String next = null;
            if (page.size() > listing.limit()) {
                page = page.subList(0, listing.limit());
                next = Listing.cursorOf(page.getLast());
            }
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("tenants", page.stream().map(tenants::view).toList());
            body.put("next_cursor", next);
            Json.ok(response, body);
        });
        routes.get("/admin/tenants/{slug}", (request, response) -> {
            auth.require(request);
            Tenant tenant = tenants.get(slug(request));
            // The operator's rate-limit override (PATCH below), or "default": only here, not in the list, where it
            // would cost a catalog query per tenant.
            Map<String, Object> body = new LinkedHashMap<>(tenants.view(tenant));
            body.put("rate_limit", tenants.rateLimit(tenant.id()).orElse("default"));
            body.put("size_bytes", sizeOf(tenant));
            Json.ok(response, body);
        });
        routes.patch("/admin/tenants/{slug}", (request, response) -> {
            Actor actor = auth.require(request);
            TenantPatch patch = Json.read(request, TenantPatch.class);
            String slug = slug(request);
            Optional<String> limit = tenants.setRateLimit(slug, patch.rateLimit(), actor);
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("slug", slug);
            body.put("rate_limit", limit.orElse("default"));
            Json.ok(response, body);
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
            TenantDirectory.ResolvedTenant tenant = directory.requireServing(request.path().pathParameters().get("tenant"), false);
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

    /** The query of {@code GET /admin/tenants}: {@code limit}, {@code cursor}, {@code include_purged}; anything else is refused. */
    record Listing(int limit, Optional<Instant> afterTime, Optional<UUID> afterId, boolean includePurged) {
        private static final Set<String> PARAMETERS = Set.of("limit", "cursor", "include_purged");
        private static final int MAX_LIMIT = 500;

        static Listing of(ServerRequest request) {
            for (String name : request.query().names()) {
                if (!PARAMETERS.contains(name)) {
                    throw new BadRequest("invalid-parameter", "unknown query parameter '" + name
                            + "' (this listing takes limit, cursor and include_purged)");
                }
            }
            int limit = 50;
            String limitText = request.query().first("limit").orElse(null);
            if (limitText != null) {
                try {
                    limit = Integer.parseInt(limitText);
                } catch (NumberFormatException e) {
                    limit = -1;
                }
                if (limit < 1 || limit > MAX_LIMIT) {
                    throw new BadRequest("invalid-parameter", "'limit' must be a number from 1 to " + MAX_LIMIT);
                }
            }
            String purged = request.query().first("include_purged").orElse("false");
            if (!purged.equals("true") && !purged.equals("false")) {
                throw new BadRequest("invalid-parameter", "'include_purged' must be true or false");
            }
            Optional<String> cursor = request.query().first("cursor").asOptional();
            if (cursor.isEmpty()) {
                return new Listing(limit, Optional.empty(), Optional.empty(), purged.equals("true"));
            }
            try {
                String[] parts = new String(Base64.getUrlDecoder().decode(cursor.get()), StandardCharsets.UTF_8).split("\\|");
                return new Listing(limit, Optional.of(Instant.parse(parts[0])), Optional.of(UUID.fromString(parts[1])),
                        purged.equals("true"));
            } catch (RuntimeException e) {
                throw new BadRequest("invalid-cursor", "the cursor is not one this API returned");
            }
        }

        boolean isAfterCursor(Tenant tenant) {
            if (afterTime.isEmpty()) {
                return true;
            }
            int byTime = tenant.createdAt().compareTo(afterTime.get());
            // PostgreSQL orders uuids byte by byte, as their lower-case text sorts; UUID.compareTo is signed.
            return byTime > 0 || (byTime == 0 && tenant.id().toString().compareTo(afterId.orElseThrow().toString()) > 0);
        }

        static String cursorOf(Tenant tenant) {
            return Base64.getUrlEncoder().withoutPadding()
                    .encodeToString((tenant.createdAt() + "|" + tenant.id()).getBytes(StandardCharsets.UTF_8));
        }
    }

    /**
     * The tenant database's size on disk, read over the tenant's own connection (so only for a tenant whose role
     * can log in), or null when it cannot be read now: a size is worth showing, never worth failing the answer.
     * Only here, not in the list, where it would cost a connection per tenant.
     */
    private Long sizeOf(Tenant tenant) {
        if (tenant.status() != TenantStatus.ACTIVE && tenant.status() != TenantStatus.SUSPENDED) {
            return null;
        }
        try {
            return databases.withConnection(tenant, connection -> {
                try (Statement statement = connection.createStatement()) {
                    statement.setQueryTimeout(5);
                    try (java.sql.ResultSet size = statement.executeQuery("SELECT pg_database_size(current_database())")) {
                        return size.next() ? size.getLong(1) : null;
                    }
                }
            });
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static String slug(ServerRequest request) {
        return request.path().pathParameters().get("slug");
    }

    /** {@code PATCH /admin/tenants/{slug}}: what an operator may change in place (README "Rate limits"). */
    record TenantPatch(String rateLimit) {}
}
