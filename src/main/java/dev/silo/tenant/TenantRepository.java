package dev.silo.tenant;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** Tenant rows in the catalog. Callers own the transaction. */
final class TenantRepository {
    private static final String COLUMNS = """
            id, slug, name, status, placement_id, database_name, role_name, credentials_wrapped, attached,
            data_keyset_wrapped, created_at, updated_at, suspended_at, deprovisioned_at, purge_after, purged_at""";

    private TenantRepository() {}

    static void insert(Connection connection, Tenant tenant) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement("INSERT INTO tenants (" + COLUMNS + """
                ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)) {
            insert.setObject(1, tenant.id());
            insert.setString(2, tenant.slug());
            insert.setString(3, tenant.name());
            insert.setString(4, tenant.status().wire());
            insert.setObject(5, tenant.placementId());
            insert.setString(6, tenant.databaseName());
            insert.setString(7, tenant.roleName());
            insert.setBytes(8, tenant.credentialsWrapped());
            insert.setBoolean(9, tenant.attached());
            insert.setBytes(10, tenant.dataKeysetWrapped());
            insert.setTimestamp(11, ts(tenant.createdAt()));
            insert.setTimestamp(12, ts(tenant.updatedAt()));
            insert.setTimestamp(13, ts(tenant.suspendedAt()));
            insert.setTimestamp(14, ts(tenant.deprovisionedAt()));
            insert.setTimestamp(15, ts(tenant.purgeAfter()));
            insert.setTimestamp(16, ts(tenant.purgedAt()));
            insert.executeUpdate();
        }
    }

    /** The live (not purged) tenant with this slug. */
    static Optional<Tenant> findBySlug(Connection connection, String slug, boolean forUpdate) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT " + COLUMNS
                + " FROM tenants WHERE slug = ? AND status <> 'purged'" + (forUpdate ? " FOR UPDATE" : ""))) {
            select.setString(1, slug);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next() ? Optional.of(read(rs)) : Optional.empty();
            }
        }
    }

    static Optional<Tenant> findById(Connection connection, UUID id, boolean forUpdate) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT " + COLUMNS + " FROM tenants WHERE id = ?"
                + (forUpdate ? " FOR UPDATE" : ""))) {
            select.setObject(1, id);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next() ? Optional.of(read(rs)) : Optional.empty();
            }
        }
    }

    static List<Tenant> list(Connection connection, String whereClause, Object... parameters) throws SQLException {
        List<Tenant> tenants = new ArrayList<>();
        try (PreparedStatement select = connection.prepareStatement("SELECT " + COLUMNS + " FROM tenants WHERE "
                + whereClause + " ORDER BY created_at, id")) {
            for (int i = 0; i < parameters.length; i++) {
                select.setObject(i + 1, parameters[i] instanceof Instant instant ? ts(instant) : parameters[i]);
            }
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    tenants.add(read(rs));
                }
            }
        }
        return tenants;
    }

    static void update(Connection connection, Tenant tenant) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement("""
                UPDATE tenants SET name = ?, status = ?, credentials_wrapped = ?, data_keyset_wrapped = ?, updated_at = ?,
                    suspended_at = ?, deprovisioned_at = ?, purge_after = ?, purged_at = ?
                WHERE id = ?
                """)) {
            update.setString(1, tenant.name());
            update.setString(2, tenant.status().wire());
            update.setBytes(3, tenant.credentialsWrapped());
            update.setBytes(4, tenant.dataKeysetWrapped());
            update.setTimestamp(5, ts(tenant.updatedAt()));
            update.setTimestamp(6, ts(tenant.suspendedAt()));
            update.setTimestamp(7, ts(tenant.deprovisionedAt()));
            update.setTimestamp(8, ts(tenant.purgeAfter()));
            update.setTimestamp(9, ts(tenant.purgedAt()));
            update.setObject(10, tenant.id());
            update.executeUpdate();
        }
    }

    static void updatePlacement(Connection connection, UUID id, UUID placementId, Instant updatedAt) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement("""
                UPDATE tenants SET placement_id = ?, updated_at = ? WHERE id = ?
                """)) {
            update.setObject(1, placementId);
            update.setTimestamp(2, ts(updatedAt));
            update.setObject(3, id);
            update.executeUpdate();
        }
    }

    /** The tenant's allowed CORS origins, as {@link CorsOrigins#parse} stored them. */
    static CorsOrigins corsOrigins(Connection connection, UUID id) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT cors_origins FROM tenants WHERE id = ?")) {
            select.setObject(1, id);
            try (ResultSet rs = select.executeQuery()) {
                if (!rs.next()) {
                    return CorsOrigins.NONE;
                }
                java.sql.Array array = rs.getArray(1);
                return new CorsOrigins(List.of((String[]) array.getArray()));
            }
        }
    }

    /** The operator's rate limit of the tenant ({@code RateLimit.spec} or {@code off}); empty: the node's default. */
    static Optional<String> rateLimit(Connection connection, UUID id) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT rate_limit FROM tenants WHERE id = ?")) {
            select.setObject(1, id);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next() ? Optional.ofNullable(rs.getString(1)) : Optional.empty();
            }
        }
    }

    static void updateRateLimit(Connection connection, UUID id, Optional<String> rateLimit, Instant updatedAt) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement("""
                UPDATE tenants SET rate_limit = ?, updated_at = ? WHERE id = ?
                """)) {
            update.setString(1, rateLimit.orElse(null));
            update.setTimestamp(2, ts(updatedAt));
            update.setObject(3, id);
            update.executeUpdate();
        }
    }

    static void updateCorsOrigins(Connection connection, UUID id, CorsOrigins origins, Instant updatedAt) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement("""
                UPDATE tenants SET cors_origins = ?, updated_at = ? WHERE id = ?
                """)) {
            update.setArray(1, connection.createArrayOf("text", origins.origins().toArray()));
            update.setTimestamp(2, ts(updatedAt));
            update.setObject(3, id);
            update.executeUpdate();
        }
    }

    static void delete(Connection connection, UUID id) throws SQLException {
        try (PreparedStatement delete = connection.prepareStatement("DELETE FROM tenants WHERE id = ?")) {
            delete.setObject(1, id);
            delete.executeUpdate();
        }
    }

    private static Tenant read(ResultSet rs) throws SQLException {
        return new Tenant(rs.getObject("id", UUID.class), rs.getString("slug"), rs.getString("name"),
                TenantStatus.fromWire(rs.getString("status")), rs.getObject("placement_id", UUID.class),
                rs.getString("database_name"), rs.getString("role_name"), rs.getBytes("credentials_wrapped"),
                rs.getBoolean("attached"), rs.getBytes("data_keyset_wrapped"), instant(rs, "created_at"),
                instant(rs, "updated_at"), instant(rs, "suspended_at"), instant(rs, "deprovisioned_at"),
                instant(rs, "purge_after"), instant(rs, "purged_at"));
    }

    static Timestamp ts(Instant instant) {
        return instant == null ? null : Timestamp.from(instant);
    }

    static Instant instant(ResultSet rs, String column) throws SQLException {
        Timestamp timestamp = rs.getTimestamp(column);
        return timestamp == null ? null : timestamp.toInstant();
    }
}
