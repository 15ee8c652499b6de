package dev.silo.audit;

import dev.silo.platform.crypto.Envelope;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

import static java.util.Objects.requireNonNull;

/**
 * The HMAC keys of the audit chains and of their checkpoints, each derived from the master key with HKDF and its
 * own purpose: the platform log, one key per tenant database (so one tenant's entries do not verify in
 * another's log), and the checkpoint lines. Whoever holds only the database cannot recompute any of them.
 */
public final class AuditKeys {
    private final Envelope envelope;
    private final byte[] platform;
    private final byte[] checkpoints;
    private final ConcurrentMap<String, byte[]> tenants = new ConcurrentHashMap<>();

    public AuditKeys(Envelope envelope) {
        this.envelope = requireNonNull(envelope, "envelope is null");
        this.platform = envelope.deriveKey("silo/audit/platform/v1");
        this.checkpoints = envelope.deriveKey("silo/audit/checkpoints/v1");
    }

    byte[] platform() {
        return platform;
    }

    byte[] checkpoints() {
        return checkpoints;
    }

    /**
     * The key of the audit log in one tenant database. Tenant databases are named after the tenant id
     * ({@code t_<uuid hex>}), or for an attached database by its own name, which the log can read cheaply from
     * its own connection ({@code current_database()}).
     */
    byte[] tenantDatabase(String databaseName) {
        requireNonNull(databaseName, "databaseName is null");
        return tenants.computeIfAbsent(databaseName, name -> envelope.deriveKey("silo/audit/tenant-database/v1/" + name));
    }
}
