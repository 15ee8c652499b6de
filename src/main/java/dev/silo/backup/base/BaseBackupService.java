package dev.silo.backup.base;

import dev.silo.audit.Actor;
import dev.silo.audit.PlatformAudit;
import dev.silo.backup.BackupStore;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.db.SessionLock;
import dev.silo.platform.db.Sql;
import dev.silo.platform.problem.Conflict;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static java.util.Objects.requireNonNull;

/**
 * Takes base backups of the embedded cluster, one at a time across every node and command (the advisory lock
 * {@link BaseBackups#LOCK_KEY} on the catalog, held by the backup's own superuser connection), each on a platform
 * thread, audited as {@code backup.base.create} in the platform audit.
 */
public final class BaseBackupService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BaseBackupService.class);
    /** How long a backup waits for the store's WAL to reach its stop LSN (the receiver puts every second). */
    public static final Duration DEFAULT_WAL_WAIT = Duration.ofMinutes(2);

    private final Supplier<DatabaseUrl> superuserCatalogUrl;
    private final DataSource catalog;
    private final PlatformAudit audit;
    private final BaseBackup backup;
    private final BackupStore store;
    private final Clock clock;
    private volatile java.util.concurrent.ScheduledExecutorService scheduler;
    private final ExecutorService worker = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().daemon().name("silo-base-backup").factory());

    /**
     * @param superuserCatalogUrl a superuser location on the catalog database of the embedded server
     */
    public BaseBackupService(Supplier<DatabaseUrl> superuserCatalogUrl, DataSource catalog, PlatformAudit audit, Path dataDir,
                             Path cluster, BackupStore store, BaseBackup.WalPosition wal, Clock clock, Duration walWait) {
        this.superuserCatalogUrl = requireNonNull(superuserCatalogUrl, "superuserCatalogUrl is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.store = requireNonNull(store, "store is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.backup = new BaseBackup(dataDir, cluster, store, wal, clock, walWait);
    }

    /** A backup that has its lock and id and runs (or is about to) on the backup thread. */
    public record Started(String id, CompletableFuture<BaseBackupManifest> result) {}

    public BackupStore store() {
        return store;
    }

    /**
     * Starts a backup on the backup thread and returns at once with its id.
     *
     * @throws Conflict {@code backup-running} when another base backup (of this node, another node or a command) runs
     */
    public Started start(Actor actor, BaseBackup.Progress progress) {
        Locked locked = lock();
        CompletableFuture<BaseBackupManifest> result = new CompletableFuture<>();
        try {
            worker.execute(() -> {
                try {
                    result.complete(run(locked, actor, progress));
                } catch (Throwable e) {
                    result.completeExceptionally(e);
                }
            });
        } catch (RuntimeException e) {
            locked.close();
            throw e;
        }
        return new Started(locked.id(), result);
    }

    /** Takes a backup on the calling thread (a platform thread: the command line, the scheduler). */
    public BaseBackupManifest runNow(Actor actor, BaseBackup.Progress progress) throws IOException {
        return run(lock(), actor, progress);
    }

    private record Locked(SessionLock lock, String id) implements AutoCloseable {
        Connection connection() {
            return lock.connection();
        }

        @Override
        public void close() {
            lock.close(); // ends the session, and with it the advisory lock
        }
    }

    private Locked lock() {
        SessionLock lock = SessionLock.tryAcquire(superuserCatalogUrl.get(), "silo-base-backup", BaseBackups.LOCK_KEY)
                .orElseThrow(() -> new Conflict("backup-running", "a base backup is already running; wait for it to finish "
                        + "(silo backups status shows the last one)"));
        try {
            return new Locked(lock, backup.newId());
        } catch (IOException e) {
            lock.close();
            throw new UncheckedIOException("cannot read the backup store " + store.describe(), e);
        } catch (RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    private BaseBackupManifest run(Locked locked, Actor actor, BaseBackup.Progress progress) throws IOException {
        try (locked) {
            BaseBackupManifest manifest;
            try {
                manifest = backup.take(locked.connection(), locked.id(), progress);
            } catch (IOException | RuntimeException e) {
                log.error("Base backup {} failed: {}", locked.id(), e.getMessage());
                record(actor, locked.id(), Map.of("outcome", "failed", "error", String.valueOf(e.getMessage())));
                throw e;
            }
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("outcome", "complete");
            detail.put("bytes", manifest.bytes());
            detail.put("files", manifest.files().size());
            detail.put("databases", manifest.databases().size());
            detail.put("start_lsn", manifest.startLsn());
            detail.put("stop_lsn", manifest.stopLsn());
            detail.put("store", store.describe());
            record(actor, locked.id(), detail);
            return manifest;
        }
    }

    private void record(Actor actor, String id, Map<String, ?> detail) {
        try {
            Sql.inTransaction(catalog, connection -> {
                audit.append(connection, actor, "backup.base.create", id, detail);
                return null;
            });
        } catch (RuntimeException e) {
            log.warn("Cannot audit base backup {}: {}", id, e.toString());
        }
    }

    /**
     * Takes a backup every {@code interval} (measured from the newest complete one in the store) and soon after start
     * when the store has none. Runs on the backup thread; a backup already running elsewhere is left to finish.
     */
    public void schedule(Duration interval, Duration firstCheck) {
        requireNonNull(interval, "interval is null");
        java.util.concurrent.ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("silo-base-backup-schedule").factory());
        scheduler = timer;
        timer.scheduleWithFixedDelay(() -> {
            try {
                Optional<BaseBackupManifest> newest = newest();
                boolean due = newest.isEmpty() || (!interval.isZero()
                        && newest.get().stopTime().plus(interval).isBefore(clock.instant()));
                if (due) {
                    log.info(newest.isEmpty() ? "The backup store {} holds no base backup: taking one"
                            : "Scheduled base backup into {}", store.describe());
                    runNow(dev.silo.audit.Actor.SYSTEM, BaseBackup.Progress.NONE);
                }
            } catch (Conflict running) {
                log.debug("A base backup is already running");
            } catch (Exception e) {
                log.warn("Scheduled base backup failed: {}", e.getMessage());
            }
        }, firstCheck.toMillis(), Duration.ofMinutes(1).toMillis(), TimeUnit.MILLISECONDS);
    }

    /** The newest complete backup, if any (for the schedule). */
    public Optional<BaseBackupManifest> newest() throws IOException {
        var all = BaseBackups.list(store);
        return all.isEmpty() ? Optional.empty() : Optional.of(all.getLast());
    }


    @Override
    public void close() {
        if (scheduler != null) {
            scheduler.shutdownNow();
        }
        worker.shutdownNow();
        try {
            worker.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
