package dev.silo.backup.restore;

import dev.silo.backup.BackupStore;
import dev.silo.backup.EncryptedBackupStore;
import dev.silo.backup.base.BaseBackupManifest;
import dev.silo.backup.base.BaseBackups;
import dev.silo.backup.base.Lsn;
import dev.silo.backup.wal.WalSegments;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.db.EmbeddedPostgresServer;
import dev.silo.platform.db.PostgresBinaries;
import dev.silo.platform.db.PostgresProcess;
import dev.silo.platform.db.PrivateFiles;
import dev.silo.platform.db.TlsMaterial;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static java.util.Objects.requireNonNull;

/**
 * Rebuilds a cluster from the backup store alone (claim C17, issue 12.5): picks a complete base backup, unpacks it
 * into {@code <dir>/postgres/data} verifying every object's SHA-256 from the manifest, fetches the WAL it needs
 * (decrypted; the {@code .partial} segment zero-padded to 16 MiB under its segment name) into a spool that
 * {@code restore_command} copies from, and starts PostgreSQL on a scratch port with no archiving, recovering to the
 * end of the WAL or to {@code recovery_target_time} ({@code recovery_target_action = 'promote'}). {@link #start}
 * returns once the server is promoted and running (a drill reads it there); {@link Recovered#stop} stops it cleanly.
 *
 * <p>The directory must be empty or absent. On any failure the server is stopped and the directory removed: nothing
 * half-restored is left as if it were good. Runs on the calling (platform) thread: decryption is CPU-heavy.
 *
 * <p>Silo's own files come back from the backup's {@code silo.tar} ({@code postgres/superuser.wrapped},
 * {@code audit-checkpoints} as they were at the backup: every checkpoint there predates the backup's end, which is at
 * or before the recovery point, so {@code silo audit verify} holds on the copy); the TLS material and the unpacked
 * binaries are made anew.
 */
public final class RestoreEngine {
    public static final String SPOOL = "postgres/restore-wal";
    private static final Duration RECOVERY_TIMEOUT = Duration.ofMinutes(30);

    /**
     * @param store    the (encrypted) store to restore from
     * @param envelope the master key the store was written under
     * @param dataDir  an empty or absent directory that becomes a Silo data directory
     * @param toTime   recover to this time ({@code recovery_target_time}); empty: to the end of the WAL
     * @param backupId use this base backup; empty: the newest complete one that ends at or before {@code toTime}
     * @param port     the scratch port; 0 picks a free one
     * @param progress one line per step, for stderr
     * @param onlyTenant restore only what this tenant's database needs (issue 13.1, pgBackRest's selective restore):
     *                 the cluster's global files, the {@code postgres} database and the tenant's {@code base/<oid>};
     *                 every other database's files (other tenants', the catalog's, the templates') become sparse
     *                 zero-filled files of their size,
     *                 never read from the store, which WAL replay writes into and which are never connected to
     *                 (autovacuum is off on such a copy). Empty: the whole cluster.
     */
    public record Request(BackupStore store, Envelope envelope, Path dataDir, Optional<Instant> toTime,
                          Optional<String> backupId, int port, Consumer<String> progress, Optional<String> onlyTenant) {
        public Request(BackupStore store, Envelope envelope, Path dataDir, Optional<Instant> toTime,
                       Optional<String> backupId, int port, Consumer<String> progress) {
            this(store, envelope, dataDir, toTime, backupId, port, progress, Optional.empty());
        }

        public Request {
            requireNonNull(onlyTenant, "onlyTenant is null");
            requireNonNull(store, "store is null");
            requireNonNull(envelope, "envelope is null");
            requireNonNull(dataDir, "dataDir is null");
            requireNonNull(toTime, "toTime is null");
            requireNonNull(backupId, "backupId is null");
            requireNonNull(progress, "progress is null");
        }
    }

    /** A promoted, running restored server. */
    public static final class Recovered implements AutoCloseable {
        private final PostgresProcess process;
        private final ProcessHandle postmaster;
        private final BaseBackupManifest backup;
        private final Path dataDir;
        private final DatabaseUrl adminUrl;
        private final String recoveredLsn;
        private final Instant lastTransaction;
        private final int timeline;
        private final List<String> objectsRead;
        private final long bytesRead;
        private boolean stopped;

