package dev.silo.audit;


import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * A tenant's own security log, in the tenant's database: logins, lockouts, refresh-token reuse, password
 * changes and resets, user administration. Append-only and hash-chained like {@link PlatformAudit}.
 */
public final class TenantAudit {
    private final Clock clock;

    public TenantAudit(Clock clock) {
        this.clock = requireNonNull(clock, "clock is null");
    }

    /** Who and where: the acting user (or operator), the client address and agent, the request id. */
    public record Context(String actor, String clientIp, String userAgent, String requestId) {
        public static final Context SYSTEM = new Context("system", null, null, null);
    }

    public record Entry(long seq, Instant at, String type, String actor, String subject, String clientIp, String userAgent,
                        String requestId, String detail, String hash) {}

    public void append(Connection connection, Context context, String type, String subject, Map<String, ?> detail) throws SQLException {
        HashChain.Tail tail = HashChain.lockTail(connection, "audit_log", 7215003);
        long seq = tail.nextSeq();
        String previous = tail.previousHash();
        Instant at = clock.instant().truncatedTo(ChronoUnit.MICROS);
        String detailJson = HashChain.canonicalJson(detail);
        String hash = HashChain.link(previous, seq, at, type, context.actor(), subject, context.clientIp(), context.userAgent(),
                context.requestId(), detailJson);
        try (PreparedStatement insert = connection.prepareStatement("""
                INSERT INTO audit_log (seq, at, type, actor, subject, client_ip, user_agent, request_id, detail, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)) {
            insert.setLong(1, seq);
            insert.setTimestamp(2, Timestamp.from(at));
            insert.setString(3, type);
            insert.setString(4, context.actor());
            insert.setString(5, subject);
            insert.setString(6, context.clientIp());
            insert.setString(7, truncate(context.userAgent(), 300));
            insert.setString(8, context.requestId());
            insert.setString(9, detailJson);
            insert.setString(10, previous);
            insert.setString(11, hash);
            insert.executeUpdate();
        }
    }

    /** Newest first, optionally of one type and within [since, until), before sequence {@code before}. */
    public List<Entry> list(Connection connection, Optional<String> type, Optional<Instant> since, Optional<Instant> until,
                            long before, int limit) throws SQLException {
        List<Entry> entries = new ArrayList<>();
        try (PreparedStatement select = connection.prepareStatement("""
                SELECT seq, at, type, actor, subject, client_ip, user_agent, request_id, detail, hash FROM audit_log
                WHERE seq < ? AND (?::text IS NULL OR type = ?) AND (?::timestamptz IS NULL OR at >= ?)
                  AND (?::timestamptz IS NULL OR at < ?)
                ORDER BY seq DESC LIMIT ?
                """)) {
            select.setLong(1, before);
            select.setString(2, type.orElse(null));
            select.setString(3, type.orElse(null));
            select.setTimestamp(4, since.map(Timestamp::from).orElse(null));
            select.setTimestamp(5, since.map(Timestamp::from).orElse(null));
            select.setTimestamp(6, until.map(Timestamp::from).orElse(null));
            select.setTimestamp(7, until.map(Timestamp::from).orElse(null));
            select.setInt(8, limit);
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    entries.add(new Entry(rs.getLong("seq"), rs.getTimestamp("at").toInstant(), rs.getString("type"),
                            rs.getString("actor"), rs.getString("subject"), rs.getString("client_ip"), rs.getString("user_agent"),
                            rs.getString("request_id"), rs.getString("detail"), rs.getString("hash")));
                }
            }
        }
        return entries;
    }

    /** Recomputes the chain; returns the first sequence number that does not match, if any. */
    public Optional<Long> verify(Connection connection) throws SQLException {
        String previous = HashChain.GENESIS;
        long expected = 1;
        try (PreparedStatement select = connection.prepareStatement("""
                SELECT seq, at, type, actor, subject, client_ip, user_agent, request_id, detail, prev_hash, hash
                FROM audit_log ORDER BY seq
                """); ResultSet rs = select.executeQuery()) {
            while (rs.next()) {
                long seq = rs.getLong("seq");
                String hash = HashChain.link(previous, seq, rs.getTimestamp("at").toInstant(), rs.getString("type"),
                        rs.getString("actor"), rs.getString("subject"), rs.getString("client_ip"), rs.getString("user_agent"),
                        rs.getString("request_id"), rs.getString("detail"));
                if (seq != expected || !previous.equals(rs.getString("prev_hash")) || !hash.equals(rs.getString("hash"))) {
                    return Optional.of(seq);
                }
                previous = hash;
                expected++;
            }
        }
        return Optional.empty();
    }


    private static String truncate(String value, int max) {
        return value == null || value.length() <= max ? value : value.substring(0, max);
    }
}
