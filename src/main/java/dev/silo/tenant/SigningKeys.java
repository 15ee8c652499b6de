package dev.silo.tenant;

import dev.silo.platform.crypto.Envelope;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static dev.silo.tenant.TenantRepository.instant;
import static dev.silo.tenant.TenantRepository.ts;

/**
 * Per-tenant JWT signing secrets (claim C6): random, 64 characters by default and never fewer than 40,
 * each with its own key id, stored wrapped by the master key.
 */
public final class SigningKeys {
    public static final int DEFAULT_SECRET_LENGTH = dev.silo.auth.JwtSecrets.DEFAULT_LENGTH;
    public static final int MINIMUM_SECRET_LENGTH = dev.silo.auth.JwtSecrets.MIN_LENGTH;

    private SigningKeys() {}

    /** One key, unwrapped: only ever held in memory. */
    public record SigningKey(String kid, byte[] secret, Instant createdAt, Instant retiresAt) {
        public boolean verifiesAt(Instant now) {
            return retiresAt == null || retiresAt.isAfter(now);
        }

        @Override
        public String toString() {
            return "SigningKey[" + kid + "]";
        }
    }

    /** A random secret of {@code length} characters (at least {@link #MINIMUM_SECRET_LENGTH}). */
    public static String newSecret(int length) {
        return dev.silo.auth.JwtSecrets.generate(length);
    }

    public static String newKid() {
        return dev.silo.auth.JwtSecrets.newKid();
    }

    static void insert(Connection connection, Envelope envelope, UUID tenantId, String kid, String secret, Instant now) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO tenant_signing_keys (kid, tenant_id, secret_wrapped, created_at) VALUES (?, ?, ?, ?)")) {
            insert.setString(1, kid);
            insert.setObject(2, tenantId);
            insert.setBytes(3, envelope.wrapString(secret, Tenant.signingKeyContext(tenantId, kid)));
            insert.setTimestamp(4, ts(now));
            insert.executeUpdate();
        }
    }

    /** Keys that still verify at {@code now}, newest first; the first unretired one signs. */
    public static List<SigningKey> load(Connection connection, Envelope envelope, UUID tenantId, Instant now) throws SQLException {
        List<SigningKey> keys = new ArrayList<>();
        try (PreparedStatement select = connection.prepareStatement("""
                SELECT kid, secret_wrapped, created_at, retires_at FROM tenant_signing_keys
                WHERE tenant_id = ? AND (retires_at IS NULL OR retires_at > ?)
                ORDER BY created_at DESC, kid
                """)) {
            select.setObject(1, tenantId);
            select.setTimestamp(2, ts(now));
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    String kid = rs.getString("kid");
                    byte[] secret = envelope.unwrapString(rs.getBytes("secret_wrapped"), Tenant.signingKeyContext(tenantId, kid))
                            .getBytes(StandardCharsets.UTF_8);
                    keys.add(new SigningKey(kid, secret, instant(rs, "created_at"), instant(rs, "retires_at")));
                }
            }
        }
        return keys;
    }

    /** Retires every current key of the tenant at {@code retiresAt} (keys already retiring earlier keep their time). */
    static void retireCurrent(Connection connection, UUID tenantId, Instant retiresAt) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement("""
                UPDATE tenant_signing_keys SET retires_at = ?
                WHERE tenant_id = ? AND (retires_at IS NULL OR retires_at > ?)
                """)) {
            update.setTimestamp(1, ts(retiresAt));
            update.setObject(2, tenantId);
            update.setTimestamp(3, ts(retiresAt));
            update.executeUpdate();
        }
    }

    static void deleteAll(Connection connection, UUID tenantId) throws SQLException {
        try (PreparedStatement delete = connection.prepareStatement("DELETE FROM tenant_signing_keys WHERE tenant_id = ?")) {
            delete.setObject(1, tenantId);
            delete.executeUpdate();
        }
    }

    static int deleteRetiredBefore(Connection connection, Instant before) throws SQLException {
        try (PreparedStatement delete = connection.prepareStatement("DELETE FROM tenant_signing_keys WHERE retires_at < ?")) {
            delete.setTimestamp(1, ts(before));
            return delete.executeUpdate();
        }
    }
}
