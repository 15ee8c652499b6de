package dev.silo.audit;

import dev.silo.operator.OperatorAuth;
import dev.silo.platform.db.Sql;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.QueryStrings;
import dev.silo.platform.http.Routes;
import dev.silo.platform.problem.BadRequest;

import io.helidon.webserver.http.ServerRequest;

import javax.sql.DataSource;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

import static java.util.Objects.requireNonNull;

/**
 * {@code GET /admin/audit} (newest first, paginated by {@code before}), {@code GET /admin/audit/verify} and a
 * tenant's {@code GET /t/{tenant}/audit/verify}.
 */
public final class AuditRoutes {
    private final DataSource catalog;
    private final PlatformAudit audit;
    private final OperatorAuth auth;
    private final Function<ServerRequest, AuditVerification> tenantVerify;

    /**
     * @param tenantVerify checks that the caller is an admin of the tenant in the path and verifies that tenant's
     *                     log over its own connection (the wiring supplies it: tenants and their callers live in
     *                     packages above this one)
     */
    public AuditRoutes(DataSource catalog, PlatformAudit audit, OperatorAuth auth,
                       Function<ServerRequest, AuditVerification> tenantVerify) {
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.auth = requireNonNull(auth, "auth is null");
        this.tenantVerify = requireNonNull(tenantVerify, "tenantVerify is null");
    }

    public void register(Routes routes) {
        routes.get("/admin/audit", (request, response) -> {
            auth.require(request);
            QueryStrings.allowOnly(request, Set.of("limit", "before"), "the audit takes limit and before");
            int limit = parse(request.query().first("limit").orElse("50"), "limit", 1, 500);
            long before = parse(request.query().first("before").orElse(Long.toString(Long.MAX_VALUE)), "before", 1, Long.MAX_VALUE);
            var entries = Sql.withConnection(catalog, connection -> audit.list(connection, limit, before));
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("entries", entries);
            body.put("next_before", entries.size() == limit ? entries.getLast().seq() : null);
            Json.ok(response, body);
        });
        routes.get("/admin/audit/verify", (request, response) -> {
            auth.require(request);
            Json.ok(response, Sql.withConnection(catalog, audit::verify).view());
        });
        routes.get("/t/{tenant}/audit/verify", (request, response) -> Json.ok(response, tenantVerify.apply(request).view()));
    }

    private static int parse(String value, String name, int min, int max) {
        return (int) parse(value, name, min, (long) max);
    }

    private static long parse(String value, String name, long min, long max) {
        try {
            long parsed = Long.parseLong(value);
            if (parsed >= min && parsed <= max) {
                return parsed;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new BadRequest("invalid-parameter", "'" + name + "' must be a number from " + min + " to " + max);
    }
}
