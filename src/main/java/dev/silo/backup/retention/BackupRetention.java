package dev.silo.backup.retention;

import dev.silo.backup.BackupStore;
import dev.silo.backup.base.BaseBackup;
import dev.silo.backup.base.BaseBackupManifest;
import dev.silo.backup.base.BaseBackups;
import dev.silo.backup.wal.WalSegments;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static java.util.Objects.requireNonNull;

/**
 * Deletes physical backups older than the retention window ({@code SILO_BACKUP_RETENTION_DAYS}, issue 12.4),
 * never leaving WAL without the base backup it needs, never removing what a restore inside the window needs.
 *
 * <p>The rule, for a window starting at {@code now - retention}:
 * <ul>
 *   <li>every complete base backup that ended inside the window is kept, and so is the newest one that ended
 *       before it (the window's first seconds are restored from that one plus WAL);</li>
 *   <li>older complete backups are deleted, the manifest first: a backup without a manifest is incomplete and
 *       ignored by every reader, so an interrupted deletion never leaves something that looks restorable;</li>
 *   <li>WAL segments that end before the oldest kept backup starts are deleted (nothing kept can replay them);</li>
 *   <li>a backup that never got its manifest (interrupted) is deleted once it is older than a day;</li>
 *   <li>with no complete base backup at all, nothing is deleted.</li>
 * </ul>
 * Deleting is idempotent, so two nodes running it at once do no harm.
 */
public final class BackupRetention {
    /** A backup directory without a manifest is treated as abandoned after this long. */
    public static final Duration ABANDONED_AFTER = Duration.ofDays(1);
    private static final Logger log = LoggerFactory.getLogger(BackupRetention.class);
    private static final DateTimeFormatter ID_TIME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

    private final Duration retention;

    public BackupRetention(Duration retention) {
        requireNonNull(retention, "retention is null");
        if (retention.isNegative() || retention.isZero()) {
            throw new IllegalArgumentException("the backup retention must be positive, got " + retention);
        }
        this.retention = retention;
    }

    /**
     * What one run deleted.
     *
     * @param deletedBackups  ids of the complete base backups deleted
     * @param abandoned       ids of the incomplete (manifest-less) backups deleted
     * @param deletedSegments WAL objects deleted
     * @param keptBackups     ids of the complete base backups kept, oldest first
     * @param walFrom         the first WAL segment kept (the one holding the oldest kept backup's start), or null
     */
    public record Result(List<String> deletedBackups, List<String> abandoned, int deletedSegments, List<String> keptBackups,
                         String walFrom) {
        public boolean deletedAnything() {
            return !deletedBackups.isEmpty() || !abandoned.isEmpty() || deletedSegments > 0;
        }

        public Map<String, Object> view() {
            Map<String, Object> view = new LinkedHashMap<>();
            view.put("deleted_backups", deletedBackups);
            view.put("abandoned_backups", abandoned);
            view.put("deleted_wal_segments", deletedSegments);
            view.put("kept_backups", keptBackups);
            view.put("wal_from", walFrom);
            return view;
        }
    }

    public Result run(BackupStore store, Instant now) throws IOException {
        requireNonNull(store, "store is null");
        requireNonNull(now, "now is null");
        List<BaseBackupManifest> complete = BaseBackups.list(store);
        Set<String> completeIds = new HashSet<>();
        complete.forEach(backup -> completeIds.add(backup.id()));

        List<String> abandoned = new ArrayList<>();
        for (String id : backupDirectories(store)) {
            if (!completeIds.contains(id) && startedBefore(id, now.minus(ABANDONED_AFTER))) {
                deleteBackup(store, id);
                abandoned.add(id);
            }
        }
        if (complete.isEmpty()) {
            return new Result(List.of(), List.copyOf(abandoned), 0, List.of(), null);
        }

        Instant windowStart = now.minus(retention);
        int anchor = -1; // the newest backup that ended before the window: still needed for the window's start
        for (int i = 0; i < complete.size(); i++) {
            if (complete.get(i).stopTime().isBefore(windowStart)) {
                anchor = i;
            }
        }
        int firstKept = Math.max(anchor, 0);
        List<String> deleted = new ArrayList<>();
        for (int i = 0; i < firstKept; i++) {
            deleteBackup(store, complete.get(i).id());
            deleted.add(complete.get(i).id());
        }
        BaseBackupManifest oldestKept = complete.get(firstKept);
        long walCutoff = WalSegments.segmentStart(oldestKept.startLsnValue());
        int segments = 0;
        for (BackupStore.StoredObject object : store.list(WalSegments.PREFIX)) {
            // Pieces of a partial segment ("<segment>.partial.<from>-<to>") count as their segment.
            String name = object.name();
            int piece = name.indexOf(WalSegments.PARTIAL_SUFFIX + ".");
            Optional<WalSegments.Segment> segment = WalSegments.parse(piece < 0 ? object
                    : new BackupStore.StoredObject(name.substring(0, piece), object.size()));
            if (segment.isPresent() && Long.compareUnsigned(segment.get().startLsn(), walCutoff) < 0) {
                store.delete(object.name());
                segments++;
            }
        }
        List<String> kept = complete.subList(firstKept, complete.size()).stream().map(BaseBackupManifest::id).toList();
        Result result = new Result(List.copyOf(deleted), List.copyOf(abandoned), segments, kept,
                WalSegments.name(oldestKept.timeline(), walCutoff).substring(WalSegments.PREFIX.length()));
        if (result.deletedAnything()) {
            log.info("Backup retention ({} days): deleted base backups {}, abandoned {}, {} WAL segments; kept {} from WAL {}",
                    retention.toDays(), deleted, abandoned, segments, kept, result.walFrom());
        }
        return result;
    }

    /** Every {@code base/<id>/} directory in the store, complete or not. */
    private static Set<String> backupDirectories(BackupStore store) throws IOException {
        Set<String> ids = new java.util.TreeSet<>();
        for (BackupStore.StoredObject object : store.list(BaseBackup.PREFIX)) {
            String rest = object.name().substring(BaseBackup.PREFIX.length());
            int slash = rest.indexOf('/');
            if (slash > 0) {
                ids.add(rest.substring(0, slash));
            }
        }
        return ids;
    }

    /** The manifest first, so what is left of a backup deleted halfway is incomplete, never "restorable". */
    private static void deleteBackup(BackupStore store, String id) throws IOException {
        String prefix = BaseBackup.PREFIX + id + "/";
        store.delete(prefix + BaseBackups.MANIFEST);
        for (BackupStore.StoredObject object : store.list(prefix)) {
            store.delete(object.name());
        }
    }

    /** Whether backup {@code id} (its start time, possibly with a {@code -N} suffix) began before {@code cutoff}. */
    static boolean startedBefore(String id, Instant cutoff) {
        String time = id.length() >= 16 ? id.substring(0, 16) : id;
        try {
            return Instant.from(ID_TIME.parse(time)).isBefore(cutoff);
        } catch (DateTimeParseException e) {
            return false; // not a name Silo writes: leave it alone
        }
    }
}
