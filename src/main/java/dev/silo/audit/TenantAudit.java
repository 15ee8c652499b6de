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
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import static java.util.Objects.requireNonNull;

/**
 * A tenant's own security log, in the tenant's database: logins, lockouts, refresh-token reuse, password
 * changes and resets, user administration. Append-only and chained like {@link PlatformAudit}, with a key of
 * its own per tenant database, and checkpointed outside the database ({@link AuditAnchors}).
 *
 * <p>Entries are appended by the services over the tenant's own connection; the log finds which tenant
 * database it is in from that connection ({@code current_database()}), so its callers need not pass it.
 */
public final class TenantAudit {
    private final Clock clock;
    private final AuditKeys keys;
    private final AuditAnchors anchors;
    private final HashChain.PlainPrefixes plainPrefixes = new HashChain.PlainPrefixes();
    /** Tenant databases whose log this process appended to since their last checkpoint. */
    private final Set<String> changed = ConcurrentHashMap.newKeySet();

    public TenantAudit(Clock clock, AuditKeys keys, AuditAnchors anchors) {
        this.clock = requireNonNull(clock, "clock is null");
        this.keys = requireNonNull(keys, "keys is null");
        this.anchors = requireNonNull(anchors, "anchors is null");
    }

    /** The name of a tenant's log in checkpoints and verification results. */
    public static String logName(UUID tenantId) {
        return "tenant:" + requireNonNull(tenantId, "tenantId is null");
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
        String database = databaseOf(connection);
        String userAgent = truncate(context.userAgent(), 300);
        String hash = HashChain.keyedLink(keys.tenantDatabase(database), previous, seq, at, type, context.actor(), subject,
                context.clientIp(), userAgent, context.requestId(), detailJson);
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
            insert.setString(7, userAgent);
            insert.setString(8, context.requestId());
            insert.setString(9, detailJson);
            insert.setString(10, previous);
            insert.setString(11, hash);
            insert.executeUpdate();
        }
        changed.add(database);
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

    /**
     * Checks the chain of the log in the database {@code connection} is on (the tenant's own connection) and
     * compares it with the checkpoints of {@code logName}: see {@link ChainCheck}.
     */
    public AuditVerification verify(Connection connection, String logName) throws SQLException {
        ChainCheck check = new ChainCheck(logName, keys.tenantDatabase(databaseOf(connection)), anchors.read(logName));
        try (PreparedStatement select = connection.prepareStatement("""
                SELECT seq, at, type, actor, subject, client_ip, user_agent, request_id, detail, prev_hash, hash
                FROM audit_log ORDER BY seq
                """)) {
            select.setFetchSize(500);
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    if (!check.accept(rs.getLong("seq"), rs.getString("prev_hash"), rs.getString("hash"), fields(rs))) {
                        break;
                    }
                }
            }
        }
        return check.result();
    }

    /**
     * Writes a checkpoint of the head of the log in the database {@code connection} is on, unless it has not moved;
     * false (and an error logged) when the log no longer continues its last checkpoint.
     */
    public boolean checkpoint(Connection connection, String logName) throws SQLException {
        return anchors.checkpoint(connection, "audit_log", logName, keys.tenantDatabase(databaseOf(connection)), TenantAudit::fields,
                plainPrefixes, clock.instant());
    }

    /** The tenant databases appended to since the last call (the checkpoint job's work list); clears it. */
    public Set<String> takeChanged() {
        Set<String> taken = new HashSet<>(changed);
        changed.removeAll(taken);
        return taken;
    }

    /** Asks for a checkpoint of these tenant databases' logs at the next run. */
    public void markChanged(Collection<String> databaseNames) {
        changed.addAll(databaseNames);
    }

    /** What an entry's link covers, in the order {@link #append} hashes it. */
    private static Object[] fields(ResultSet rs) throws SQLException {
        return new Object[] {rs.getLong("seq"), rs.getTimestamp("at").toInstant(), rs.getString("type"), rs.getString("actor"),
                rs.getString("subject"), rs.getString("client_ip"), rs.getString("user_agent"), rs.getString("request_id"),
                rs.getString("detail")};
    }

    /**
     * The database the connection is in. pgjdbc answers {@code getCatalog()} from the connection's own state (the
     * database it logged in to), so an append costs no extra round trip for it.
     */
    private static String databaseOf(Connection connection) throws SQLException {
        String database = connection.getCatalog();
        if (database == null || database.isEmpty()) {
            throw new SQLException("the connection does not name its database");
        }
        return database;
    }

    private static String truncate(String value, int max) {
        return value == null || value.length() <= max ? value : value.substring(0, max);
    }
}
