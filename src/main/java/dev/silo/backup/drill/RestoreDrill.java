package dev.silo.backup.drill;

import dev.silo.backup.BackupStore;
import dev.silo.backup.base.BaseBackupManifest;
import dev.silo.backup.base.BaseBackups;
import dev.silo.backup.restore.RestoreEngine;
import dev.silo.backup.restore.RestoreException;
import dev.silo.backup.wal.WalSegments;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.crypto.Envelope;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Stream;

import static java.util.Objects.requireNonNull;

/**
 * One restore drill (claim C17, issue 12.6): restores the newest base backup plus the WAL after it with
 * {@link RestoreEngine} into {@code <scratch>/<id>} on a scratch port, then reads every page of every relation with
 * storage in every database of the copy with {@code pg_prewarm(..., 'buffer')} — through shared buffers, so data
 * checksums are verified and a damaged page fails with its relation and block — checks every B-tree index with
 * amcheck's {@code bt_index_check}, and compares the copy with the live server: each audit log (tenant
 * {@code audit_log}, the catalog's {@code platform_audit}) is an append-only hash chain, so the copy's chain must be
 * a prefix of the live one (the same hash at the copy's last seq); row counts per database are recorded, not
 * compared (rows written or deleted since the recovery point are expected). The scratch directory is removed
 * whatever happens.
 *
 * <p>Before restoring anything the drill compares the usable space where it restores with what the copy needs (the
 * base backup's plaintext size from its manifest, twice the WAL it replays — spooled, then copied into
 * {@code pg_wal} — and a margin, {@link #requiredSpace}); when the space is short it refuses and that is its
 * outcome ({@value #INSUFFICIENT_SPACE}), rather than filling the disk the live server writes to.
 *
 * <p>Never throws for a failed drill: the failure is the result. Runs on the calling thread, which must be a
 * platform thread (the restore decrypts and decompresses the whole backup).
 */
public final class RestoreDrill {
    /** Problems named in the result before the rest are only counted: a reason stays readable. */
    private static final int MAX_PROBLEMS = 10;
    /** The failure type of a drill refused for lack of disk space (its {@link DrillResult#failure()}). */
    public static final String INSUFFICIENT_SPACE = "drill-insufficient-space";
    /** The failure type of a drill whose restore failed. */
    public static final String RESTORE_FAILED = "drill-restore-failed";
    /** The failure type of a drill that restored a copy and found a problem in it. */
    public static final String CHECK_FAILED = "drill-check-failed";
    /** The least margin above the copy's own size: the server's logs, the checkpoint's new WAL, the catalog's growth. */
    static final long MIN_MARGIN_BYTES = 256L * 1024 * 1024;

    /** How many bytes a new file under a path may take ({@link FileStore#getUsableSpace}); replaceable in tests. */
    @FunctionalInterface
    public interface FreeSpace {
        /** The usable space of the file store holding {@code path}, or its nearest existing parent. */
        long usableBytes(Path path) throws IOException;

        FreeSpace FILE_STORE = path -> {
            Path existing = path.toAbsolutePath();
            while (existing != null && !Files.exists(existing)) {
                existing = existing.getParent();
            }
            if (existing == null) {
                throw new IOException("no existing parent of " + path);
            }
            return Files.getFileStore(existing).getUsableSpace();
        };
    }

    private final BackupStore store;
    private final Envelope envelope;
    private final Path scratch;
    private final Function<String, DatabaseUrl> liveAdmin;
    private final String catalogDatabase;
    private final Clock clock;
    private final FreeSpace freeSpace;

    /**
     * @param store           the (encrypted) backup store
     * @param envelope        the master key
     * @param scratch         where drills restore, {@code <data dir>/drill}
     * @param liveAdmin       a superuser location on the live server, per database
     * @param catalogDatabase the catalog's database name (its audit log is {@code platform_audit})
     */
    public RestoreDrill(BackupStore store, Envelope envelope, Path scratch, Function<String, DatabaseUrl> liveAdmin,
                        String catalogDatabase, Clock clock) {
        this(store, envelope, scratch, liveAdmin, catalogDatabase, clock, FreeSpace.FILE_STORE);
    }

