package dev.silo.cors;

import dev.silo.audit.Actor;
import dev.silo.audit.TenantAudit;
import dev.silo.auth.Caller;
import dev.silo.platform.problem.Forbidden;
import dev.silo.tenant.CorsOrigins;
import dev.silo.tenant.TenantDatabases;
import dev.silo.tenant.TenantService;

import java.util.List;
import java.util.Map;

import static java.util.Objects.requireNonNull;

/**
 * A tenant admin's view of the tenant's CORS origins. The list lives in the catalog (the tenant cache serves it to
 * preflights), so a change by the admin is written there by {@link TenantService#setCorsOrigins}, audited in the
 * platform audit with the admin as actor, and also in the tenant's own audit log, where the admin sees it.
 *
 * <p>The tenant audit entry is written in a tenant transaction around the catalog change: a refused or failed
 * change leaves no entry; should the tenant commit fail after the catalog's, the platform audit still has it.
 */
public final class CorsSettings {
    private final TenantService tenants;
    private final TenantDatabases databases;
    private final TenantAudit audit;

    public CorsSettings(TenantService tenants, TenantDatabases databases, TenantAudit audit) {
        this.tenants = requireNonNull(tenants, "tenants is null");
        this.databases = requireNonNull(databases, "databases is null");
        this.audit = requireNonNull(audit, "audit is null");
    }

    public CorsOrigins get(Caller caller) {
        requireAdmin(caller);
        return tenants.corsOrigins(caller.tenant().id());
    }

    public CorsOrigins set(Caller caller, List<String> origins) {
        requireAdmin(caller);
        CorsOrigins parsed = CorsOrigins.parse(origins);
        String slug = caller.tenant().slug();
        Actor actor = new Actor("tenant-admin:" + slug + "/user:" + caller.userId(), caller.request().requestId(),
                caller.request().clientAddress().getHostAddress());
        return databases.inTransaction(caller.tenant(), connection -> {
            audit.append(connection, caller.audit(), "settings.cors.update", "tenant:" + slug,
                    Map.of("cors_origins", parsed.origins()));
            return tenants.setCorsOrigins(slug, parsed.origins(), actor);
        });
    }

    private static void requireAdmin(Caller caller) {
        if (!caller.admin()) {
            throw new Forbidden("forbidden", "the tenant's CORS origins are managed by its admins");
        }
    }
}