        private Recovered(PostgresProcess process, ProcessHandle postmaster, BaseBackupManifest backup, Path dataDir,
                          DatabaseUrl adminUrl, String recoveredLsn, Instant lastTransaction, int timeline,
                          List<String> objectsRead, long bytesRead) {
            this.objectsRead = List.copyOf(objectsRead);
            this.bytesRead = bytesRead;
            this.process = process;
            this.postmaster = postmaster;
            this.backup = backup;
            this.dataDir = dataDir;
            this.adminUrl = adminUrl;
            this.recoveredLsn = recoveredLsn;
            this.lastTransaction = lastTransaction;
            this.timeline = timeline;
        }

        public BaseBackupManifest backup() {
            return backup;
        }

        public Path dataDir() {
            return dataDir;
        }

        /** A superuser location on the restored server for {@code database}. */
        public DatabaseUrl adminUrl(String database) {
            return new DatabaseUrl(adminUrl.host(), adminUrl.port(), database, adminUrl.user(), adminUrl.password(),
                    adminUrl.sslMode(), adminUrl.parameters());
        }

        public int port() {
            return adminUrl.port();
        }

        /** The end of the WAL replayed (the server's insert position right after promotion). */
        public String recoveredLsn() {
            return recoveredLsn;
        }

        /** When the last transaction replayed committed; null when none was replayed. */
        public Instant lastTransaction() {
            return lastTransaction;
        }

        /** The base backup's objects read from the store (not its WAL), in the order read. */
        public List<String> objectsRead() {
            return objectsRead;
        }

        /** The plaintext bytes of {@link #objectsRead}: what the restore's size depends on. */
        public long bytesRead() {
            return bytesRead;
        }

        /** The new timeline the server is on after promotion. */
        public int timeline() {
            return timeline;
        }

        /** Stops the server cleanly (shutdown checkpoint) and removes the WAL spool. */
        public void stop() {
            if (stopped) {
                return;
            }
            stopped = true;
            process.stop(postmaster);
            deleteQuietly(dataDir.resolve(SPOOL));
        }

        @Override
        public void close() {
            stop();
        }
    }

    private RestoreEngine() {}

    /** Restores and returns with the server promoted and running; the caller stops it. */
    public static Recovered start(Request request) {
        Path dataDir = request.dataDir().toAbsolutePath().normalize();
        checkEmpty(dataDir);
        try {
            return run(request, dataDir);
        } catch (RestoreException e) {
            deleteQuietly(dataDir);
            throw e;
        } catch (EncryptedBackupStore.TamperedObjectException e) {
            deleteQuietly(dataDir);
            throw new RestoreException(e.getMessage());
        } catch (IOException | RuntimeException e) {
            deleteQuietly(dataDir);
            throw new RestoreException("restore failed: " + e.getMessage());
        }
    }

