package dev.silo.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.silo.audit.TenantAudit;
import dev.silo.platform.db.CatalogEvents;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.NotFound;
import dev.silo.platform.problem.Unauthorized;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantDatabases;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * Credentials of a tenant's own back-end services ({@code silo_sk_} + 256 random bits), which open exactly one
 * route: token introspection (issue 19.4). An admin of the tenant creates one with a name and sees it once; only
 * its SHA-256 is stored, in the tenant's database ({@code service_credentials}), so a credential of one tenant
 * cannot even be looked up in another. A credential found live is remembered for at most
 * {@link SessionCache#MAX_STALENESS}, as sessions are: a revocation is refused at once on the node that made it and,
 * through a catalog event ({@code service-credentials:<tenant id>}), within milliseconds on the others, the staleness
 * bounding the delay should an event be lost. Unknown and revoked credentials are never remembered. Creation and
 * revocation are in the tenant's audit log.
 */
public final class ServiceCredentials {
    /** The longest name a credential may have. */
    static final int MAX_NAME_LENGTH = 100;

    /** A credential as listed: never its secret. */
    public record CredentialView(UUID id, String name, Instant createdAt, UUID createdBy, Instant revokedAt) {}

    /** A credential just made: the one time its secret is shown. */
    public record Created(UUID id, String name, String credential, Instant createdAt) {
        @Override
        public String toString() {
            return "Created[" + id + " " + name + "]";
        }
    }

    static final String EVENT_PREFIX = "service-credentials:";
    private static final Logger log = LoggerFactory.getLogger(ServiceCredentials.class);

    private final TenantDatabases databases;
    private final TenantAudit audit;
    private final Clock clock;
    private final CatalogEvents events;
    private final DataSource catalog;
    /** "tenant id:token hash" to the live credential's id. */
    private final Cache<String, UUID> live = Caffeine.newBuilder()
            .expireAfterWrite(SessionCache.MAX_STALENESS)
            .maximumSize(10_000)
            .build();
    /** Counts forgettings: a lookup that raced one is not remembered (it may have read the row before the revoke). */
    private final java.util.concurrent.atomic.AtomicLong forgets = new java.util.concurrent.atomic.AtomicLong();

    public ServiceCredentials(TenantDatabases databases, TenantAudit audit, Clock clock, CatalogEvents events, DataSource catalog) {
        this.databases = requireNonNull(databases, "databases is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.events = requireNonNull(events, "events is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        events.subscribe(this::onEvent);
    }

    /** A revocation (on any node), any change of the tenant (a restore may bring other rows back), or a resync. */
    private void onEvent(String payload) {
        if (CatalogEvents.RESYNC.equals(payload)) {
            forgets.incrementAndGet();
            live.invalidateAll();
            return;
        }
        String tenantId = payload.startsWith(EVENT_PREFIX) ? payload.substring(EVENT_PREFIX.length())
                : payload.startsWith("tenant:") ? payload.split(":", 3)[1] : null;
        if (tenantId != null) {
            String prefix = tenantId + ":";
            forgets.incrementAndGet();
            live.asMap().keySet().removeIf(key -> key.startsWith(prefix));
        }
    }

    /** Makes a credential for the caller's tenant; the caller must be an admin (the route checks it). */
    public Created create(Caller admin, String name) {
        requireNonNull(admin, "admin is null");
        String checked = checkName(name);
        String secret = OpaqueTokens.generate(OpaqueTokens.Kind.SERVICE);
        UUID id = UUID.randomUUID();
        Instant now = clock.instant();
        databases.inTransaction(admin.tenant(), connection -> {
            try (PreparedStatement insert = connection.prepareStatement("""
                    INSERT INTO service_credentials (id, name, token_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?)
                    """)) {
                insert.setObject(1, id);
                insert.setString(2, checked);
                insert.setString(3, OpaqueTokens.hash(secret));
                insert.setTimestamp(4, Timestamp.from(now));
                insert.setObject(5, admin.userId());
                insert.executeUpdate();
            }
            audit.append(connection, admin.audit(), "service-credential.create", id.toString(), Map.of("name", checked));
            return null;
        });
        return new Created(id, checked, secret, now);
    }

    /** Every credential of the tenant, revoked ones too, oldest first. */
    public List<CredentialView> list(Tenant tenant) {
        requireNonNull(tenant, "tenant is null");
        return databases.withConnection(tenant, connection -> {
            List<CredentialView> views = new ArrayList<>();
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT id, name, created_at, created_by, revoked_at FROM service_credentials ORDER BY created_at, id
                    """);
                 ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    Timestamp revoked = rs.getTimestamp("revoked_at");
                    views.add(new CredentialView(rs.getObject("id", UUID.class), rs.getString("name"),
                            rs.getTimestamp("created_at").toInstant(), rs.getObject("created_by", UUID.class),
                            revoked == null ? null : revoked.toInstant()));
                }
            }
            return views;
        });
    }

    /**
     * Revokes a live credential of the caller's tenant: its next use is refused.
     *
     * @throws NotFound {@code service-credential-not-found} for one that is unknown here or already revoked
     */
    public void revoke(Caller admin, UUID id) {
        requireNonNull(admin, "admin is null");
        requireNonNull(id, "id is null");
        databases.inTransaction(admin.tenant(), connection -> {
            try (PreparedStatement revoke = connection.prepareStatement(
                    "UPDATE service_credentials SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING name")) {
                revoke.setTimestamp(1, Timestamp.from(clock.instant()));
                revoke.setObject(2, id);
                try (ResultSet rs = revoke.executeQuery()) {
                    if (!rs.next()) {
                        throw notFound();
                    }
                    audit.append(connection, admin.audit(), "service-credential.revoke", id.toString(), Map.of("name", rs.getString(1)));
                }
            }
            return null;
        });
        try {
            events.announce(catalog, EVENT_PREFIX + admin.tenant().id());
        } catch (RuntimeException e) {
            // Committed: this node forgets at once; another node within the staleness bound.
            events.local(EVENT_PREFIX + admin.tenant().id());
            log.warn("Could not announce the revocation of a service credential of tenant {} to the other nodes ({}); "
                    + "they refuse it within {} s", admin.tenant().id(), e.getClass().getSimpleName(),
                    SessionCache.MAX_STALENESS.toSeconds());
        }
    }

    /**
     * The id of the live credential an {@code Authorization: Bearer silo_sk_...} header carries.
     *
     * @throws Unauthorized {@code invalid-service-credential} for anything else: missing, malformed, unknown here, revoked
     */
    public UUID authenticate(Tenant tenant, String authorization) {
        requireNonNull(tenant, "tenant is null");
        String secret = authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)
                ? authorization.substring(7).strip() : null;
        // Shape first: garbage costs no database round trip.
        if (!OpaqueTokens.isWellFormed(OpaqueTokens.Kind.SERVICE, secret)) {
            throw invalidCredential();
        }
        String hash = OpaqueTokens.hash(secret);
        String key = tenant.id() + ":" + hash;
        UUID known = live.getIfPresent(key);
        if (known != null) {
            return known;
        }
        long forgetsBefore = forgets.get();
        UUID found = databases.withConnection(tenant, connection -> {
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT id FROM service_credentials WHERE token_hash = ? AND revoked_at IS NULL")) {
                select.setString(1, hash);
                try (ResultSet rs = select.executeQuery()) {
                    if (!rs.next()) {
                        throw invalidCredential();
                    }
                    return rs.getObject(1, UUID.class);
                }
            }
        });
        if (forgets.get() == forgetsBefore) {
            live.put(key, found);
            if (forgets.get() != forgetsBefore) {
                live.invalidate(key); // a revocation landed while it was being put
            }
        }
        return found;
    }

    private static String checkName(String name) {
        if (name == null || name.isBlank()) {
            throw new BadRequest("invalid-request", "field 'name' is required: what the credential is for (1 to "
                    + MAX_NAME_LENGTH + " characters)");
        }
        String stripped = name.strip();
        if (stripped.length() > MAX_NAME_LENGTH) {
            throw new BadRequest("invalid-request", "field 'name' is at most " + MAX_NAME_LENGTH + " characters");
        }
        if (stripped.codePoints().anyMatch(cp -> Character.isISOControl(cp) || Character.getType(cp) == Character.FORMAT)) {
            throw new BadRequest("invalid-request", "field 'name' cannot contain control or invisible characters");
        }
        return stripped;
    }

    static Unauthorized invalidCredential() {
        return new Unauthorized("invalid-service-credential", "introspection needs a live service credential of this "
                + "tenant: Authorization: Bearer silo_sk_...", "Bearer error=\"invalid_token\"");
    }

    private static NotFound notFound() {
        return new NotFound("service-credential-not-found", "no such live service credential in this tenant");
    }
}
