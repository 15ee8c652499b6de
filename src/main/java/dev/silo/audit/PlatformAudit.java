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

import static java.util.Objects.requireNonNull;

/**
 * The platform audit log in the catalog: every operator action and platform security event, append-only
 * (a trigger refuses UPDATE, DELETE and TRUNCATE) and chained with HMAC-SHA256 under a key derived from the
 * master key, so that an entry edited by someone who bypasses the trigger, and cannot recompute the chain
 * without the key, is detected by {@link #verify}; entries removed from the end are detected against the
 * checkpoints ({@link AuditAnchors}).
 */
public final class PlatformAudit {
    public static final String LOG_NAME = "platform";

    private final Clock clock;
    private final AuditKeys keys;
    private final AuditAnchors anchors;
    private final HashChain.PlainPrefixes plainPrefixes = new HashChain.PlainPrefixes();

    public PlatformAudit(Clock clock, AuditKeys keys, AuditAnchors anchors) {
        this.clock = requireNonNull(clock, "clock is null");
        this.keys = requireNonNull(keys, "keys is null");
        this.anchors = requireNonNull(anchors, "anchors is null");
    }

    public record Entry(long seq, Instant at, String actor, String action, String target, String detail,
                        String requestId, String prevHash, String hash) {}


    /** Appends an entry in the caller's transaction; entries are serialized by an advisory lock. */
    public void append(Connection connection, Actor actor, String action, String target, Map<String, ?> detail) throws SQLException {
        HashChain.Tail tail = HashChain.lockTail(connection, "platform_audit", 7215001);
        long seq = tail.nextSeq();
        String previous = tail.previousHash();
        Instant at = clock.instant().truncatedTo(ChronoUnit.MICROS);
        String detailJson = HashChain.canonicalJson(detail);
        String hash = HashChain.keyedLink(keys.platform(), previous, seq, at, actor.name(), action, target, detailJson, actor.requestId());
        try (PreparedStatement insert = connection.prepareStatement("""
                INSERT INTO platform_audit (seq, at, actor, action, target, detail, request_id, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)) {
            insert.setLong(1, seq);
            insert.setTimestamp(2, Timestamp.from(at));
            insert.setString(3, actor.name());
            insert.setString(4, action);
            insert.setString(5, target);
            insert.setString(6, detailJson);
            insert.setString(7, actor.requestId());
            insert.setString(8, previous);
            insert.setString(9, hash);
            insert.executeUpdate();
        }
    }

    /** Checks the chain and compares it with the checkpoints: see {@link ChainCheck}. */
    public AuditVerification verify(Connection connection) throws SQLException {
        ChainCheck check = new ChainCheck(LOG_NAME, keys.platform(), anchors.read(LOG_NAME));
        try (PreparedStatement select = connection.prepareStatement("""
                SELECT seq, at, actor, action, target, detail, request_id, prev_hash, hash
                FROM platform_audit ORDER BY seq
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

    /** The last entry, for a checkpoint. */
    public HashChain.Head head(Connection connection) throws SQLException {
        return HashChain.head(connection, "platform_audit");
    }

    /**
     * Writes a checkpoint of the log's head, unless it has not moved; false (and an error logged) when the log no
     * longer continues its last checkpoint.
     */
    public boolean checkpoint(Connection connection) throws SQLException {
        return anchors.checkpoint(connection, "platform_audit", LOG_NAME, keys.platform(), PlatformAudit::fields, plainPrefixes,
                clock.instant());
    }

    public List<Entry> list(Connection connection, int limit, long beforeSeq) throws SQLException {
        List<Entry> entries = new ArrayList<>();
        try (PreparedStatement select = connection.prepareStatement("""
                SELECT seq, at, actor, action, target, detail, request_id, prev_hash, hash
                FROM platform_audit WHERE seq < ? ORDER BY seq DESC LIMIT ?
                """)) {
            select.setLong(1, beforeSeq);
            select.setInt(2, limit);
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    entries.add(read(rs));
                }
            }
        }
        return entries;
    }

    /** What an entry's link covers, in the order {@link #append} hashes it. */
    private static Object[] fields(ResultSet rs) throws SQLException {
        return new Object[] {rs.getLong("seq"), rs.getTimestamp("at").toInstant(), rs.getString("actor"), rs.getString("action"),
                rs.getString("target"), rs.getString("detail"), rs.getString("request_id")};
    }

    private static Entry read(ResultSet rs) throws SQLException {
        return new Entry(rs.getLong("seq"), rs.getTimestamp("at").toInstant(), rs.getString("actor"), rs.getString("action"),
                rs.getString("target"), rs.getString("detail"), rs.getString("request_id"), rs.getString("prev_hash"),
                rs.getString("hash"));
    }

}
