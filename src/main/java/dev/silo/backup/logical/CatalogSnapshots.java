package dev.silo.backup.logical;

import com.zaxxer.hikari.HikariDataSource;
import dev.silo.backup.BackupStore;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.db.CatalogMigrations;
import dev.silo.platform.db.Pools;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

import static java.util.Objects.requireNonNull;

/**
 * Logical snapshots of the catalog (claim C16): one consistent snapshot (REPEATABLE READ READ ONLY, binary COPY of
 * every catalog table, the Flyway schema version) as one object {@code catalog/<time>.snapshot} in the encrypted
 * backup store. They matter most in external mode, where Silo cannot copy the catalog server's files.
 *
 * <p><b>When.</b> The node's job scheduler calls {@link #takeIfChanged} every minute. Change detection hashes the
 * COPY data itself (SHA-256) inside the snapshot transaction and compares it with the last snapshot's: exact, and
 * cheap for a catalog (kilobytes to a few megabytes). Statistics counters ({@code pg_stat_database},
 * {@code n_tup_ins}) are not transactional, lag, and reset after a crash or on a managed server;
 * {@code txid_current_snapshot} moves with any transaction in the cluster, tenants included. The hash is kept in
 * memory, so a node's first round after a start always writes one.
 *
 * <p><b>Kept</b> as {@link CatalogRetention} says: everything of the last hour, hourly for a day, daily up to
 * {@code SILO_BACKUP_RETENTION_DAYS}.
 */
public final class CatalogSnapshots {
    static final String PREFIX = "catalog/";
    static final String SUFFIX = ".snapshot";
    private static final Logger log = LoggerFactory.getLogger(CatalogSnapshots.class);

    private final DataSource catalog;
    private final BackupStore store;
    private final Clock clock;
    private final int retentionDays;
    private final ReentrantLock running = new ReentrantLock();
    private volatile String lastDigest;
    private volatile Instant lastTaken;

    public CatalogSnapshots(DataSource catalog, BackupStore store, Clock clock, int retentionDays) {
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.store = requireNonNull(store, "store is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.retentionDays = retentionDays;
    }

    /** One stored snapshot. */
    public record SnapshotInfo(String name, Instant takenAt, long storedBytes) {
        public Map<String, Object> view() {
            Map<String, Object> view = new LinkedHashMap<>();
            view.put("name", name);
            view.put("taken_at", takenAt);
            view.put("stored_bytes", storedBytes);
            return view;
        }
    }

    /**
     * Writes a snapshot unless the catalog's data is what the last one of this node held; then thins out old ones.
     *
     * @return the snapshot written, empty when nothing changed
     */
    public Optional<SnapshotInfo> takeIfChanged() throws IOException {
        return take(false);
    }

    /** Writes a snapshot whether or not the catalog changed. */
    public SnapshotInfo takeNow() throws IOException {
        return take(true).orElseThrow();
    }

    private Optional<SnapshotInfo> take(boolean always) throws IOException {
        running.lock();
        try {
            Instant now = clock.instant();
            String name = PREFIX + BackupTimes.format(now) + SUFFIX;
            Optional<String> digest;
            try (Connection connection = catalog.getConnection()) {
                connection.setAutoCommit(false);
                try {
                    try (Statement statement = connection.createStatement()) {
                        statement.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
                    }
                    Snapshot.Manifest manifest = new Snapshot.Manifest(schemaVersion(connection),
                            Snapshot.tables(connection, table -> true));
                    String current;
                    try (Snapshot.Writer probe = new Snapshot.Writer(connection, manifest)) {
                        probe.transferTo(OutputStream.nullOutputStream());
                        current = probe.dataDigest();
                    }
                    if (!always && current.equals(lastDigest)) {
                        digest = Optional.empty();
                    } else {
                        try (Snapshot.Writer writer = new Snapshot.Writer(connection, manifest)) {
                            store.put(name, writer);
                        }
                        digest = Optional.of(current);
                    }
                } finally {
                    connection.rollback();
                    connection.setAutoCommit(true);
                }
            } catch (SQLException e) {
                throw new IOException("cannot read the catalog for a snapshot: " + e.getMessage(), e);
            }
            if (digest.isEmpty()) {
                return Optional.empty();
            }
            lastDigest = digest.get();
            lastTaken = now;
            thin(now);
            long size = store.list(name).stream().filter(o -> o.name().equals(name)).mapToLong(BackupStore.StoredObject::size)
                    .findFirst().orElse(0);
            return Optional.of(new SnapshotInfo(name, now, size));
        } finally {
            running.unlock();
        }
    }

    private void thin(Instant now) throws IOException {
        List<SnapshotInfo> all = list(store);
        List<Instant> delete = CatalogRetention.toDelete(all.stream().map(SnapshotInfo::takenAt).toList(), now, retentionDays);
        for (SnapshotInfo snapshot : all) {
            if (delete.contains(snapshot.takenAt())) {
                store.delete(snapshot.name());
            }
        }
    }

    public BackupStore store() {
        return store;
    }

    /** When this node last wrote one. */
    public Optional<Instant> lastTaken() {
        return Optional.ofNullable(lastTaken);
    }

    /** Every catalog snapshot in {@code store}, oldest first. */
    public static List<SnapshotInfo> list(BackupStore store) throws IOException {
        List<SnapshotInfo> snapshots = new ArrayList<>();
        for (BackupStore.StoredObject object : store.list(PREFIX)) {
            BackupTimes.between(object.name(), PREFIX, SUFFIX)
                    .ifPresent(time -> snapshots.add(new SnapshotInfo(object.name(), time, object.size())));
        }
        return snapshots;
    }

    /** What the status shows: how many, the newest. */
    public static Map<String, Object> status(BackupStore store) throws IOException {
        List<SnapshotInfo> all = list(store);
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("count", all.size());
        view.put("oldest", all.isEmpty() ? null : all.getFirst().takenAt());
        view.put("last", all.isEmpty() ? null : all.getLast().view());
        return view;
    }

    static String schemaVersion(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT version FROM flyway_schema_history WHERE success AND version IS NOT NULL")) {
            MigrationVersion newest = MigrationVersion.EMPTY;
            while (rs.next()) {
                MigrationVersion version = MigrationVersion.fromVersion(rs.getString(1));
                newest = version.compareTo(newest) > 0 ? version : newest;
            }
            return newest.getVersion() == null ? "0" : newest.getVersion();
        }
    }