    private static Recovered run(Request request, Path dataDir) throws IOException {
        BackupStore store = request.store();
        Consumer<String> progress = request.progress();
        List<BaseBackupManifest> backups = BaseBackups.list(store);
        if (backups.isEmpty()) {
            throw new RestoreException("the backup store " + store.describe() + " holds no complete base backup");
        }
        BaseBackupManifest backup = choose(backups, request);
        WalSegments.Contents wal = WalSegments.read(store);
        if (request.toTime().isPresent()) {
            checkTargetWithinWal(store, request.toTime().get());
        }
        progress.accept("restoring base backup " + backup.id() + " (" + backup.objects().size() + " objects, "
                + backup.bytes() + " bytes, " + backup.databases().size() + " databases, taken " + backup.stopTime() + ")");
        Optional<String> missing = BaseBackups.firstMissingSegment(wal, backup.timeline(), backup.startLsnValue());
        if (missing.isPresent()) {
            throw new RestoreException("WAL segment " + missing.get() + " is missing from the backup store " + store.describe()
                    + ": the WAL after base backup " + backup.id() + " is broken there");
        }
        long walEnd = wal.end().orElseThrow();
        if (Long.compareUnsigned(walEnd, backup.stopLsnValue()) < 0) {
            throw new RestoreException("the WAL in the store ends at " + Lsn.format(walEnd) + ", before the end of base backup "
                    + backup.id() + " (" + backup.stopLsn() + ")");
        }

        PrivateFiles.createDirectories(dataDir);
        Path cluster = dataDir.resolve("postgres").resolve("data");
        PrivateFiles.createDirectories(cluster);
        long restoredBytes = 0;
        List<String> objectsRead = new ArrayList<>();
        java.util.Set<String> sparse = sparseObjects(backup, request.onlyTenant());
        for (BaseBackupManifest.StoredPart part : backup.objects()) {
            Path root = part.kind().equals("silo") ? dataDir : cluster;
            if (sparse.contains(part.name())) {
                long files = createSparse(backup, part, cluster);
                progress.accept("left " + part.name() + " unread (" + files + " sparse files of another database)");
                continue;
            }
            objectsRead.add(part.name());
            if (part.kind().equals("label")) {
                String file = part.name().substring(part.name().lastIndexOf('/') + 1);
                restoredBytes += copyVerified(store, part, cluster.resolve(file));
            } else {
                restoredBytes += untarVerified(store, part, root);
            }
            progress.accept("restored " + part.name() + " (" + restoredBytes + " bytes so far)");
        }

        Path spool = dataDir.resolve(SPOOL);
        PrivateFiles.createDirectories(spool);
        int segments = fetchWal(store, wal, backup, spool);
        progress.accept("fetched " + segments + " WAL segments from " + WalSegments.name(backup.timeline(), backup.startLsnValue())
                .substring(WalSegments.PREFIX.length()) + " to " + Lsn.format(walEnd));

        TlsMaterial tls = TlsMaterial.ensure(dataDir.resolve("postgres").resolve("tls"));
        writeRecoveryConfiguration(cluster, tls, spool, request.toTime(), !sparse.isEmpty());
        Files.createFile(cluster.resolve("recovery.signal"), PrivateFiles.fileMode());

        PostgresBinaries binaries = PostgresBinaries.prepare(dataDir.resolve("postgres").resolve("runtime"));
        int port = request.port() == 0 ? freePort() : request.port();
        PostgresProcess process = new PostgresProcess(binaries, cluster, port, Map.of());
        progress.accept("replaying WAL on port " + port + (request.toTime().map(t -> " up to " + t).orElse(" to its end")));
        ProcessHandle postmaster;
        try {
            postmaster = process.start();
        } catch (RuntimeException e) {
            throw new RestoreException(recoveryFailure(cluster, request, "PostgreSQL did not start on the restored copy"));
        }
        String password;
        try {
            password = EmbeddedPostgresServer.storedSuperuserPassword(dataDir, request.envelope());
        } catch (Envelope.WrongKeyException e) {
            process.stop(postmaster);
            throw new RestoreException("the master key does not open postgres/superuser.wrapped of base backup " + backup.id());
        }
        DatabaseUrl admin = new DatabaseUrl("localhost", port, "postgres", EmbeddedPostgresServer.SUPERUSER, password,
                "verify-full", Map.of("sslrootcert", tls.caCertificate().toString()));
        try {
            return awaitPromotion(process, postmaster, backup, dataDir, admin, request, progress, objectsRead, restoredBytes);
        } catch (RuntimeException e) {
            if (PostgresProcess.isRunning(postmaster)) {
                process.stop(postmaster);
            }
            throw e;
        }
    }

    /**
     * Refuses, before anything is restored, a target after the newest WAL object was put into the store: nothing
     * committed after that is in the store, so recovery would replay all of it and stop short of the target. When
     * the store does not say when it stored its WAL, PostgreSQL's recovery finds out instead ({@link #recoveryFailure}).
     */
    private static void checkTargetWithinWal(BackupStore store, Instant target) throws IOException {
        Optional<Instant> newest = WalSegments.newestStoredAt(store);
        if (newest.isPresent() && target.isAfter(newest.get())) {
            throw new RestoreException.TargetAfterWal("--to-time " + target + " is after the end of the WAL in the backup store "
                    + store.describe() + " (its newest WAL was stored at " + newest.get() + "): restore to latest instead "
                    + "(omit --to-time), or choose a time at or before " + newest.get());
        }
    }

