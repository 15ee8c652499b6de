package dev.silo.staff;

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

/** The SQL of {@code staff_access_requests} in the catalog; the services own the transactions. */
final class AccessRequests {
    private static final String COLUMNS = """
            r.id, r.tenant_id, t.slug, r.operator_name, r.operator_email, r.reason, r.scope, r.duration_minutes,
            r.emergency, r.status, r.requested_at, r.decided_at, r.decided_by, r.expires_at, r.token_hash IS NOT NULL AS token_issued,
            r.ended_at, r.ended_by, r.uses, r.last_used_at
            FROM staff_access_requests r JOIN tenants t ON t.id = r.tenant_id
            """;

    private AccessRequests() {}

    static void insert(Connection connection, AccessRequest request) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement("""
                INSERT INTO staff_access_requests (id, tenant_id, operator_name, operator_email, reason, scope, duration_minutes,
                                                   emergency, status, requested_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)) {
            insert.setObject(1, request.id());
            insert.setObject(2, request.tenantId());
            insert.setString(3, request.operatorName());
            insert.setString(4, request.operatorEmail());
            insert.setString(5, request.reason());
            insert.setString(6, request.scope());
            insert.setInt(7, request.durationMinutes());
            insert.setBoolean(8, request.emergency());
            insert.setString(9, request.status());
            insert.setTimestamp(10, Timestamp.from(request.requestedAt()));
            insert.executeUpdate();
        }
    }

    /** The request {@code id} of tenant {@code tenantId}, locked for the decision when {@code lock}. */
    static Optional<AccessRequest> find(Connection connection, UUID tenantId, UUID id, boolean lock) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT " + COLUMNS
                + " WHERE r.id = ? AND r.tenant_id = ?" + (lock ? " FOR UPDATE OF r" : ""))) {
            select.setObject(1, id);
            select.setObject(2, tenantId);
            return one(select);
        }
    }

    /** The request {@code id} of whichever tenant. */
    static Optional<AccessRequest> findAny(Connection connection, UUID id) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT " + COLUMNS + " WHERE r.id = ?")) {
            select.setObject(1, id);
            return one(select);
        }
    }

    /** The grant whose token hashes to {@code tokenHash}, of any tenant, locked: its use is counted. */
    static Optional<AccessRequest> findByToken(Connection connection, String tokenHash) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT " + COLUMNS + " WHERE r.token_hash = ? FOR UPDATE OF r")) {
            select.setString(1, tokenHash);
            return one(select);
        }
    }

    /** Newest first; of one tenant, or of every tenant when {@code tenantId} is null. */
    static List<AccessRequest> list(Connection connection, UUID tenantId, int limit) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT " + COLUMNS
                + " WHERE (?::uuid IS NULL OR r.tenant_id = ?) ORDER BY r.requested_at DESC, r.id LIMIT ?")) {
            select.setObject(1, tenantId);
            select.setObject(2, tenantId);
            select.setInt(3, limit);
            List<AccessRequest> requests = new ArrayList<>();
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    requests.add(read(rs));
                }
            }
            return requests;
        }
    }

    static void decide(Connection connection, UUID id, String status, Instant at, String by, Instant expiresAt) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement("""
                UPDATE staff_access_requests SET status = ?, decided_at = ?, decided_by = ?, expires_at = ? WHERE id = ?
                """)) {
            update.setString(1, status);
            update.setTimestamp(2, Timestamp.from(at));
            update.setString(3, by);
            update.setTimestamp(4, expiresAt == null ? null : Timestamp.from(expiresAt));
            update.setObject(5, id);
            update.executeUpdate();
        }
    }

    static void end(Connection connection, UUID id, String status, Instant at, String by) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement(
                "UPDATE staff_access_requests SET status = ?, ended_at = ?, ended_by = ? WHERE id = ?")) {
            update.setString(1, status);
            update.setTimestamp(2, Timestamp.from(at));
            update.setString(3, by);
            update.setObject(4, id);
            update.executeUpdate();
        }
    }

    static void issueToken(Connection connection, UUID id, String tokenHash, Instant at) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement(
                "UPDATE staff_access_requests SET token_hash = ?, token_issued_at = ? WHERE id = ?")) {
            update.setString(1, tokenHash);
            update.setTimestamp(2, Timestamp.from(at));
            update.setObject(3, id);
            update.executeUpdate();
        }
    }

    static void countUse(Connection connection, UUID id, Instant at) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement(
                "UPDATE staff_access_requests SET uses = uses + 1, last_used_at = ? WHERE id = ?")) {
            update.setTimestamp(1, Timestamp.from(at));
            update.setObject(2, id);
            update.executeUpdate();
        }
    }

    /** Approved grants past their end, locked, for the sweep to mark expired (one node gets each). */
    static List<AccessRequest> due(Connection connection, Instant now, int limit) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT " + COLUMNS
                + " WHERE r.status = 'approved' AND r.expires_at <= ? ORDER BY r.expires_at LIMIT ? FOR UPDATE OF r SKIP LOCKED")) {
            select.setTimestamp(1, Timestamp.from(now));
            select.setInt(2, limit);
            List<AccessRequest> requests = new ArrayList<>();
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    requests.add(read(rs));
                }
            }
            return requests;
        }
    }

    static boolean operatorActive(Connection connection, String operatorName) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement(
                "SELECT 1 FROM operators WHERE name = ? AND revoked_at IS NULL")) {
            select.setString(1, operatorName);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next();
            }
        }
    }

    static Optional<String> operatorEmail(Connection connection, String operatorName) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement(
                "SELECT email FROM operators WHERE name = ? AND revoked_at IS NULL")) {
            select.setString(1, operatorName);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next() ? Optional.ofNullable(rs.getString(1)) : Optional.empty();
            }
        }
    }

    private static Optional<AccessRequest> one(PreparedStatement select) throws SQLException {
        try (ResultSet rs = select.executeQuery()) {
            return rs.next() ? Optional.of(read(rs)) : Optional.empty();
        }
    }

    private static AccessRequest read(ResultSet rs) throws SQLException {
        return new AccessRequest(rs.getObject("id", UUID.class), rs.getObject("tenant_id", UUID.class), rs.getString("slug"),
                rs.getString("operator_name"), rs.getString("operator_email"), rs.getString("reason"), rs.getString("scope"),
                rs.getInt("duration_minutes"), rs.getBoolean("emergency"), rs.getString("status"),
                instant(rs.getTimestamp("requested_at")), instant(rs.getTimestamp("decided_at")), rs.getString("decided_by"),
                instant(rs.getTimestamp("expires_at")), rs.getBoolean("token_issued"), instant(rs.getTimestamp("ended_at")),
                rs.getString("ended_by"), rs.getLong("uses"), instant(rs.getTimestamp("last_used_at")));
    }

    private static Instant instant(Timestamp timestamp) {
        return timestamp == null ? null : timestamp.toInstant();
    }
}
