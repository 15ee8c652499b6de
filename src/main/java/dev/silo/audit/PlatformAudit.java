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
 * The platform audit log in the catalog: every operator action and platform security event, append-only
 * (a trigger refuses UPDATE, DELETE and TRUNCATE) and hash-chained, so that an entry edited or deleted by
 * someone who bypasses the trigger is detected by {@link #verify}.
 */
public final class PlatformAudit {
    private final Clock clock;

    public PlatformAudit(Clock clock) {
        this.clock = requireNonNull(clock, "clock is null");
    }

    public record Entry(long seq, Instant at, String actor, String action, String target, String detail,
                        String requestId, String prevHash, String hash) {}

    /** The result of checking the chain: {@code brokenAt} is the first entry whose hash does not match. */
    public record Verification(long entries, Optional<Long> brokenAt) {
        public boolean intact() {
            return brokenAt.isEmpty();
        }
    }

    /** Appends an entry in the caller's transaction; entries are serialized by an advisory lock. */
    public void append(Connection connection, Actor actor, String action, String target, Map<String, ?> detail) throws SQLException {
        HashChain.Tail tail = HashChain.lockTail(connection, "platform_audit", 7215001);
        long seq = tail.nextSeq();
        String previous = tail.previousHash();
        Instant at = clock.instant().truncatedTo(ChronoUnit.MICROS);
        String detailJson = HashChain.canonicalJson(detail);
        String hash = HashChain.link(previous, seq, at, actor.name(), action, target, detailJson, actor.requestId());
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

    public Verification verify(Connection connection) throws SQLException {
        String previous = HashChain.GENESIS;
        long expectedSeq = 1;
        long count = 0;
        try (PreparedStatement select = connection.prepareStatement("""
                SELECT seq, at, actor, action, target, detail, request_id, prev_hash, hash
                FROM platform_audit ORDER BY seq
                """)) {
            select.setFetchSize(500);
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    Entry entry = read(rs);
                    count++;
                    String expected = HashChain.link(previous, entry.seq(), entry.at(), entry.actor(), entry.action(),
                            entry.target(), entry.detail(), entry.requestId());
                    if (entry.seq() != expectedSeq || !entry.prevHash().equals(previous) || !entry.hash().equals(expected)) {
                        return new Verification(count, Optional.of(entry.seq()));
                    }
                    previous = entry.hash();
                    expectedSeq++;
                }
            }
        }
        return new Verification(count, Optional.empty());
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

    private static Entry read(ResultSet rs) throws SQLException {
        return new Entry(rs.getLong("seq"), rs.getTimestamp("at").toInstant(), rs.getString("actor"), rs.getString("action"),
                rs.getString("target"), rs.getString("detail"), rs.getString("request_id"), rs.getString("prev_hash"),
                rs.getString("hash"));
    }

}
