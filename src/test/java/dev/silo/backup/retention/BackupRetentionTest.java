package dev.silo.backup.retention;

import dev.silo.backup.BackupStore;
import dev.silo.backup.FileBackupStore;
import dev.silo.backup.base.BaseBackupManifest;
import dev.silo.backup.base.BaseBackups;
import dev.silo.backup.wal.WalSegments;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Retention on a real store: what is outside the window goes, what a restore inside the window needs stays. The
 * store holds backups and WAL laid out as Silo writes them (manifests last, WAL named by timeline and segment).
 */
class BackupRetentionTest {
    private static final long SEGMENT = WalSegments.SEGMENT_SIZE;
    private static final DateTimeFormatter ID = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
    private static final Instant NOW = Instant.parse("2026-12-02T12:00:00Z");

    @TempDir
    Path dir;
    private BackupStore store;

    @BeforeEach
    void open() throws IOException {
        store = new FileBackupStore(dir.resolve("store"));
    }

    private void put(String name, byte[] content) throws IOException {
        store.put(name, new ByteArrayInputStream(content));
    }

    /** A complete backup that started {@code daysAgo} days before now, at WAL segment {@code segment}. */
    private String backup(double daysAgo, long segment) throws IOException {
        Instant start = NOW.minus(Duration.ofMinutes((long) (daysAgo * 24 * 60)));
        String id = ID.format(start);
        String lsn = Long.toHexString((segment * SEGMENT) >>> 32).toUpperCase() + "/" + Long.toHexString((segment * SEGMENT + 40) & 0xFFFFFFFFL).toUpperCase();
        String stop = Long.toHexString((segment * SEGMENT) >>> 32).toUpperCase() + "/" + Long.toHexString((segment * SEGMENT + 4096) & 0xFFFFFFFFL).toUpperCase();
        put("base/" + id + "/cluster.tar", new byte[] {1, 2, 3});
        put("base/" + id + "/db/5.tar", new byte[] {4, 5});
        BaseBackupManifest manifest = new BaseBackupManifest(BaseBackupManifest.FORMAT, id, lsn, stop, 1, start,
                start.plusSeconds(30), "17.5", "7300000000000000001", List.of(), List.of(), List.of());
        put("base/" + id + "/" + BaseBackups.MANIFEST, manifest.toJson());
        return id;
    }

    private void segments(long from, long to) throws IOException {
        for (long segment = from; segment <= to; segment++) {
            put(WalSegments.name(1, segment * SEGMENT), new byte[] {7});
        }
    }

    private List<String> names(String prefix) throws IOException {
        return store.list(prefix).stream().map(BackupStore.StoredObject::name).toList();
    }

    @Test
    void backupsOutsideTheWindowGoButTheOneTheWindowStartsFromStaysAndSoDoesItsWal() throws IOException {
        String tenDays = backup(10, 2);
        String nineDays = backup(9, 10);
        String eightDays = backup(8, 20); // the newest that ended before the 7-day window: the window starts from it
        String threeDays = backup(3, 30);
        String today = backup(0.1, 40);
        segments(0, 45);
        put(WalSegments.pieceName(1, 3 * SEGMENT, 0, 1), new byte[] {7}); // a stale piece left by a crash, long ago

        BackupRetention.Result result = new BackupRetention(Duration.ofDays(7)).run(store, NOW);

        assertThat(result.deletedBackups()).containsExactly(tenDays, nineDays);
        assertThat(result.keptBackups()).containsExactly(eightDays, threeDays, today);
        assertThat(BaseBackups.list(store)).extracting(BaseBackupManifest::id).containsExactly(eightDays, threeDays, today);
        assertThat(names("base/" + tenDays + "/")).as("nothing of a deleted backup is left").isEmpty();
        // WAL from the segment holding the kept backup's start on, with no gap: every second of the window restores.
        WalSegments.Contents wal = WalSegments.read(store);
        assertThat(wal.complete().getFirst().startLsn()).isEqualTo(20 * SEGMENT);
        assertThat(wal.complete()).hasSize(26);
        assertThat(wal.firstGap()).isEmpty();
        assertThat(BaseBackups.firstMissingSegment(wal, 1, 20 * SEGMENT + 40)).isEmpty();
        assertThat(result.deletedSegments()).isEqualTo(21);
        assertThat(names("wal/")).noneMatch(name -> name.contains(".partial."));
    }

    @Test
    void aSecondRunDeletesNothingMore() throws IOException {
        backup(10, 2);
        backup(9, 4);
        backup(1, 5);
        segments(2, 8);
        BackupRetention retention = new BackupRetention(Duration.ofDays(7));
        assertThat(retention.run(store, NOW).deletedAnything()).isTrue();
        BackupRetention.Result again = retention.run(store, NOW);
        assertThat(again.deletedAnything()).isFalse();
        assertThat(again.keptBackups()).as("the one the window starts from, and the newer one").hasSize(2);
    }

    @Test
    void allBackupsInsideTheWindowAreKeptWithAllTheirWal() throws IOException {
        backup(6, 3);
        backup(1, 9);
        segments(3, 12);
        BackupRetention.Result result = new BackupRetention(Duration.ofDays(7)).run(store, NOW);
        assertThat(result.deletedAnything()).isFalse();
        assertThat(WalSegments.read(store).complete()).hasSize(10);
    }

    @Test
    void withoutAnyCompleteBackupNoWalIsDeleted() throws IOException {
        segments(0, 5);
        BackupRetention.Result result = new BackupRetention(Duration.ofDays(1)).run(store, NOW.plus(Duration.ofDays(30)));
        assertThat(result.deletedSegments()).isZero();
        assertThat(WalSegments.read(store).complete()).hasSize(6);
    }

    @Test
    void anAbandonedBackupIsDeletedAfterADayAndOneInProgressIsLeftAlone() throws IOException {
        backup(2, 4);
        segments(4, 6);
        String abandoned = ID.format(NOW.minus(Duration.ofDays(3)));
        String inProgress = ID.format(NOW.minus(Duration.ofMinutes(5)));
        put("base/" + abandoned + "/cluster.tar", new byte[] {1});
        put("base/" + inProgress + "/cluster.tar", new byte[] {1});
        BackupRetention.Result result = new BackupRetention(Duration.ofDays(7)).run(store, NOW);
        assertThat(result.abandoned()).containsExactly(abandoned);
        assertThat(names("base/" + abandoned + "/")).isEmpty();
        assertThat(names("base/" + inProgress + "/")).hasSize(1);
    }

    @Test
    void aDeletionInterruptedAfterTheManifestLeavesNothingThatLooksRestorable() throws IOException {
        String old = backup(10, 1);
        backup(1, 6);
        // What an interruption right after the manifest's deletion leaves: objects, no manifest.
        store.delete("base/" + old + "/" + BaseBackups.MANIFEST);
        assertThat(BaseBackups.list(store)).extracting(BaseBackupManifest::id).doesNotContain(old);
        BackupRetention.Result result = new BackupRetention(Duration.ofDays(7)).run(store, NOW);
        assertThat(result.abandoned()).containsExactly(old);
        assertThat(names("base/" + old + "/")).isEmpty();
    }

    @Test
    void theRetentionMustBePositive() {
        assertThatThrownBy(() -> new BackupRetention(Duration.ZERO)).hasMessageContaining("positive");
    }
}
