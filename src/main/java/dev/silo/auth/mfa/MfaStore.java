package dev.silo.auth.mfa;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** The SQL of the MFA tables of a tenant's database ({@code V7__mfa.sql}); the services own the transactions. */
final class MfaStore {
    /** A user's authenticator as stored: the sealed secret, and whether its first code confirmed it. */
    record Enrolment(byte[] sealed, Instant createdAt, Instant confirmedAt, Long lastUsedStep) {
        boolean confirmed() {
            return confirmedAt != null;
        }
    }

    enum Purpose {
        VERIFY,
        ENROL;

        String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** A live ticket: not used, not expired. */
    record Ticket(UUID userId, Purpose purpose, Instant createdAt) {}

    /** What a login needs to know: whether the user has a confirmed authenticator, and the tenant's requirement. */
    record LoginState(boolean enrolled, MfaPolicy policy) {}

    private MfaStore() {}

    static LoginState loginState(Connection connection, UUID userId) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("""
                SELECT EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = ? AND confirmed_at IS NOT NULL),
                       (SELECT required FROM mfa_policy WHERE id)
                """)) {
            select.setObject(1, userId);
            try (ResultSet rs = select.executeQuery()) {
                rs.next();
                String required = rs.getString(2);
                return new LoginState(rs.getBoolean(1), required == null ? MfaPolicy.NONE : MfaPolicy.parse(required));
            }
        }
    }

    static Optional<Enrolment> enrolment(Connection connection, UUID userId, boolean forUpdate) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement(
                "SELECT secret_sealed, created_at, confirmed_at, last_used_step FROM mfa_totp WHERE user_id = ?"
                        + (forUpdate ? " FOR UPDATE" : ""))) {
            select.setObject(1, userId);
            try (ResultSet rs = select.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                Timestamp confirmed = rs.getTimestamp(3);
                long step = rs.getLong(4);
                return Optional.of(new Enrolment(rs.getBytes(1), rs.getTimestamp(2).toInstant(),
                        confirmed == null ? null : confirmed.toInstant(), rs.wasNull() ? null : step));
            }
        }
    }

    /** Stores a new pending secret, replacing a pending one; false (nothing written) when a confirmed one exists. */
    static boolean savePending(Connection connection, UUID userId, byte[] sealed, Instant now) throws SQLException {
        try (PreparedStatement upsert = connection.prepareStatement("""
                INSERT INTO mfa_totp (user_id, secret_sealed, created_at) VALUES (?, ?, ?)
                ON CONFLICT (user_id) DO UPDATE SET secret_sealed = EXCLUDED.secret_sealed, created_at = EXCLUDED.created_at,
                    last_used_step = NULL
                WHERE mfa_totp.confirmed_at IS NULL
                """)) {
            upsert.setObject(1, userId);
            upsert.setBytes(2, sealed);
            upsert.setTimestamp(3, Timestamp.from(now));
            return upsert.executeUpdate() == 1;
        }
    }

    static void confirm(Connection connection, UUID userId, Instant now) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement("UPDATE mfa_totp SET confirmed_at = ? WHERE user_id = ?")) {
            update.setTimestamp(1, Timestamp.from(now));
            update.setObject(2, userId);
            update.executeUpdate();
        }
    }

    /** Records {@code step} as used; false when it or a later step already was (a concurrent use of the same code). */
    static boolean useStep(Connection connection, UUID userId, long step) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement(
                "UPDATE mfa_totp SET last_used_step = ? WHERE user_id = ? AND (last_used_step IS NULL OR last_used_step < ?)")) {
            update.setLong(1, step);
            update.setObject(2, userId);
            update.setLong(3, step);
            return update.executeUpdate() == 1;
        }
    }

    static void replaceRecoveryCodes(Connection connection, UUID userId, List<String> codes, Instant now) throws SQLException {
        try (PreparedStatement delete = connection.prepareStatement("DELETE FROM mfa_recovery_codes WHERE user_id = ?")) {
            delete.setObject(1, userId);
            delete.executeUpdate();
        }
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)")) {
            for (String code : codes) {
                insert.setObject(1, userId);
                insert.setString(2, RecoveryCodes.hash(code));
                insert.setTimestamp(3, Timestamp.from(now));
                insert.addBatch();
            }
            insert.executeBatch();
        }
    }

    /** Spends a recovery code; false when the user has no such unused code. */
    static boolean useRecoveryCode(Connection connection, UUID userId, String codeHash, Instant now) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement(
                "UPDATE mfa_recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL")) {
            update.setTimestamp(1, Timestamp.from(now));
            update.setObject(2, userId);
            update.setString(3, codeHash);
            return update.executeUpdate() == 1;
        }
    }

    static int recoveryCodesLeft(Connection connection, UUID userId) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement(
                "SELECT count(*) FROM mfa_recovery_codes WHERE user_id = ? AND used_at IS NULL")) {
            select.setObject(1, userId);
            try (ResultSet rs = select.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    /** Removes the user's authenticator, recovery codes and tickets; whether there was an authenticator. */
    static boolean remove(Connection connection, UUID userId) throws SQLException {
        for (String table : List.of("mfa_recovery_codes", "mfa_tickets")) {
            try (PreparedStatement delete = connection.prepareStatement("DELETE FROM " + table + " WHERE user_id = ?")) {
                delete.setObject(1, userId);
                delete.executeUpdate();
            }
        }
        try (PreparedStatement delete = connection.prepareStatement("DELETE FROM mfa_totp WHERE user_id = ?")) {
            delete.setObject(1, userId);
            return delete.executeUpdate() == 1;
        }
    }

    /** Stores a ticket, and drops the user's expired ones (tickets of abandoned logins do not pile up). */
    static void insertTicket(Connection connection, String ticketHash, UUID userId, Purpose purpose, Instant now,
                             Instant expires) throws SQLException {
        try (PreparedStatement delete = connection.prepareStatement(
                "DELETE FROM mfa_tickets WHERE user_id = ? AND (expires_at <= ? OR used_at IS NOT NULL)")) {
            delete.setObject(1, userId);
            delete.setTimestamp(2, Timestamp.from(now));
            delete.executeUpdate();
        }
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO mfa_tickets (ticket_hash, user_id, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")) {
            insert.setString(1, ticketHash);
            insert.setObject(2, userId);
            insert.setString(3, purpose.wire());
            insert.setTimestamp(4, Timestamp.from(now));
            insert.setTimestamp(5, Timestamp.from(expires));
            insert.executeUpdate();
        }
    }

    static Optional<Ticket> liveTicket(Connection connection, String ticketHash, Instant now, boolean forUpdate)
            throws SQLException {
        try (PreparedStatement select = connection.prepareStatement(
                "SELECT user_id, purpose, created_at FROM mfa_tickets WHERE ticket_hash = ? AND used_at IS NULL AND expires_at > ?"
                        + (forUpdate ? " FOR UPDATE" : ""))) {
            select.setString(1, ticketHash);
            select.setTimestamp(2, Timestamp.from(now));
            try (ResultSet rs = select.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                return Optional.of(new Ticket(rs.getObject(1, UUID.class),
                        Purpose.valueOf(rs.getString(2).toUpperCase(java.util.Locale.ROOT)), rs.getTimestamp(3).toInstant()));
            }
        }
    }

    static void spendTicket(Connection connection, String ticketHash, Instant now) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement("UPDATE mfa_tickets SET used_at = ? WHERE ticket_hash = ?")) {
            update.setTimestamp(1, Timestamp.from(now));
            update.setString(2, ticketHash);
            update.executeUpdate();
        }
    }

    static MfaPolicy policy(Connection connection) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT required FROM mfa_policy WHERE id")) {
            try (ResultSet rs = select.executeQuery()) {
                return rs.next() ? MfaPolicy.parse(rs.getString(1)) : MfaPolicy.NONE;
            }
        }
    }

    static void setPolicy(Connection connection, MfaPolicy policy, Instant now, String actor) throws SQLException {
        try (PreparedStatement upsert = connection.prepareStatement("""
                INSERT INTO mfa_policy (id, required, updated_at, updated_by) VALUES (true, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET required = EXCLUDED.required, updated_at = EXCLUDED.updated_at,
                    updated_by = EXCLUDED.updated_by
                """)) {
            upsert.setString(1, policy.wire());
            upsert.setTimestamp(2, Timestamp.from(now));
            upsert.setString(3, actor);
            upsert.executeUpdate();
        }
    }
}
