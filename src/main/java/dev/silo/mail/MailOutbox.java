package dev.silo.mail;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.silo.platform.crypto.Envelope;
import dev.silo.tenant.Tenant;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * The outbox table of a tenant database ({@code mail_outbox}): a mail is a row written in the transaction of the
 * event it tells about, so it exists exactly when the event committed, and a restart loses none. The one-time
 * token a mail carries is stored wrapped by the master key (bound to the tenant and the row) and erased once the
 * mail is sent or given up; the rest ({@code params}) holds no secret.
 */
final class MailOutbox {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Envelope envelope;

    MailOutbox(Envelope envelope) {
        this.envelope = requireNonNull(envelope, "envelope is null");
    }

    /** A row due for sending. {@code secret} is the unwrapped token, if the mail carries one. */
    record Pending(UUID id, MailTemplates.Kind kind, String recipient, Map<String, String> params, Optional<String> secret,
                   String messageId, int attempts, Instant createdAt) {
        @Override
        public String toString() {
            return "Pending[" + id + " " + kind + " attempt " + (attempts + 1) + "]";
        }
    }

    private static String context(Tenant tenant, UUID id) {
        return "mail-outbox:" + tenant.id() + ":" + id;
    }

    /** Writes a mail in the caller's transaction; the worker sends it once the transaction commits. */
    UUID enqueue(Connection connection, Tenant tenant, MailTemplates.Kind kind, String recipient, UUID userId,
                 Map<String, String> params, Optional<String> secret, String senderDomain, Instant now) throws SQLException {
        UUID id = UUID.randomUUID();
        try (PreparedStatement insert = connection.prepareStatement("""
                INSERT INTO mail_outbox (id, kind, recipient, user_id, params, secret, message_id, created_at, next_attempt_at)
                VALUES (?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?)
                """)) {
            insert.setObject(1, id);
            insert.setString(2, kind.wireName());
            insert.setString(3, recipient);
            insert.setObject(4, userId);
            insert.setString(5, JSON.writeValueAsString(params));
            insert.setBytes(6, secret.map(value -> envelope.wrapString(value, context(tenant, id))).orElse(null));
            insert.setString(7, "<" + id + "@" + senderDomain + ">");
            insert.setTimestamp(8, Timestamp.from(now));
            insert.setTimestamp(9, Timestamp.from(now));
            insert.executeUpdate();
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        return id;
    }

    /** Whether a mail of {@code kind} to {@code recipient} was written since {@code since}: a flood guard. */
    static boolean recentlyQueued(Connection connection, MailTemplates.Kind kind, String recipient, Instant since) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement(
                "SELECT EXISTS (SELECT 1 FROM mail_outbox WHERE recipient = ? AND kind = ? AND created_at > ?)")) {
            select.setString(1, recipient);
            select.setString(2, kind.wireName());
            select.setTimestamp(3, Timestamp.from(since));
            try (ResultSet rs = select.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }

    /**
     * The oldest due row, locked for this transaction ({@code SKIP LOCKED}: a row another node is sending is not
     * waited for). The lock is held while the mail is sent, so a crash of this node releases it at once.
     */
    Optional<Pending> claimDue(Connection connection, Tenant tenant, Instant now) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("""
                SELECT id, kind, recipient, params::text, secret, message_id, attempts, created_at FROM mail_outbox
                WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?
                ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED
                """)) {
            select.setTimestamp(1, Timestamp.from(now));
            try (ResultSet rs = select.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                UUID id = rs.getObject("id", UUID.class);
                Optional<MailTemplates.Kind> kind = MailTemplates.Kind.parse(rs.getString("kind"));
                if (kind.isEmpty()) {
                    throw new SQLException("mail_outbox row " + id + " has an unknown kind");
                }
                byte[] secret = rs.getBytes("secret");
                Map<String, String> params;
                try {
                    params = JSON.readValue(rs.getString(4), new TypeReference<Map<String, String>>() {});
                } catch (JsonProcessingException e) {
                    throw new SQLException("mail_outbox row " + id + " has unreadable params", e);
                }
                return Optional.of(new Pending(id, kind.get(), rs.getString("recipient"), params,
                        secret == null ? Optional.empty() : Optional.of(envelope.unwrapString(secret, context(tenant, id))),
                        rs.getString("message_id"), rs.getInt("attempts"), rs.getTimestamp("created_at").toInstant()));
            }
        }
    }

    static void markSent(Connection connection, UUID id, Instant now) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement(
                "UPDATE mail_outbox SET sent_at = ?, attempts = attempts + 1, secret = NULL, last_error = NULL WHERE id = ?")) {
            update.setTimestamp(1, Timestamp.from(now));
            update.setObject(2, id);
            update.executeUpdate();
        }
    }

    static void markRetry(Connection connection, UUID id, Instant next, String error) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement(
                "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?")) {
            update.setTimestamp(1, Timestamp.from(next));
            update.setString(2, error);
            update.setObject(3, id);
            update.executeUpdate();
        }
    }

    static void markFailed(Connection connection, UUID id, Instant now, String error) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement("""
                UPDATE mail_outbox SET attempts = attempts + 1, failed_at = ?, last_error = ?, secret = NULL WHERE id = ?
                """)) {
            update.setTimestamp(1, Timestamp.from(now));
            update.setString(2, error);
            update.setObject(3, id);
            update.executeUpdate();
        }
    }

    /** When the next pending row is due, if any is pending. */
    static Optional<Instant> nextDue(Connection connection) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement(
                "SELECT min(next_attempt_at) FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL");
             ResultSet rs = select.executeQuery()) {
            rs.next();
            Timestamp next = rs.getTimestamp(1);
            return next == null ? Optional.empty() : Optional.of(next.toInstant());
        }
    }

    /** The delay before attempt {@code attempts + 1}: {@code base}, doubled per attempt, at most an hour. */
    static Duration backoff(Duration base, int attempts) {
        long factor = 1L << Math.min(20, Math.max(0, attempts - 1));
        Duration delay = base.multipliedBy(factor);
        return delay.compareTo(Duration.ofHours(1)) > 0 ? Duration.ofHours(1) : delay;
    }
}