    /** What {@link #restore} did. */
    public record Restored(String snapshot, Instant takenAt, String schemaVersion, Map<String, Long> rows) {}

    /**
     * Restores the newest snapshot taken at or before {@code at} (the newest of all without it) into the empty
     * database at {@code target}: the catalog schema at the snapshot's version, the rows by binary COPY (sequences
     * set past them), then the migrations of this build, so an older snapshot comes up to date.
     *
     * @throws RestoreRefused when the target is not empty or there is no such snapshot
     * @throws IOException    when the store cannot be read or the snapshot is damaged (the message names it)
     */
    public static Restored restore(BackupStore store, DatabaseUrl target, Optional<Instant> at) throws IOException {
        List<SnapshotInfo> candidates = list(store).stream()
                .filter(s -> at.isEmpty() || !s.takenAt().isAfter(at.get())).toList();
        if (candidates.isEmpty()) {
            throw new RestoreRefused(at.isEmpty() ? "no catalog snapshot in " + store.describe()
                    : "no catalog snapshot taken at or before " + at.get() + " in " + store.describe());
        }
        SnapshotInfo chosen = candidates.getLast();
        try (HikariDataSource dataSource = Pools.create("restore-catalog", target, 2, 0, Duration.ofSeconds(10))) {
            try (Connection connection = dataSource.getConnection();
                 PreparedStatement select = connection.prepareStatement("""
                         SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'S')
                         """);
                 ResultSet rs = select.executeQuery()) {
                rs.next();
                if (rs.getLong(1) > 0) {
                    throw new RestoreRefused("the database " + target + " is not empty (its public schema holds "
                            + rs.getLong(1) + " relation(s)); restore a catalog only into an empty database");
                }
            } catch (SQLException e) {
                throw new IOException("cannot reach the target database " + target + ": " + e.getMessage(), e);
            }
            try {
                return restoreInto(store, chosen, dataSource, target);
            } catch (IOException | RuntimeException e) {
                clear(dataSource);
                throw e;
            }
        }
    }

    /** After a failed restore, the target is empty again: nothing half-restored is left to be taken for good. */
    private static void clear(DataSource dataSource) {
        try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement()) {
            statement.execute("DROP SCHEMA public CASCADE");
            statement.execute("CREATE SCHEMA public");
        } catch (SQLException e) {
            log.warn("Cannot empty the target database after a failed catalog restore: {}", e.getMessage());
        }
    }

    private static Restored restoreInto(BackupStore store, SnapshotInfo chosen, HikariDataSource dataSource, DatabaseUrl target)
            throws IOException {
        {
            try (InputStream in = store.get(chosen.name()).orElseThrow(() ->
                    new RestoreRefused("catalog snapshot " + chosen.name() + " disappeared from " + store.describe()))) {
                Snapshot.Reader reader = new Snapshot.Reader(in, "catalog snapshot " + chosen.name());
                String version = reader.manifest().schemaVersion();
                Flyway.configure().dataSource(dataSource).locations("classpath:db/catalog").table("flyway_schema_history")
                        .failOnMissingLocations(true).target(MigrationVersion.fromVersion(version)).load().migrate();
                Map<String, Long> rows = new LinkedHashMap<>();
                try (Connection connection = dataSource.getConnection()) {
                    connection.setAutoCommit(false);
                    while (reader.next()) {
                        rows.put(reader.table().name(), reader.copyInto(connection));
                        Snapshot.resetSequences(connection, reader.table());
                    }
                    Map<String, Long> expected = reader.trailer();
                    if (!expected.equals(rows)) {
                        connection.rollback();
                        throw new IOException("catalog snapshot " + chosen.name() + " is incomplete: rows " + rows
                                + " instead of " + expected);
                    }
                    connection.commit();
                } catch (SQLException e) {
                    throw new IOException("cannot restore catalog snapshot " + chosen.name() + ": " + e.getMessage(), e);
                }
                CatalogMigrations.migrate(dataSource);
                log.info("Restored catalog snapshot {} (schema {}) into {}", chosen.name(), version, target);
                return new Restored(chosen.name(), chosen.takenAt(), version, rows);
            }
        }
    }

    /** A restore that cannot start: the target is not empty, or there is no snapshot to restore. */
    public static final class RestoreRefused extends IOException {
        public RestoreRefused(String message) {
            super(message);
        }
    }
}
