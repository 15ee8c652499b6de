package dev.silo.tenant;

import java.time.Instant;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * A tenant as the catalog holds it. The wrapped fields are ciphertext under the master key; {@link #toString()}
 * leaves them out so a tenant can be logged.
 */
public record Tenant(UUID id, String slug, String name, TenantStatus status, UUID placementId, String databaseName,
                     String roleName, byte[] credentialsWrapped, boolean attached, byte[] dataKeysetWrapped,
                     Instant createdAt, Instant updatedAt, Instant suspendedAt, Instant deprovisionedAt,
                     Instant purgeAfter, Instant purgedAt) {
    public Tenant {
        requireNonNull(id, "id is null");
        requireNonNull(slug, "slug is null");
        requireNonNull(status, "status is null");
    }

    /** Database and role names derive from the tenant id, never from the slug (a customer's name). */
    public static String databaseNameFor(UUID id) {
        return "t_" + id.toString().replace("-", "");
    }

    /** The same tenant on another placement: where a move builds its copy (same database, role and password). */
    public Tenant onPlacement(UUID placement) {
        return new Tenant(id, slug, name, status, placement, databaseName, roleName, credentialsWrapped, attached,
                dataKeysetWrapped, createdAt, updatedAt, suspendedAt, deprovisionedAt, purgeAfter, purgedAt);
    }

    public String credentialsContext() {
        return "tenant/" + id + "/db-credentials";
    }

    public String keysetContext() {
        return "tenant/" + id + "/data-keyset";
    }

    public static String signingKeyContext(UUID tenantId, String kid) {
        return "tenant/" + tenantId + "/jwt/" + kid;
    }

    @Override
    public String toString() {
        return "Tenant[" + slug + " " + id + " " + status.wire() + "]";
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Tenant tenant && tenant.id.equals(id) && tenant.status == status
                && tenant.updatedAt != null && tenant.updatedAt.equals(updatedAt);
    }

    @Override
    public int hashCode() {
        return id.hashCode();
    }
}
