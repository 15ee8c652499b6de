package dev.silo.backup.base;

import dev.silo.backup.BackupStore;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * One base backup of the embedded cluster while it runs (claim C14, issue 12.2), with PostgreSQL's low-level API:
 * {@code pg_backup_start(label, fast => true)} on a superuser connection kept open, a file-by-file copy of the
 * cluster directory, {@code pg_backup_stop(wait_for_archive => false)}, then a wait until the WAL in the store
 * reaches the stop LSN (the backup is useless without that WAL), and the manifest last.
 *
 * <p><b>Store layout</b> ({@code <id>} is the start time, {@code yyyyMMdd'T'HHmmss'Z'}, sortable):
 * <pre>
 * base/&lt;id&gt;/db/&lt;oid&gt;.tar    the directory base/&lt;oid&gt; of one database (paths relative to the cluster)
 * base/&lt;id&gt;/silo.tar         Silo's own files it needs to run on the copy: postgres/superuser.wrapped, audit-checkpoints
 * base/&lt;id&gt;/cluster.tar      everything else of the cluster (global/, pg_xact/, configuration...), global/pg_control last
 * base/&lt;id&gt;/backup_label     pg_backup_stop's labelfile (and base/&lt;id&gt;/tablespace_map if it is not empty)
 * base/&lt;id&gt;/manifest.json    {@link BaseBackupManifest}, written last: without it the backup is incomplete and ignored
 * </pre>
 * One object per database lets a later restore of one tenant read only its own database plus the cluster object.
 * Every object goes through the store given (the encrypting store in Silo), streamed, never held whole.
 *
 * <p><b>What is not copied</b> (the PostgreSQL manual, "Making a Base Backup Using the Low Level API", and
 * pg_basebackup's list): the contents of {@code pg_wal}, {@code pg_replslot}, {@code pg_dynshmem}, {@code pg_notify},
 * {@code pg_serial}, {@code pg_snapshots}, {@code pg_stat_tmp}, {@code pg_subtrans} and the server's {@code log}
 * (the directories themselves are kept, empty); {@code postmaster.pid}, {@code postmaster.opts},
 * {@code current_logfiles}, any {@code backup_label}/{@code tablespace_map} and signal files; temporary files
 * ({@code pgsql_tmp*}) and relation cache init files ({@code pg_internal.init}). A file that vanishes during the
 * copy is skipped; one that changes is copied as it is read, up to the size it had when opened (zero-padded if it
 * shrank): replaying the WAL from the start LSN repairs both, as for pg_basebackup.
 *
 * <p>Runs on the calling thread, which must be a platform thread (it drives compression and encryption).
 */
public final class BaseBackup {
    public static final String PREFIX = "base/";
    private static final Logger log = LoggerFactory.getLogger(BaseBackup.class);
    static final DateTimeFormatter ID_FORMAT = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
    private static final Set<String> EXCLUDED_FILES = Set.of("postmaster.pid", "postmaster.opts", "current_logfiles",
            "backup_label", "backup_label.old", "tablespace_map", "tablespace_map.old", "recovery.signal", "standby.signal");
    private static final Set<String> EMPTIED_DIRECTORIES = Set.of("pg_wal", "pg_replslot", "pg_dynshmem", "pg_notify",
            "pg_serial", "pg_snapshots", "pg_stat_tmp", "pg_subtrans", "log");
    /** Kept inside emptied directories: PostgreSQL expects them to exist. */
    private static final Set<String> KEPT_DIRECTORIES = Set.of("pg_wal/archive_status", "pg_wal/summaries");
    /** Files of Silo's data directory (not the cluster) that a restored copy needs. */
    public static final List<String> SILO_FILES = List.of("postgres/superuser.wrapped", "audit-checkpoints");
    private static final Pattern DATABASE_DIRECTORY = Pattern.compile("base/(\\d+)(/.*)?");
    private static final Pattern TIMELINE = Pattern.compile("START TIMELINE: (\\d+)");
    private static final int COPY_BUFFER = 128 * 1024;

    /** Where the WAL in the store ends (the receiver's stored position, or the store's listing). */
    public interface WalPosition {
        Optional<Long> storedEnd() throws IOException;
    }

    /** Progress of a running backup, for {@code silo backups create}. */
    public interface Progress {
        void copied(long files, long bytes, String object);

        Progress NONE = (files, bytes, object) -> {};
    }

    /** Why a backup failed, in one sentence naming what (never a secret). */
    public static final class BackupFailedException extends IOException {
        public BackupFailedException(String message) {
            super(message);
        }

        public BackupFailedException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final Path dataDir;
    private final Path cluster;
    private final BackupStore store;
    private final WalPosition wal;
    private final Clock clock;
    private final Duration walWait;

    /**
     * @param dataDir the Silo data directory (its {@link #SILO_FILES} are copied)
     * @param cluster the PostgreSQL data directory ({@code <data dir>/postgres/data})
     * @param walWait how long to wait for the store's WAL to reach the stop LSN before the backup fails
     */
    public BaseBackup(Path dataDir, Path cluster, BackupStore store, WalPosition wal, Clock clock, Duration walWait) {
        this.dataDir = requireNonNull(dataDir, "dataDir is null");
        this.cluster = requireNonNull(cluster, "cluster is null");
        this.store = requireNonNull(store, "store is null");
        this.wal = requireNonNull(wal, "wal is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.walWait = requireNonNull(walWait, "walWait is null");
    }

    /** A new backup id from the clock, not yet used in the store. */
    public String newId() throws IOException {
        String base = ID_FORMAT.format(clock.instant());
        String id = base;
        for (int n = 2; !store.list(PREFIX + id + "/").isEmpty(); n++) {
            id = base + "-" + n;
        }
        return id;
    }

    /**
     * Takes the backup {@code id}. {@code superuser} is a superuser connection to the catalog database, kept for the
     * whole backup (PostgreSQL ends a backup whose session ends); the caller holds the one-backup-at-a-time lock on it.
     *
     * @throws BackupFailedException naming the step that failed; objects already written stay without a manifest
     *                               (incomplete, ignored)
     */
    public BaseBackupManifest take(Connection superuser, String id, Progress progress) throws IOException {
        requireNonNull(superuser, "superuser is null");
        requireNonNull(id, "id is null");
        requireNonNull(progress, "progress is null");
        String prefix = PREFIX + id + "/";
        Map<Long, String> databaseNames;
        Map<String, String> tenantsByDatabase;
        String version;
        String systemIdentifier;
        String startLsn;
        Instant startTime;
        try {
            databaseNames = databaseNames(superuser);
            tenantsByDatabase = tenantsByDatabase(superuser);
            version = queryString(superuser, "SHOW server_version");
            systemIdentifier = queryString(superuser, "SELECT system_identifier::text FROM pg_control_system()");
            try (PreparedStatement start = superuser.prepareStatement("SELECT pg_backup_start(?, fast => true)::text")) {
                start.setString(1, "silo " + id);
                try (ResultSet rs = start.executeQuery()) {
                    rs.next();
                    startLsn = rs.getString(1);
                }
            }
            startTime = clock.instant();
        } catch (SQLException e) {
            throw new BackupFailedException("cannot start base backup " + id + ": " + e.getMessage(), e);
        }
        log.info("Base backup {} started at {} into {}", id, startLsn, store.describe());
        boolean stopped = false;
        try {
            Layout layout = layout();
            List<BaseBackupManifest.FileEntry> files = new ArrayList<>();
            List<BaseBackupManifest.StoredPart> objects = new ArrayList<>();
            List<BaseBackupManifest.Database> databases = new ArrayList<>();
            AtomicLong fileCount = new AtomicLong();
            AtomicLong byteCount = new AtomicLong();
            for (Map.Entry<Long, List<String>> database : layout.databases().entrySet()) {
                String object = prefix + "db/" + database.getKey() + ".tar";
                objects.add(writeTar(object, "database", cluster, database.getValue(), files, fileCount, byteCount, progress));
                String name = databaseNames.get(database.getKey());
                databases.add(new BaseBackupManifest.Database(database.getKey(), name,
                        name == null ? null : tenantsByDatabase.get(name), object));
            }
            List<String> siloFiles = SILO_FILES.stream().filter(path -> Files.isRegularFile(dataDir.resolve(path))).toList();
            objects.add(writeTar(prefix + "silo.tar", "silo", dataDir, siloFiles, files, fileCount, byteCount, progress));
            objects.add(writeTar(prefix + "cluster.tar", "cluster", cluster, layout.cluster(), files, fileCount, byteCount, progress));

            String stopLsn;
            String labelFile;
            String spcmapFile;
            try (Statement statement = superuser.createStatement();
                 ResultSet rs = statement.executeQuery(
                         "SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(wait_for_archive => false)")) {
                rs.next();
                stopLsn = rs.getString(1);
                labelFile = rs.getString(2);
                spcmapFile = rs.getString(3);
            } catch (SQLException e) {
                throw new BackupFailedException("cannot stop base backup " + id + ": " + e.getMessage(), e);
            }
            stopped = true;
            Instant stopTime = clock.instant();
            objects.add(putSmall(prefix + "backup_label", labelFile));
            if (spcmapFile != null && !spcmapFile.isEmpty()) {
                objects.add(putSmall(prefix + "tablespace_map", spcmapFile));
            }
            Matcher timeline = TIMELINE.matcher(labelFile);
            if (!timeline.find()) {
                throw new BackupFailedException("base backup " + id + ": the backup label names no timeline");
            }
            awaitWal(id, Lsn.parse(stopLsn));
            BaseBackupManifest manifest = new BaseBackupManifest(BaseBackupManifest.FORMAT, id, startLsn, stopLsn,
                    Integer.parseInt(timeline.group(1)), startTime, stopTime, version, systemIdentifier, databases, objects, files);
            store.put(prefix + BaseBackups.MANIFEST, new ByteArrayInputStream(manifest.toJson()));
            log.info("Base backup {} complete: {} files, {} bytes, {} databases, WAL {} to {}", id, files.size(),
                    manifest.bytes(), databases.size(), startLsn, stopLsn);
            return manifest;
        } finally {
            if (!stopped) {
                abort(superuser);
            }
        }
    }

    private record Layout(TreeMap<Long, List<String>> databases, List<String> cluster) {}

    /** The cluster's files and directories to copy, by object; {@code global/pg_control} last. */
    private Layout layout() throws IOException {
        TreeMap<Long, List<String>> databases = new TreeMap<>();
        List<String> rest = new ArrayList<>();
        String[] control = new String[1];
        Files.walkFileTree(cluster, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attributes) {
                String path = relative(dir);
                if (path.isEmpty()) {
                    return FileVisitResult.CONTINUE;
                }
                if (dir.getFileName().toString().startsWith("pgsql_tmp")) {
                    return FileVisitResult.SKIP_SUBTREE;
                }
                add(path + "/");
                String parent = path.contains("/") ? path.substring(0, path.lastIndexOf('/')) : "";
                if (EMPTIED_DIRECTORIES.contains(path) || (EMPTIED_DIRECTORIES.contains(parent) && !KEPT_DIRECTORIES.contains(path))) {
                    if (EMPTIED_DIRECTORIES.contains(path)) {
                        KEPT_DIRECTORIES.stream().filter(kept -> kept.startsWith(path + "/")
                                && Files.isDirectory(cluster.resolve(kept))).forEach(kept -> add(kept + "/"));
                    }
                    return FileVisitResult.SKIP_SUBTREE;
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) throws IOException {
                String path = relative(file);
                String name = file.getFileName().toString();
                if (path.startsWith("pg_tblspc/")) {
                    throw new BackupFailedException("the cluster has a tablespace (" + path + "); Silo's base backups "
                            + "copy the data directory only and do not support tablespaces");
                }
                if (!attributes.isRegularFile() || EXCLUDED_FILES.contains(path) || name.startsWith("pgsql_tmp")
                        || name.equals("pg_internal.init")) {
                    return FileVisitResult.CONTINUE;
                }
                if (path.equals("global/pg_control")) {
                    control[0] = path;
                    return FileVisitResult.CONTINUE;
                }
                add(path);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE; // removed while walking: WAL replay accounts for it
                }
                throw e;
            }

            private void add(String path) {
                Matcher matcher = DATABASE_DIRECTORY.matcher(path.endsWith("/") ? path.substring(0, path.length() - 1) : path);
                if (matcher.matches()) {
                    databases.computeIfAbsent(Long.parseLong(matcher.group(1)), oid -> new ArrayList<>()).add(path);
                } else {
                    rest.add(path);
                }
            }
        });
        if (control[0] == null) {
            throw new BackupFailedException(cluster + " has no global/pg_control: not a PostgreSQL cluster");
        }
        rest.add(control[0]);
        return new Layout(databases, rest);
    }

    private String relative(Path path) {
        return cluster.relativize(path).toString().replace('\\', '/');
    }

    /** Writes one tar object of {@code paths} (directories end with '/'), recording every file copied. */
    private BaseBackupManifest.StoredPart writeTar(String object, String kind, Path root, List<String> paths,
                                                   List<BaseBackupManifest.FileEntry> files, AtomicLong fileCount,
                                                   AtomicLong byteCount, Progress progress) throws IOException {
        List<BaseBackupManifest.FileEntry> written = new ArrayList<>();
        ObjectPipe.Written result;
        try {
            result = ObjectPipe.put(store, object, out -> {
                TarArchiveOutputStream tar = new TarArchiveOutputStream(out, COPY_BUFFER);
                tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
                tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
                byte[] buffer = new byte[COPY_BUFFER];
                for (String path : paths) {
                    if (path.endsWith("/")) {
                        TarArchiveEntry entry = new TarArchiveEntry(path);
                        entry.setMode(0700);
                        tar.putArchiveEntry(entry);
                        tar.closeArchiveEntry();
                        continue;
                    }
                    Optional<BaseBackupManifest.FileEntry> copied = copyFile(tar, root, path, object, buffer);
                    if (copied.isPresent()) {
                        written.add(copied.get());
                        progress.copied(fileCount.incrementAndGet(), byteCount.addAndGet(copied.get().size()), object);
                    }
                }
                tar.finish();
                tar.flush();
            });
        } catch (BackupFailedException e) {
            throw e;
        } catch (IOException e) {
            throw new BackupFailedException("cannot write " + object + " to the backup store " + store.describe() + ": "
                    + e.getMessage(), e);
        }
        files.addAll(written);
        return new BaseBackupManifest.StoredPart(object, result.size(), result.sha256(), kind);
    }

    private static Optional<BaseBackupManifest.FileEntry> copyFile(TarArchiveOutputStream tar, Path root, String path, String object,
                                                                   byte[] buffer) throws IOException {
        FileChannel channel;
        try {
            channel = FileChannel.open(root.resolve(path), StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            return Optional.empty(); // vanished since the listing (a dropped relation, a removed temp file)
        }
        try (channel) {
            long size = channel.size();
            TarArchiveEntry entry = new TarArchiveEntry(path);
            entry.setSize(size);
            entry.setMode(0600);
            tar.putArchiveEntry(entry);
            MessageDigest digest = ObjectPipe.sha256();
            ByteBuffer wrapped = ByteBuffer.wrap(buffer);
            long remaining = size;
            while (remaining > 0) {
                wrapped.clear().limit((int) Math.min(buffer.length, remaining));
                int n = channel.read(wrapped);
                if (n < 0) {
                    // The file shrank while it was copied: zeros up to the size announced; WAL replay rewrites it.
                    int pad = (int) Math.min(buffer.length, remaining);
                    java.util.Arrays.fill(buffer, 0, pad, (byte) 0);
                    n = pad;
                }
                tar.write(buffer, 0, n);
                digest.update(buffer, 0, n);
                remaining -= n;
            }
            tar.closeArchiveEntry();
            return Optional.of(new BaseBackupManifest.FileEntry(path, size, HexFormat.of().formatHex(digest.digest()), object));
        }
    }

    private BaseBackupManifest.StoredPart putSmall(String object, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        store.put(object, new ByteArrayInputStream(bytes));
        return new BaseBackupManifest.StoredPart(object, bytes.length,
                HexFormat.of().formatHex(ObjectPipe.sha256().digest(bytes)), "label");
    }

    /** The backup counts only once the store holds the WAL up to its stop LSN: replay must reach it. */
    private void awaitWal(String id, long stopLsn) throws IOException {
        long deadline = System.nanoTime() + walWait.toNanos();
        Optional<Long> end = Optional.empty();
        while (true) {
            end = wal.storedEnd();
            if (end.isPresent() && Long.compareUnsigned(end.get(), stopLsn) >= 0) {
                return;
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new BackupFailedException("base backup " + id + " is incomplete: the WAL in the store ends at "
                        + end.map(Lsn::format).orElse("nothing") + ", not yet at the backup's stop LSN " + Lsn.format(stopLsn)
                        + " after " + walWait.toSeconds() + " s (is the WAL receiver streaming? see silo backups status)");
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BackupFailedException("base backup " + id + " interrupted while waiting for its WAL");
            }
        }
    }

    private static void abort(Connection superuser) {
        try (Statement statement = superuser.createStatement()) {
            statement.execute("SELECT pg_backup_stop(wait_for_archive => false)");
        } catch (SQLException e) {
            log.debug("ending an interrupted base backup: {}", e.getMessage());
        }
    }

    private static Map<Long, String> databaseNames(Connection connection) throws SQLException {
        Map<Long, String> names = new HashMap<>();
        try (Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT oid::bigint, datname FROM pg_database")) {
            while (rs.next()) {
                names.put(rs.getLong(1), rs.getString(2));
            }
        }
        return names;
    }

    private static Map<String, String> tenantsByDatabase(Connection connection) throws SQLException {
        Map<String, String> tenants = new HashMap<>();
        try (Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT id::text, database_name FROM tenants WHERE status <> 'purged'")) {
            while (rs.next()) {
                tenants.put(rs.getString(2), rs.getString(1));
            }
        }
        return tenants;
    }

    private static String queryString(Connection connection, String sql) throws SQLException {
        try (Statement statement = connection.createStatement(); ResultSet rs = statement.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