    /** As above, measuring the scratch location's free space with {@code freeSpace}. */
    public RestoreDrill(BackupStore store, Envelope envelope, Path scratch, Function<String, DatabaseUrl> liveAdmin,
                        String catalogDatabase, Clock clock, FreeSpace freeSpace) {
        this.freeSpace = requireNonNull(freeSpace, "freeSpace is null");
        this.store = requireNonNull(store, "store is null");
        this.envelope = requireNonNull(envelope, "envelope is null");
        this.scratch = requireNonNull(scratch, "scratch is null");
        this.liveAdmin = requireNonNull(liveAdmin, "liveAdmin is null");
        this.catalogDatabase = requireNonNull(catalogDatabase, "catalogDatabase is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    public DrillResult run(String id, Consumer<String> progress) {
        requireNonNull(id, "id is null");
        requireNonNull(progress, "progress is null");
        Instant started = clock.instant();
        long startNanos = System.nanoTime();
        Path dir = scratch.resolve(id);
        List<String> problems = new ArrayList<>();
        List<DrillResult.DatabaseCheck> checks = new ArrayList<>();
        String backupId = null;
        String recoveredLsn = null;
        Instant recoveredTime = null;
        long pages = 0;
        long blockSize = 8192;
        String failure = null;
        try {
            removeLeftovers(progress);
            Optional<String> shortOfSpace = checkSpace(progress);
            if (shortOfSpace.isPresent()) {
                return finish(id, started, startNanos, List.of(shortOfSpace.get()), INSUFFICIENT_SPACE, null, null, null, 0,
                        blockSize, checks, progress);
            }
            try (RestoreEngine.Recovered recovered = RestoreEngine.start(new RestoreEngine.Request(store, envelope, dir,
                    Optional.empty(), Optional.empty(), 0, progress))) {
                BaseBackupManifest backup = recovered.backup();
                backupId = backup.id();
                recoveredLsn = recovered.recoveredLsn();
                recoveredTime = recovered.lastTransaction();
                Map<String, String> tenants = new HashMap<>();
                for (BaseBackupManifest.Database database : backup.databases()) {
                    if (database.tenantId() != null) {
                        tenants.put(database.name(), database.tenantId());
                    }
                }
                List<String> databases;
                try (Connection connection = connect(recovered.adminUrl("postgres"));
                     Statement statement = connection.createStatement()) {
                    databases = names(statement.executeQuery(
                            "SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname = 'postgres' DESC, datname"));
                    try (ResultSet rs = statement.executeQuery("SELECT current_setting('block_size')::int")) {
                        rs.next();
                        blockSize = rs.getInt(1);
                    }
                }
                for (String database : databases) {
                    DrillResult.DatabaseCheck check = checkDatabase(recovered, database, tenants.get(database),
                            database.equals("postgres"), problems, progress);
                    pages += check.pages();
                    checks.add(check);
                }
            }
        } catch (RestoreException e) {
            problems.addFirst("the restore failed: " + e.getMessage());
            failure = RESTORE_FAILED;
        } catch (SQLException | IOException | RuntimeException e) {
            problems.add("the drill stopped: " + e.getMessage());
        } finally {
            deleteQuietly(dir);
        }
        if (!problems.isEmpty() && failure == null) {
            failure = CHECK_FAILED;
        }
        return finish(id, started, startNanos, problems, failure, backupId, recoveredLsn, recoveredTime, pages, blockSize,
                checks, progress);
    }

    private DrillResult finish(String id, Instant started, long startNanos, List<String> problems, String failure,
                               String backupId, String recoveredLsn, Instant recoveredTime, long pages, long blockSize,
                               List<DrillResult.DatabaseCheck> checks, Consumer<String> progress) {
        String reason = null;
        if (!problems.isEmpty()) {
            List<String> shown = problems.subList(0, Math.min(problems.size(), MAX_PROBLEMS));
            reason = String.join("; ", shown) + (problems.size() > shown.size()
                    ? " (and " + (problems.size() - shown.size()) + " more)" : "");
        }
        long millis = Duration.ofNanos(System.nanoTime() - startNanos).toMillis();
        DrillResult result = new DrillResult(id, problems.isEmpty(), reason, failure, started, millis, backupId, recoveredLsn,
                recoveredTime, pages, pages * blockSize, checks);
        progress.accept("drill " + id + " " + result.outcome() + (reason == null ? "" : ": " + reason));
        return result;
    }

    /**
     * What a drill needs where it restores: the base backup's plaintext size ({@code backupBytes}), twice the WAL it
     * replays ({@code walBytes}: the store's whole segments of its timeline from the backup's segment on, and the
     * partial one padded to a segment), and a margin of a tenth of that, at least {@link #MIN_MARGIN_BYTES}.
     */
    static long requiredSpace(long backupBytes, long walBytes) {
        long copy = backupBytes + 2 * walBytes;
        return copy + Math.max(MIN_MARGIN_BYTES, copy / 10);
    }

    /** Empty when the scratch location has room for the copy; else why not, in one sentence. */
    private Optional<String> checkSpace(Consumer<String> progress) throws IOException {
        List<BaseBackupManifest> backups = BaseBackups.list(store);
        if (backups.isEmpty()) {
            return Optional.empty(); // the restore says so, as the failure
        }
        BaseBackupManifest backup = backups.getLast();
        long from = WalSegments.segmentStart(backup.startLsnValue());
        WalSegments.Contents wal = WalSegments.read(store);
        long walBytes = 0;
        for (WalSegments.Segment segment : wal.complete()) {
            if (segment.timeline() == backup.timeline() && Long.compareUnsigned(segment.startLsn(), from) >= 0) {
                walBytes += WalSegments.SEGMENT_SIZE;
            }
        }
        if (wal.partial().isPresent()) {
            walBytes += WalSegments.SEGMENT_SIZE; // padded to a whole segment in the spool
        }
        long needed = requiredSpace(backup.bytes(), walBytes);
        long usable = freeSpace.usableBytes(scratch);
        progress.accept("the copy of base backup " + backup.id() + " needs " + mebibytes(needed) + " MiB in " + scratch
                + "; " + mebibytes(usable) + " MiB are free");
        if (usable >= needed) {
            return Optional.empty();
        }
        return Optional.of("not enough disk space for the drill: restoring base backup " + backup.id() + " ("
                + mebibytes(backup.bytes()) + " MiB) and " + mebibytes(walBytes) + " MiB of WAL into " + scratch + " needs "
                + mebibytes(needed) + " MiB with the margin, but only " + mebibytes(usable) + " MiB are free there; "
                + "free space or move the data directory's drill folder to a larger disk (nothing was restored)");
    }

    private static long mebibytes(long bytes) {
        return (bytes + 1024 * 1024 - 1) / (1024 * 1024);
    }

    private DrillResult.DatabaseCheck checkDatabase(RestoreEngine.Recovered recovered, String database, String tenantId,
                                                    boolean withShared, List<String> problems, Consumer<String> progress)
            throws SQLException {
        String where = "database " + database + (tenantId == null ? "" : " (tenant " + tenantId + ")");
        int relations = 0;
        long pages = 0;
        int indexes = 0;
        long rows;
        Long auditSeq = null;
        String auditHash = null;
        String auditTable = auditTable(database, tenantId);
        try (Connection connection = connect(recovered.adminUrl(database)); Statement statement = connection.createStatement()) {
            statement.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm");
            boolean amcheck = true;
            try {
                statement.execute("CREATE EXTENSION IF NOT EXISTS amcheck");
            } catch (SQLException e) {
                amcheck = false; // the check is a bonus; the pages are still read
            }
            List<Relation> all = new ArrayList<>();
            try (ResultSet rs = statement.executeQuery("""
                    SELECT c.oid, n.nspname, c.relname, c.relkind, am.amname = 'btree' AND i.indisvalid AS btree,
                           pg_relation_size(c.oid, 'fsm') > 0 AS fsm, pg_relation_size(c.oid, 'vm') > 0 AS vm
                    FROM pg_class c
                    JOIN pg_namespace n ON n.oid = c.relnamespace
                    LEFT JOIN pg_am am ON am.oid = c.relam AND c.relkind = 'i'
                    LEFT JOIN pg_index i ON i.indexrelid = c.oid
                    WHERE c.relkind IN ('r', 'i', 't', 'm', 'S') AND c.relpersistence <> 't'
                      AND (NOT c.relisshared OR %s)
                    ORDER BY c.oid
                    """.formatted(withShared ? "true" : "false"))) {
                while (rs.next()) {
                    all.add(new Relation(rs.getLong(1), rs.getString(2) + "." + rs.getString(3), rs.getString(4),
                            rs.getBoolean(5), rs.getBoolean(6), rs.getBoolean(7)));
                }
            }
            try (PreparedStatement prewarm = connection.prepareStatement("SELECT pg_prewarm(?::oid, 'buffer', ?)");
                 PreparedStatement btree = connection.prepareStatement("SELECT bt_index_check(?::oid)")) {
                for (Relation relation : all) {
                    relations++;
                    List<String> forks = new ArrayList<>(List.of("main"));
                    if (relation.fsm()) {
                        forks.add("fsm");
                    }
                    if (relation.vm()) {
                        forks.add("vm");
                    }
                    for (String fork : forks) {
                        try {
                            prewarm.setLong(1, relation.oid());
                            prewarm.setString(2, fork);
                            try (ResultSet rs = prewarm.executeQuery()) {
                                rs.next();
                                pages += rs.getLong(1);
                            }
                        } catch (SQLException e) {
                            problems.add(where + ", relation " + relation.name() + " (" + fork + " fork): " + e.getMessage());
                        }
                    }
                    if (amcheck && relation.btree()) {
                        try {
                            btree.setLong(1, relation.oid());
                            btree.executeQuery().close();
                            indexes++;
                        } catch (SQLException e) {
                            problems.add(where + ", index " + relation.name() + ": " + e.getMessage());
                        }
                    }
                }
            }
            rows = countRows(connection, (table, e) -> problems.add(where + ", table " + table + ": " + e.getMessage()));
            if (auditTable != null && hasTable(connection, auditTable)) {
                try (ResultSet rs = statement.executeQuery("SELECT seq, hash FROM " + auditTable + " ORDER BY seq DESC LIMIT 1")) {
                    if (rs.next()) {
                        auditSeq = rs.getLong(1);
                        auditHash = rs.getString(2);
                    }
                }
            }
        }
        Long rowsLive = null;
        Boolean auditMatches = null;
        try (Connection live = connect(liveAdmin.apply(database))) {
            rowsLive = countRows(live, (table, e) -> problems.add(where + ", table " + table + " on the live server: "
                    + e.getMessage()));
            if (auditSeq != null) {
                try (PreparedStatement select = live.prepareStatement("SELECT hash FROM " + auditTable + " WHERE seq = ?")) {
                    select.setLong(1, auditSeq);
                    try (ResultSet rs = select.executeQuery()) {
                        auditMatches = rs.next() && auditHash.equals(rs.getString(1));
                    }
                }
                if (!auditMatches) {
                    problems.add(where + ": the restored " + auditTable + " is not a prefix of the live one (seq " + auditSeq
                            + " differs or is missing on the live server)");
                }
            }
        } catch (SQLException e) {
            if ("3D000".equals(e.getSQLState())) {
                // The database was dropped since the recovery point (a tenant purged): nothing live to compare with.
            } else {
                problems.add(where + ": cannot compare with the live server: " + e.getMessage());
            }
        }
        progress.accept("read " + where + ": " + relations + " relations, " + pages + " pages, " + indexes
                + " indexes checked, " + rows + " rows (live: " + (rowsLive == null ? "absent" : rowsLive) + ")");
        return new DrillResult.DatabaseCheck(database, tenantId, relations, pages, indexes, rows, rowsLive, auditSeq, auditMatches);
    }

    private record Relation(long oid, String name, String kind, boolean btree, boolean fsm, boolean vm) {}

    private String auditTable(String database, String tenantId) {
        if (database.equals(catalogDatabase)) {
            return "platform_audit";
        }
        return tenantId == null ? null : "audit_log";
    }

    private static boolean hasTable(Connection connection, String table) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
            select.setString(1, "public." + table);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    /**
     * Rows in every ordinary table outside PostgreSQL's own schemas, counted exactly; a table that cannot be read
     * (a damaged page) goes to {@code unreadable} and counts nothing.
     */
    private static long countRows(Connection connection, java.util.function.BiConsumer<String, SQLException> unreadable)
            throws SQLException {
        List<String> tables = new ArrayList<>();
        try (Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("""
                     SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.relkind = 'r' AND c.relpersistence = 'p'
                       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
                     ORDER BY 1
                     """)) {
            while (rs.next()) {
                tables.add(rs.getString(1));
            }
        }
        long rows = 0;
        try (Statement statement = connection.createStatement()) {
            for (String table : tables) {
                try (ResultSet rs = statement.executeQuery("SELECT count(*) FROM " + table)) {
                    rs.next();
                    rows += rs.getLong(1);
                } catch (SQLException e) {
                    unreadable.accept(table, e);
                }
            }
        }
        return rows;
    }

    private static List<String> names(ResultSet rs) throws SQLException {
        try (rs) {
            List<String> names = new ArrayList<>();
            while (rs.next()) {
                names.add(rs.getString(1));
            }
            return names;
        }
    }

    private static Connection connect(DatabaseUrl url) throws SQLException {
        java.util.Properties properties = url.properties();
        org.postgresql.PGProperty.APPLICATION_NAME.set(properties, "silo-restore-drill");
        return DriverManager.getConnection(url.jdbcUrl(), properties);
    }

    /**
     * Removes what an earlier drill left in the scratch directory when its process died (a {@code kill -9} mid-drill),
     * stopping the orphaned PostgreSQL of that copy first. Only ever called under the drill lock, so no drill is
     * using them.
     */
    private void removeLeftovers(Consumer<String> progress) {
        if (!Files.isDirectory(scratch)) {
            return;
        }
        try (Stream<Path> entries = Files.list(scratch)) {
            for (Path leftover : entries.toList()) {
                Path pidFile = leftover.resolve("postgres").resolve("data").resolve("postmaster.pid");
                if (Files.isRegularFile(pidFile)) {
                    try {
                        long pid = Long.parseLong(Files.readAllLines(pidFile).getFirst().strip());
                        ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                                .filter(process -> process.info().command().map(command -> command.endsWith("postgres")).orElse(false))
                                .ifPresent(process -> {
                                    process.destroy(); // SIGTERM: smart shutdown of the orphaned copy
                                    process.onExit().orTimeout(30, java.util.concurrent.TimeUnit.SECONDS).exceptionally(e -> null).join();
                                    if (process.isAlive()) {
                                        process.destroyForcibly();
                                    }
                                });
                    } catch (IOException | RuntimeException e) {
                        // an unreadable pid file: remove the directory anyway
                    }
                }
                progress.accept("removing " + leftover + ", left by an earlier drill");
                deleteQuietly(leftover);
            }
        } catch (IOException e) {
            progress.accept("cannot list " + scratch + ": " + e.getMessage());
        }
    }

    static void deleteQuietly(Path path) {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(path)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException | RuntimeException e) {
            // best effort: the next drill removes what is left of its own directory; the parent stays small
        }
    }
}