    private static BaseBackupManifest choose(List<BaseBackupManifest> backups, Request request) {
        if (request.backupId().isPresent()) {
            String id = request.backupId().get();
            BaseBackupManifest chosen = backups.stream().filter(b -> b.id().equals(id)).findFirst()
                    .orElseThrow(() -> new RestoreException("the backup store holds no complete base backup " + id));
            if (request.toTime().isPresent() && chosen.stopTime().isAfter(request.toTime().get())) {
                throw new RestoreException("base backup " + id + " ended at " + chosen.stopTime() + ", after --to-time "
                        + request.toTime().get() + ": it cannot be recovered to an earlier time");
            }
            return chosen;
        }
        if (request.toTime().isEmpty()) {
            return backups.getLast();
        }
        Instant target = request.toTime().get();
        if (target.isAfter(Instant.now())) {
            throw new RestoreException("--to-time " + target + " is in the future");
        }
        BaseBackupManifest chosen = null;
        for (BaseBackupManifest backup : backups) {
            if (!backup.stopTime().isAfter(target)) {
                chosen = backup;
            }
        }
        if (chosen == null) {
            throw new RestoreException("--to-time " + target + " is outside the restorable window: the oldest base backup, "
                    + backups.getFirst().id() + ", ended at " + backups.getFirst().stopTime());
        }
        return chosen;
    }

    /**
     * The database objects a restore of only {@code tenantId} leaves unread: every database but the tenant's and
     * {@code postgres} (where the restore connects to see the promotion) — other tenants', Silo's catalog, the
     * templates and any other database on the server. A tenant created after the backup has no object; its database
     * comes from the WAL (PostgreSQL 15 logs CREATE DATABASE).
     */
    private static java.util.Set<String> sparseObjects(BaseBackupManifest backup, Optional<String> tenantId) {
        if (tenantId.isEmpty()) {
            return java.util.Set.of();
        }
        java.util.Set<String> sparse = new java.util.HashSet<>();
        for (BaseBackupManifest.Database database : backup.databases()) {
            if (!tenantId.get().equals(database.tenantId()) && !"postgres".equals(database.name())) {
                sparse.add(database.object());
            }
        }
        return sparse;
    }

