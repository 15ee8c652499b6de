package dev.silo.backup.base;

import dev.silo.backup.BackupStore;
import dev.silo.backup.wal.WalSegments;

import java.io.IOException;
import java.io.InputStream;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

import static java.util.Objects.requireNonNull;

/**
 * The base backups a store holds, for status, restore, retention and drills: only complete ones (those with a
 * manifest), oldest first, and the restorable window they open with the WAL after them.
 */
public final class BaseBackups {
    public static final String MANIFEST = "manifest.json";
    /** The advisory lock (on the catalog database) a base backup holds: one at a time across nodes and commands. */
    public static final long LOCK_KEY = 7215003;

    private BaseBackups() {}

    /** The complete base backups in the store, oldest first, with their manifests. */
    public static List<BaseBackupManifest> list(BackupStore store) throws IOException {
        requireNonNull(store, "store is null");
        TreeSet<String> ids = new TreeSet<>();
        for (BackupStore.StoredObject object : store.list(BaseBackup.PREFIX)) {
            String rest = object.name().substring(BaseBackup.PREFIX.length());
            int slash = rest.indexOf('/');
            if (slash > 0 && rest.substring(slash + 1).equals(MANIFEST)) {
                ids.add(rest.substring(0, slash));
            }
        }
        List<BaseBackupManifest> manifests = new ArrayList<>();
        for (String id : ids) {
            read(store, id).ifPresent(manifests::add);
        }
        return manifests;
    }

    /** The manifest of backup {@code id}; empty when there is none (no such backup, or incomplete). */
    public static Optional<BaseBackupManifest> read(BackupStore store, String id) throws IOException {
        Optional<InputStream> in = store.get(BaseBackup.PREFIX + id + "/" + MANIFEST);
        if (in.isEmpty()) {
            return Optional.empty();
        }
        try (InputStream stream = in.get()) {
            return Optional.of(BaseBackupManifest.read(stream));
        }
    }

    /**
     * Whether the store's WAL runs with no missing segment from the segment holding {@code fromLsn} to its end, on
     * {@code timeline}; empty when it does, else the first missing segment's name.
     */
    public static Optional<String> firstMissingSegment(WalSegments.Contents wal, int timeline, long fromLsn) {
        long expected = WalSegments.segmentStart(fromLsn);
        List<WalSegments.Segment> segments = new ArrayList<>(wal.complete());
        wal.partial().ifPresent(segments::add);
        boolean started = false;
        for (WalSegments.Segment segment : segments) {
            if (segment.timeline() != timeline || Long.compareUnsigned(segment.startLsn(), expected) < 0) {
                continue;
            }
            if (segment.startLsn() != expected) {
                return Optional.of(WalSegments.name(timeline, expected));
            }
            started = true;
            expected += WalSegments.SEGMENT_SIZE;
        }
        return started ? Optional.empty() : Optional.of(WalSegments.name(timeline, WalSegments.segmentStart(fromLsn)));
    }

    /**
     * The restorable window: from the start of the oldest complete base backup with unbroken WAL from it to the
     * store's end, to the end of that WAL. Empty when nothing is restorable.
     */
    public record Window(String oldestBackup, Instant oldest, String oldestLsn, String newestLsn) {}

    public static Optional<Window> window(List<BaseBackupManifest> backups, WalSegments.Contents wal) {
        Optional<Long> end = wal.end();
        if (end.isEmpty()) {
            return Optional.empty();
        }
        for (BaseBackupManifest backup : backups) {
            if (Long.compareUnsigned(end.get(), backup.stopLsnValue()) >= 0
                    && firstMissingSegment(wal, backup.timeline(), backup.startLsnValue()).isEmpty()) {
                return Optional.of(new Window(backup.id(), backup.stopTime(), backup.startLsn(), Lsn.format(end.get())));
            }
        }
        return Optional.empty();
    }

    /** The base backup part of {@code GET /admin/backups} and {@code silo backups status}. */
    public static Map<String, Object> status(BackupStore store) throws IOException {
        List<BaseBackupManifest> backups = list(store);
        WalSegments.Contents wal = WalSegments.read(store);
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("count", backups.size());
        if (backups.isEmpty()) {
            view.put("last", null);
        } else {
            BaseBackupManifest last = backups.getLast();
            Map<String, Object> lastView = new LinkedHashMap<>();
            lastView.put("id", last.id());
            lastView.put("start_time", last.startTime());
            lastView.put("stop_time", last.stopTime());
            lastView.put("bytes", last.bytes());
            lastView.put("files", last.files().size());
            lastView.put("databases", last.databases().size());
            lastView.put("start_lsn", last.startLsn());
            lastView.put("stop_lsn", last.stopLsn());
            view.put("last", lastView);
        }
        Optional<Window> window = window(backups, wal);
        Map<String, Object> windowView = new LinkedHashMap<>();
        windowView.put("oldest", window.map(Window::oldest).orElse(null));
        windowView.put("oldest_backup", window.map(Window::oldestBackup).orElse(null));
        windowView.put("newest_lsn", window.map(Window::newestLsn).orElse(null));
        view.put("restorable", windowView);
        return view;
    }

    /** Takes the one-base-backup-at-a-time lock on {@code catalog}; false when another backup holds it. */
    public static boolean tryLock(Connection catalog) throws SQLException {
        try (Statement statement = catalog.createStatement();
             ResultSet rs = statement.executeQuery("SELECT pg_try_advisory_lock(" + LOCK_KEY + ")")) {
            return rs.next() && rs.getBoolean(1);
        }
    }
}
