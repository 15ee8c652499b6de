package dev.silo.backup.wal;

import dev.silo.backup.BackupStore;

import java.io.IOException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The WAL part of {@code GET /admin/backups} and {@code silo backups status}: what the receiver reports (when it
 * runs in this process), what the server's slot says, and what the store holds.
 */
public final class WalStatus {
    private WalStatus() {}

    /** What the store holds: segments, bytes, the LSN range with no gap from its first segment, the first gap if any. */
    public static Map<String, Object> store(BackupStore store) throws IOException {
        WalSegments.Contents contents = WalSegments.read(store);
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("location", store.describe());
        view.put("wal_segments", contents.complete().size());
        view.put("wal_partial", contents.partial().map(WalSegments.Segment::name).orElse(null));
        view.put("wal_bytes", contents.bytes());
        view.put("wal_from", contents.complete().isEmpty()
                ? contents.partial().map(s -> WalSegments.format(s.startLsn())).orElse(null)
                : WalSegments.format(contents.complete().getFirst().startLsn()));
        view.put("wal_to", contents.end().map(WalSegments::format).orElse(null));
        view.put("wal_gap_at", contents.firstGap().map(WalSegments::format).orElse(null));
        return view;
    }

    /**
     * The slot as the server sees it, and the lag between the server's flush position and the store's end. Works
     * from any process that can reach the server, so a command can report it while the node runs.
     */
    public static Map<String, Object> slot(Connection connection, BackupStore store) throws SQLException, IOException {
        Map<String, Object> view = new LinkedHashMap<>();
        try (Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("""
                     SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn AS flush,
                            s.active, s.restart_lsn::text AS restart_lsn, s.wal_status, s.safe_wal_size
                       FROM (SELECT 1) one
                       LEFT JOIN pg_replication_slots s ON s.slot_name = 'silo_wal'
                     """)) {
            rs.next();
            long flush = rs.getBigDecimal("flush").longValueExact();
            Optional<Long> stored = WalSegments.read(store).end();
            boolean exists = rs.getString("restart_lsn") != null || rs.getObject("active") != null;
            view.put("slot", exists ? WalReceiver.SLOT : null);
            view.put("receiver_connected", exists && rs.getBoolean("active"));
            view.put("slot_restart_lsn", rs.getString("restart_lsn"));
            view.put("slot_wal_status", rs.getString("wal_status"));
            long safe = rs.getLong("safe_wal_size");
            view.put("slot_safe_bytes", rs.wasNull() ? null : safe);
            view.put("server_flush", WalSegments.format(flush));
            view.put("lag_bytes", stored.map(end -> Math.max(0, flush - end)).orElse(null));
        }
        return view;
    }
}