    /** Every file of {@code part} as a sparse file of its size: no block is written, nothing read from the store. */
    private static long createSparse(BaseBackupManifest backup, BaseBackupManifest.StoredPart part, Path cluster)
            throws IOException {
        long count = 0;
        for (BaseBackupManifest.FileEntry file : backup.files()) {
            if (!file.object().equals(part.name())) {
                continue;
            }
            Path target = cluster.resolve(file.path()).normalize();
            if (!target.startsWith(cluster)) {
                throw new RestoreException("backup manifest " + backup.id() + " names a path outside the data directory: "
                        + file.path());
            }
            PrivateFiles.createDirectories(target.getParent());
            Files.deleteIfExists(target);
            Files.createFile(target, PrivateFiles.fileMode());
            try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(target.toFile(), "rw")) {
                raf.setLength(file.size());
            }
            count++;
        }
        return count;
    }

    private static long untarVerified(BackupStore store, BaseBackupManifest.StoredPart part, Path root) throws IOException {
        MessageDigest digest = sha256();
        try (InputStream stored = open(store, part.name()); DigestInputStream in = new DigestInputStream(stored, digest);
             TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                Path target = root.resolve(entry.getName()).normalize();
                if (!target.startsWith(root)) {
                    throw new RestoreException("backup object " + part.name() + " holds a path outside the data directory: "
                            + entry.getName());
                }
                if (entry.isDirectory()) {
                    PrivateFiles.createDirectories(target);
                } else if (entry.isFile()) {
                    PrivateFiles.createDirectories(target.getParent());
                    try (OutputStream out = Files.newOutputStream(target)) {
                        tar.transferTo(out);
                    }
                    Files.setPosixFilePermissions(target, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
                }
            }
            // The tar reader stops at its end-of-archive marker; the digest covers the whole object, padding included.
            in.transferTo(OutputStream.nullOutputStream());
        }
        check(part, digest);
        return part.size();
    }

    private static long copyVerified(BackupStore store, BaseBackupManifest.StoredPart part, Path target) throws IOException {
        MessageDigest digest = sha256();
        long size;
        try (InputStream stored = open(store, part.name()); DigestInputStream in = new DigestInputStream(stored, digest)) {
            Files.deleteIfExists(target);
            Files.createFile(target, PrivateFiles.fileMode());
            try (OutputStream out = Files.newOutputStream(target)) {
                size = in.transferTo(out);
            }
        }
        check(part, digest);
        return size;
    }

    private static void check(BaseBackupManifest.StoredPart part, MessageDigest digest) {
        String actual = HexFormat.of().formatHex(digest.digest());
        if (!actual.equals(part.sha256())) {
            throw new RestoreException("backup object " + part.name() + " does not match its manifest (SHA-256 " + actual
                    + ", expected " + part.sha256() + "): it was altered or replaced");
        }
    }

    private static InputStream open(BackupStore store, String name) throws IOException {
        return store.get(name).orElseThrow(() -> new RestoreException("backup object " + name + " is missing from the store "
                + store.describe()));
    }

    /**
     * Every segment from the backup's start to the store's end; the one being filled (stored as pieces of new bytes,
     * read with {@link WalSegments#readPartial}) zero-padded to a whole segment, which recovery reads as the end of WAL.
     */
    private static int fetchWal(BackupStore store, WalSegments.Contents wal, BaseBackupManifest backup, Path spool) throws IOException {
        long from = WalSegments.segmentStart(backup.startLsnValue());
        int count = 0;
        for (WalSegments.Segment segment : wal.complete()) {
            if (segment.timeline() != backup.timeline() || Long.compareUnsigned(segment.startLsn(), from) < 0) {
                continue;
            }
            try (InputStream in = open(store, segment.name())) {
                writeSegment(spool, segment.timeline(), segment.startLsn(), in, segment.name());
            }
            count++;
        }
        if (wal.partial().isPresent()) {
            WalSegments.Segment listed = wal.partial().get();
            if (listed.timeline() == backup.timeline() && Long.compareUnsigned(listed.startLsn(), from) >= 0) {
                WalSegments.Partial partial = WalSegments.readPartial(store).orElseThrow(() -> new RestoreException(
                        "the partial WAL segment " + listed.name() + " is listed but its pieces cannot be read from the store"));
                try (InputStream in = new java.io.ByteArrayInputStream(partial.bytes())) {
                    writeSegment(spool, partial.timeline(), partial.startLsn(), in, listed.name());
                }
                count++;
            }
        }
        return count;
    }

    private static void writeSegment(Path spool, int timeline, long startLsn, InputStream in, String what) throws IOException {
        Path target = spool.resolve(WalSegments.name(timeline, startLsn).substring(WalSegments.PREFIX.length()));
        try (OutputStream out = Files.newOutputStream(target)) {
            long copied = in.transferTo(out);
            if (copied > WalSegments.SEGMENT_SIZE) {
                throw new RestoreException("WAL object " + what + " is larger than a segment");
            }
            byte[] zeros = new byte[64 * 1024];
            for (long left = WalSegments.SEGMENT_SIZE - copied; left > 0; left -= zeros.length) {
                out.write(zeros, 0, (int) Math.min(zeros.length, left));
            }
        }
    }

    private static void writeRecoveryConfiguration(Path cluster, TlsMaterial tls, Path spool, Optional<Instant> toTime,
                                                   boolean selective) throws IOException {
        String source = spool.toString().replace("'", "'\\''");
        List<String> lines = new ArrayList<>(List.of(
                "# Written by silo restore for the recovery; silo serve writes its own at start.",
                "listen_addresses = '127.0.0.1'",
                "unix_socket_directories = ''",
                "ssl = on",
                "ssl_cert_file = " + quote(tls.serverCertificate().toString()),
                "ssl_key_file = " + quote(tls.serverKey().toString()),
                "password_encryption = 'scram-sha-256'",
                // Never archive, never stream: a restored copy must not write into the live store.
                "archive_mode = off",
                // A hot standby needs at least the primary's values (PostgreSQL checks them from the WAL): Silo's
                // embedded server runs with 200 connections (SiloCore.EMBEDDED_MAX_CONNECTIONS) and 10 WAL senders.
                "max_connections = 200",
                "max_wal_senders = 10",
                "restore_command = " + quote("cp '" + source + "/%f' '%p'"),
                "recovery_target_action = 'promote'",
                "recovery_target_timeline = 'latest'",
                "recovery_init_sync_method = 'syncfs'",
                "fsync = on",
                "logging_collector = on",
                "log_directory = 'log'",
                "log_filename = 'restore.log'",
                "timezone = 'UTC'"));
        if (selective) {
            // The other tenants' databases are zero-filled: nothing may connect to them, autovacuum included.
            lines.add("autovacuum = off");
        }
        // PostgreSQL's timestamptz input: microseconds at most, an explicit offset.
        toTime.ifPresent(time -> lines.add("recovery_target_time = " + quote(java.time.format.DateTimeFormatter
                .ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSS'+00'").withZone(java.time.ZoneOffset.UTC)
                .format(time.truncatedTo(java.time.temporal.ChronoUnit.MICROS)))));
        PrivateFiles.writeString(cluster.resolve("silo.conf"), String.join("\n", lines) + "\n");
    }

    private static Recovered awaitPromotion(PostgresProcess process, ProcessHandle postmaster, BaseBackupManifest backup,
                                            Path dataDir, DatabaseUrl admin, Request request, Consumer<String> progress,
                                            List<String> objectsRead, long bytesRead) {
        long deadline = System.nanoTime() + RECOVERY_TIMEOUT.toNanos();
        Path cluster = dataDir.resolve("postgres").resolve("data");
        while (true) {
            if (!PostgresProcess.isRunning(postmaster)) {
                throw new RestoreException(recoveryFailure(cluster, request, "PostgreSQL stopped during the recovery"));
            }
            try (Connection connection = DriverManager.getConnection(admin.jdbcUrl(), admin.properties());
                 Statement statement = connection.createStatement()) {
                try (ResultSet rs = statement.executeQuery("SELECT pg_is_in_recovery()")) {
                    rs.next();
                    if (!rs.getBoolean(1)) {
                        try (ResultSet done = statement.executeQuery("""
                                SELECT pg_current_wal_lsn()::text, pg_last_xact_replay_timestamp(),
                                       ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int
                                """)) {
                            done.next();
                            java.sql.Timestamp last = done.getTimestamp(2);
                            Recovered recovered = new Recovered(process, postmaster, backup, dataDir, admin, done.getString(1),
                                    last == null ? null : last.toInstant(), done.getInt(3), objectsRead, bytesRead);
                            progress.accept("promoted: recovered to " + recovered.recoveredLsn() + " on timeline "
                                    + recovered.timeline() + (last == null ? "" : ", last transaction at " + last.toInstant()));
                            return recovered;
                        }
                    }
                }
            } catch (SQLException e) {
                if ("28P01".equals(e.getSQLState())) {
                    throw new RestoreException("the restored server refuses the superuser password of base backup " + backup.id());
                }
                // still starting or replaying: try again
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new RestoreException("the recovery did not finish within " + RECOVERY_TIMEOUT.toMinutes() + " minutes");
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RestoreException("interrupted during the recovery");
            }
        }
    }

    /**
     * Why the recovery failed, from the server's own log (its FATAL line).
     *
     * @throws RestoreException.TargetAfterWal when the recovery ended before reaching {@code --to-time}
     */
    private static String recoveryFailure(Path cluster, Request request, String fallback) {
        List<String> fatal = new ArrayList<>();
        String lastTransaction = null;
        try (Stream<Path> logs = Files.list(cluster.resolve("log"))) {
            for (Path file : logs.sorted().toList()) {
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (line.contains("FATAL:") || line.contains("PANIC:")) {
                        fatal.add(line.substring(line.indexOf(line.contains("FATAL:") ? "FATAL:" : "PANIC:")).strip());
                    }
                    int at = line.indexOf("last completed transaction was at log time ");
                    if (at >= 0) {
                        lastTransaction = line.substring(at + "last completed transaction was at log time ".length()).strip();
                    }
                }
            }
        } catch (IOException e) {
            // the fallback says enough
        }
        if (fatal.stream().anyMatch(line -> line.contains("recovery ended before configured recovery target was reached"))) {
            throw new RestoreException.TargetAfterWal("--to-time " + request.toTime().map(Instant::toString).orElse("?")
                    + " is after the end of the WAL in the backup store" + (lastTransaction == null ? ""
                    : " (its last transaction committed at " + lastTransaction + ")")
                    + ": restore to latest instead (omit --to-time), or choose an earlier time");
        }
        return fatal.isEmpty() ? fallback : fallback + ": " + fatal.getLast();
    }

    private static void checkEmpty(Path dataDir) {
        if (!Files.exists(dataDir)) {
            return;
        }
        if (!Files.isDirectory(dataDir)) {
            throw new RestoreException(dataDir + " is not a directory");
        }
        try (Stream<Path> entries = Files.list(dataDir)) {
            if (entries.findAny().isPresent()) {
                throw new RestoreException(dataDir + " is not empty: restore into a new or empty directory");
            }
        } catch (IOException e) {
            throw new RestoreException("cannot read " + dataDir + ": " + e.getMessage());
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String quote(String value) {
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'";
    }

    private static int freePort() throws IOException {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    static void deleteQuietly(Path path) {
        if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(path)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException | RuntimeException e) {
            // best effort; the caller's message says the restore failed
        }
    }
}
