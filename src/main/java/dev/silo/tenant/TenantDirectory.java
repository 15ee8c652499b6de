package dev.silo.tenant;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.silo.platform.db.CatalogEvents;
import dev.silo.platform.problem.Forbidden;
import dev.silo.platform.problem.NotFound;
import dev.silo.platform.problem.Unavailable;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Resolves the tenant of a request ({@code /t/{tenant}/...}) from a per-node cache, so a request normally
 * touches no catalog query. Every change of a tenant is announced through {@link CatalogEvents} and drops the
 * entry on every node at once; the expiry is only a safety net.
 */
public final class TenantDirectory {
    private final TenantService tenants;
    private final Cache<String, Optional<ResolvedTenant>> cache = Caffeine.newBuilder()
            .maximumSize(100_000)
            .expireAfterWrite(Duration.ofMinutes(5))
            .build();

    public TenantDirectory(TenantService tenants) {
        this.tenants = requireNonNull(tenants, "tenants is null");
    }

    /** A tenant with its signing keys (newest first), unwrapped once per cache load, and its allowed CORS origins. */
    public record ResolvedTenant(Tenant tenant, List<dev.silo.auth.SigningKey> keys, CorsOrigins corsOrigins,
                                 Optional<String> rateLimit, boolean restoring,
                                 boolean moving) {
        /** The key with this id, if it belongs to this tenant; whether it still verifies is the token service's check. */
        public Optional<dev.silo.auth.SigningKey> key(String kid) {
            for (dev.silo.auth.SigningKey key : keys) {
                if (key.kid().equals(kid)) {
                    return Optional.of(key);
                }
            }
            return Optional.empty();
        }

        /** The key that signs new tokens: the newest one not retiring. */
        public dev.silo.auth.SigningKey signingKey(java.time.Instant now) {
            return keys.stream().filter(k -> k.retiresAt().isEmpty()).findFirst()
                    .orElseThrow(() -> new Unavailable("no-signing-key", "tenant '" + tenant.slug() + "' has no current signing key",
                            Duration.ofSeconds(5)));
        }
    }

    /** As {@link #requireServing(String, boolean)} for a request that may write. */
    public ResolvedTenant requireServing(String slug) {
        return requireServing(slug, true);
    }

    /**
     * The tenant named in a request, if it may serve: unknown slugs answer 404, suspended or deprovisioned
     * tenants 403, a tenant still being provisioned 503, and while a move copies its last changes
     * ({@code write}) a request that may write 503 {@code tenant-moving}; reads go on.
     */
    public ResolvedTenant requireServing(String slug, boolean write) {
        Optional<ResolvedTenant> resolved = slug == null || !TenantService.SLUG.matcher(slug).matches()
                ? Optional.empty()
                : cache.get(slug, this::load);
        ResolvedTenant tenant = resolved.orElseThrow(() -> new NotFound("tenant-not-found", "no tenant '" + safe(slug) + "'"));
        return switch (tenant.tenant().status()) {
            case ACTIVE -> {
                if (tenant.restoring()) {
                    // Not cached while it lasts: the swap ends with an event, but a restore whose process died has none.
                    cache.invalidate(slug);
                    throw new Unavailable("tenant-restoring", "tenant '" + slug + "' is being restored to an earlier point "
                            + "in time; try again in a few seconds", Duration.ofSeconds(5));
                }
                if (tenant.moving()) {
                    // Not cached either: the freeze lasts seconds and ends with an event, or with its job's heartbeat.
                    cache.invalidate(slug);
                    if (write) {
                        throw new Unavailable("tenant-moving", "tenant '" + slug + "' is moving to another database "
                                + "server; writes resume within seconds, reads are served meanwhile", Duration.ofSeconds(2));
                    }
                }
                // Start does not wait for tenant schemas: a tenant not yet checked on this node is checked (and
                // migrated if behind) here, once, before anything reads or writes it.
                tenants.ensureCurrentSchema(tenant.tenant());
                yield tenant;
            }
            case SUSPENDED -> throw new Forbidden("tenant-suspended", "tenant '" + slug + "' is suspended");
            case DEPROVISIONED -> throw new Forbidden("tenant-deprovisioned", "tenant '" + slug + "' has been deprovisioned");
            case PROVISIONING -> throw new Unavailable("tenant-provisioning", "tenant '" + slug + "' is still being set up",
                    Duration.ofSeconds(5));
            case PURGED -> throw new NotFound("tenant-not-found", "no tenant '" + slug + "'");
        };
    }

    private Optional<ResolvedTenant> load(String slug) {
        return tenants.findLive(slug).map(t -> {
            List<dev.silo.auth.SigningKey> keys = t.status() != TenantStatus.ACTIVE ? List.of()
                    : tenants.signingKeys(t.id()).stream()
                            .map(k -> new dev.silo.auth.SigningKey(k.kid(), k.secret(), Optional.ofNullable(k.retiresAt())))
                            .toList();
            return new ResolvedTenant(t, keys, tenants.corsOrigins(t.id()), tenants.rateLimit(t.id()),
                    t.status() == TenantStatus.ACTIVE && tenants.restoring(t.id()),
                    t.status() == TenantStatus.ACTIVE && tenants.moving(t.id()));
        });
    }

    /**
     * The allowed CORS origins of the live tenant with this slug, whatever its status (so that a browser app can
     * read the 403 of a suspended tenant); empty for an unknown or malformed slug. From the cache: a preflight
     * normally touches no database.
     */
    public Optional<CorsOrigins> corsOrigins(String slug) {
        if (slug == null || !TenantService.SLUG.matcher(slug).matches()) {
            return Optional.empty();
        }
        return cache.get(slug, this::load).map(ResolvedTenant::corsOrigins);
    }

    /**
     * The operator's rate limit of the live tenant with this slug, from the cache (empty: the node's default, or an
     * unknown or malformed slug).
     */
    public Optional<String> rateLimit(String slug) {
        if (slug == null || !TenantService.SLUG.matcher(slug).matches()) {
            return Optional.empty();
        }
        return cache.get(slug, this::load).flatMap(ResolvedTenant::rateLimit);
    }

    /**
     * Handles a catalog event: {@code tenant:<id>:<slug>} and {@code tenant-settings:<id>:<slug>} drop that tenant,
     * {@code *} drops everything.
     */
    public void onEvent(String payload) {
        if (CatalogEvents.RESYNC.equals(payload)) {
            cache.invalidateAll();
        } else if (payload.startsWith("tenant:") || payload.startsWith("tenant-settings:")) {
            String[] parts = payload.split(":", 3);
            if (parts.length == 3) {
                cache.invalidate(parts[2]);
            }
        }
    }

    private static String safe(String slug) {
        if (slug == null) {
            return "";
        }
        String cut = slug.length() > 40 ? slug.substring(0, 40) + "..." : slug;
        return cut.replaceAll("[^a-zA-Z0-9._-]", "?");
    }
}
