package dev.silo.audit;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The link of an append-only log: each entry's hash covers the previous entry's hash and every field of the
 * entry, so editing or deleting an entry breaks every hash after it.
 *
 * <p>Entries are linked with HMAC-SHA256 under a key derived from the master key ({@link #keyedLink}), so that
 * recomputing the chain after an edit needs that key, not only database access. Entries written before keyed
 * chains existed are linked with plain SHA-256 ({@link #link}); they stay verifiable, and a plain entry is
 * accepted only before the first keyed one (see {@link ChainCheck}).
 */
public final class HashChain {
    public static final String GENESIS = "0".repeat(64);

    private HashChain() {}

    /** The next entry's sequence number and the hash it links to. */
    record Tail(long nextSeq, String previousHash) {}

    /** The last entry of a log ({@code seq} 0 and {@link #GENESIS} for an empty log). */
    public record Head(long seq, String hash) {
        public static final Head EMPTY = new Head(0, GENESIS);
    }

    /**
     * Locks the log for the caller's transaction (an advisory lock, so appends are serialized) and reads its last
     * entry. {@code table} is one of Silo's own audit tables, never input.
     */
    static Tail lockTail(java.sql.Connection connection, String table, long lockKey) throws java.sql.SQLException {
        checkTable(table);
        try (java.sql.PreparedStatement lock = connection.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
            lock.setLong(1, lockKey);
            lock.execute();
        }
        try (java.sql.PreparedStatement last = connection.prepareStatement("SELECT seq, hash FROM " + table + " ORDER BY seq DESC LIMIT 1");
             java.sql.ResultSet rs = last.executeQuery()) {
            return rs.next() ? new Tail(rs.getLong(1) + 1, rs.getString(2)) : new Tail(1, GENESIS);
        }
    }

    /** Audit details as JSON with sorted keys, so the hashed text does not depend on map order. */
    static String canonicalJson(java.util.Map<String, ?> detail) {
        try {
            return dev.silo.platform.http.Json.MAPPER.writeValueAsString(new java.util.TreeMap<>(detail));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("audit detail is not serializable", e);
        }
    }

    /** The legacy link: plain SHA-256, which anyone with the rows can recompute. */
    public static String link(String previousHash, Object... fields) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update(previousHash.getBytes(StandardCharsets.UTF_8));
            for (Object field : fields) {
                digest.update((byte) 0x1f);
                digest.update(String.valueOf(field).getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The keyed link: HMAC-SHA256 under the log's key over the same bytes as {@link #link}. */
    public static String keyedLink(byte[] key, String previousHash, Object... fields) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            mac.update(previousHash.getBytes(StandardCharsets.UTF_8));
            for (Object field : fields) {
                mac.update((byte) 0x1f);
                mac.update(String.valueOf(field).getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(mac.doFinal());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The fields a link covers, read from a row of an audit table, in the order the appender hashed them. */
    @FunctionalInterface
    interface Fields {
        Object[] of(java.sql.ResultSet row) throws java.sql.SQLException;
    }

    /** The last entry of {@code table}, one of Silo's own audit tables. */
    static Head head(java.sql.Connection connection, String table) throws java.sql.SQLException {
        checkTable(table);
        try (java.sql.PreparedStatement last = connection.prepareStatement("SELECT seq, hash FROM " + table + " ORDER BY seq DESC LIMIT 1");
             java.sql.ResultSet rs = last.executeQuery()) {
            return rs.next() ? new Head(rs.getLong(1), rs.getString(2)) : Head.EMPTY;
        }
    }

    private static void checkTable(String table) {
        if (!table.equals("platform_audit") && !table.equals("audit_log")) {
            throw new IllegalArgumentException("not an audit table: " + table);
        }
    }

    /**
     * How many leading entries of a log are chained with plain SHA-256, for a checkpoint: found by reading the
     * log once per process from where the last call stopped, up to the first keyed entry (after which the
     * answer cannot change).
     */
    static final class PlainPrefixes {
        private record Scan(long scannedTo, long keyedFrom) {}

        private final java.util.concurrent.ConcurrentMap<String, Scan> scans = new java.util.concurrent.ConcurrentHashMap<>();

        long of(java.sql.Connection connection, String table, String log, byte[] key, Head head, Fields fields)
                throws java.sql.SQLException {
            checkTable(table);
            Scan scan = scans.getOrDefault(log, new Scan(0, 0));
            if (scan.keyedFrom() == 0 && scan.scannedTo() < head.seq()) {
                long scannedTo = scan.scannedTo();
                long keyedFrom = 0;
                try (java.sql.PreparedStatement select = connection.prepareStatement(
                        "SELECT * FROM " + table + " WHERE seq > ? AND seq <= ? ORDER BY seq")) {
                    select.setLong(1, scannedTo);
                    select.setLong(2, head.seq());
                    select.setFetchSize(500);
                    try (java.sql.ResultSet rs = select.executeQuery()) {
                        while (rs.next()) {
                            if (keyedLink(key, rs.getString("prev_hash"), fields.of(rs)).equals(rs.getString("hash"))) {
                                keyedFrom = rs.getLong("seq");
                                break;
                            }
                            scannedTo = rs.getLong("seq");
                        }
                    }
                }
                scan = new Scan(scannedTo, keyedFrom);
                scans.put(log, scan);
            }
            return scan.keyedFrom() > 0 ? scan.keyedFrom() - 1 : Math.max(scan.scannedTo(), head.seq());
        }
    }

    /**
     * Whether the log still continues its last checkpoint: the checkpointed entry is unchanged and every later one
     * links to it with the keyed HMAC. A checkpoint job that finds otherwise must not record the new head (that
     * would anchor a rewritten log); the answer says what is wrong.
     */
    static Optional<String> continuesFrom(java.sql.Connection connection, String table, AuditAnchors.Anchor last, byte[] key,
                                          Fields fields) throws java.sql.SQLException {
        checkTable(table);
        String previous = last.hash();
        long expected = last.seq() + 1;
        boolean sawAnchored = last.seq() == 0;
        try (java.sql.PreparedStatement select = connection.prepareStatement("SELECT * FROM " + table + " WHERE seq >= ? ORDER BY seq")) {
            select.setLong(1, last.seq());
            select.setFetchSize(500);
            try (java.sql.ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    long seq = rs.getLong("seq");
                    String hash = rs.getString("hash");
                    if (seq == last.seq() && last.seq() > 0) {
                        if (!hash.equals(last.hash())) {
                            return Optional.of("entry " + seq + " no longer matches the checkpoint of " + last.at());
                        }
                        sawAnchored = true;
                        continue;
                    }
                    if (!sawAnchored) {
                        break;
                    }
                    if (seq != expected || !previous.equals(rs.getString("prev_hash"))
                            || !keyedLink(key, previous, fields.of(rs)).equals(hash)) {
                        return Optional.of("entry " + seq + " does not continue the chain checkpointed at entry " + last.seq());
                    }
                    previous = hash;
                    expected++;
                }
            }
        }
        return sawAnchored ? Optional.empty()
                : Optional.of("entry " + last.seq() + ", checkpointed at " + last.at() + ", was removed");
    }
}
