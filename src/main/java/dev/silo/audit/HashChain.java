package dev.silo.audit;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The link of an append-only log: each entry's hash covers the previous entry's hash and every field of the
 * entry, so editing or deleting an entry breaks every hash after it.
 */
public final class HashChain {
    public static final String GENESIS = "0".repeat(64);

    private HashChain() {}

    /** The next entry's sequence number and the hash it links to. */
    record Tail(long nextSeq, String previousHash) {}

    /**
     * Locks the log for the caller's transaction (an advisory lock, so appends are serialized) and reads its last
     * entry. {@code table} is one of Silo's own audit tables, never input.
     */
    static Tail lockTail(java.sql.Connection connection, String table, long lockKey) throws java.sql.SQLException {
        if (!table.equals("platform_audit") && !table.equals("audit_log")) {
            throw new IllegalArgumentException("not an audit table: " + table);
        }
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
}
