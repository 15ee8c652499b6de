package dev.silo.backup.logical;

import com.zaxxer.hikari.HikariDataSource;
import dev.silo.audit.Actor;
import dev.silo.audit.PlatformAudit;
import dev.silo.audit.TenantAudit;
import dev.silo.backup.BackupStore;
import dev.silo.backup.base.BaseBackupManifest;
import dev.silo.backup.base.BaseBackups;
import dev.silo.backup.base.Lsn;
import dev.silo.backup.restore.RestoreEngine;
import dev.silo.backup.restore.RestoreException;
import dev.silo.backup.wal.WalSegments;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.db.Pools;
import dev.silo.platform.db.Sql;
import dev.silo.platform.jobs.Jobs;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.Conflict;
import dev.silo.tenant.Placements;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantService;
import dev.silo.tenant.TenantStatus;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import static java.util.Objects.requireNonNull;

/**
 * Restores one tenant while every other keeps working (issue 13.1, claim C14): to any second of the restorable window
 * from the physical backups ({@code restore-to}), or from one of its logical backups ({@code restore-backup}), either
 * in place or into a new tenant ({@code --as}); and {@code --undo} of the last in-place restore.
 *
 * <p><b>To a point in time</b>: a scratch copy of the cluster is recovered to exactly T ({@link RestoreEngine} with
 * {@code onlyTenant}: only the global files, PostgreSQL's and Silo's own databases and this tenant's
 * {@code base/<oid>} are read from the store; every other tenant's files are sparse and never read, so the time
 * depends on this tenant's size and the WAL, not on how many tenants share the server). Its schema is migrated
 * forward on the scratch copy, then its tables are streamed (binary COPY) straight into the target.
 *
 * <p><b>In place</b>: first a logical backup of the tenant as it is now (the copy {@code --undo} restores, under the
 * tenant's own keyset, so it dies with the tenant); then the tenant's routes answer 503 {@code tenant-restoring} on
 * every node, and one transaction in the tenant's database truncates its tables and copies the restored rows in: a
 * failure rolls back and leaves the tenant as it was. The role, password, signing secret and data keys do not change,
 * so encrypted fields read and tokens verify; a token whose session did not exist at T no longer works. The tenant's
 * audit log is not rolled back: it keeps what happened, and records the restore.
 *
 * <p>Each restore is a {@link Jobs job} ({@code GET /admin/jobs/{id}}); one per tenant at a time.
 */
public final class TenantRestores {
    public static final String KIND_PREFIX = "tenant.restore";
    public static final String RESTORE_TO = "tenant.restore-to";
    public static final String UNDO = "tenant.restore-undo";
    public static final String RESTORE_BACKUP = "tenant.restore-backup";
    /** Kept across an in-place restore: the record of what happened is not rolled back. */
    static final Set<String> KEPT_IN_PLACE = Set.of("audit_log");
    private static final Duration WAL_WAIT = Duration.ofSeconds(60);
    private static final Logger log = LoggerFactory.getLogger(TenantRestores.class);

    private final DataSource catalog;
    private final TenantService tenants;
    private final Placements placements;
    private final Envelope envelope;
    private final TenantBackups backups;
    private final Jobs jobs;
    private final PlatformAudit audit;
    private final TenantAudit tenantAudit;
    private final Path scratchRoot;
    private final boolean physical;
    private final Clock clock;

    /**
     * @param scratchRoot where scratch copies are recovered ({@code <data dir>/scratch})
     * @param physical    whether this node hosts the embedded PostgreSQL whose base backups and WAL are in the store
     */
    public TenantRestores(DataSource catalog, TenantService tenants, Placements placements, Envelope envelope,
                          TenantBackups backups, Jobs jobs, PlatformAudit audit, TenantAudit tenantAudit, Path scratchRoot,
                          boolean physical, Clock clock) {
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.tenants = requireNonNull(tenants, "tenants is null");
        this.placements = requireNonNull(placements, "placements is null");
        this.envelope = requireNonNull(envelope, "envelope is null");
        this.backups = requireNonNull(backups, "backups is null");
        this.jobs = requireNonNull(jobs, "jobs is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.tenantAudit = requireNonNull(tenantAudit, "tenantAudit is null");
        this.scratchRoot = requireNonNull(scratchRoot, "scratchRoot is null");
        this.physical = physical;
        this.clock = requireNonNull(clock, "clock is null");
    }

    /**
     * What to restore: exactly one of {@code time} (a point in time), {@code backup} (a logical backup's id) or
     * {@code undo}; {@code as} names a new tenant to restore into (not with undo).
     */
    public record Request(Optional<Instant> time, Optional<String> backup, Optional<String> as, boolean undo) {
        public Request {
            requireNonNull(time, "time is null");
            requireNonNull(backup, "backup is null");
            requireNonNull(as, "as is null");
            int chosen = (time.isPresent() ? 1 : 0) + (backup.isPresent() ? 1 : 0) + (undo ? 1 : 0);
            if (chosen != 1) {
                throw new BadRequest("invalid-restore", "give exactly one of a time, a backup id or undo");
            }
            if (undo && as.isPresent()) {
                throw new BadRequest("invalid-restore", "undo restores the tenant itself; it takes no new slug");
            }
        }

        String kind() {
            return undo ? UNDO : time.isPresent() ? RESTORE_TO : RESTORE_BACKUP;
        }

        Map<String, Object> view() {
            Map<String, Object> view = new LinkedHashMap<>();
            time.ifPresent(t -> view.put("time", t.toString()));
            backup.ifPresent(b -> view.put("backup", b));
            as.ifPresent(a -> view.put("as", a));
            if (undo) {
                view.put("undo", true);
            }
            return view;
        }
    }

    /** A checked, recorded restore, ready to {@link #run}. */
    public final class Prepared {
        private final Tenant tenant;
        private final Request request;
        private final Jobs.Job job;
        private final String undoBackup;
        private volatile Consumer<String> out = line -> {};

        private Prepared(Tenant tenant, Request request, Jobs.Job job, String undoBackup) {
            this.tenant = tenant;
            this.request = request;
            this.job = job;
            this.undoBackup = undoBackup;
        }

        public UUID jobId() {
            return job.id();
        }

        public Tenant tenant() {
            return tenant;
        }

        /** A new phase of the job, recorded and printed. */
        void phase(String phase, String line) {
            out.accept(line);
            try {
                job.progress(phase, line);
            } catch (RuntimeException e) {
                log.warn("Cannot record the progress of job {}: {}", job.id(), e.getMessage());
            }
        }
    }

    /**
     * Checks the request (each refusal a problem: an unknown, purged or externally placed tenant, a time in the
     * future, before the tenant existed or outside the window, a restore already running) and records its job.
     */
    public Prepared prepare(String slug, Request request, Actor actor) throws IOException {
        requireNonNull(request, "request is null");
        Tenant tenant = backups.find(slug);
        if (tenant.status() == TenantStatus.PURGED || tenant.dataKeysetWrapped() == null) {
            throw TenantBackups.purged(tenant);
        }
        if (tenant.status() != TenantStatus.ACTIVE && tenant.status() != TenantStatus.SUSPENDED) {
            throw new Conflict("invalid-state", "tenant '" + slug + "' is " + tenant.status().wire()
                    + "; only an active or suspended tenant can be restored");
        }
        if (jobs.running(tenant.id(), "tenant.move").isPresent()) {
            throw new Conflict("move-running", "tenant '" + slug + "' is being moved to another placement; restore it when "
                    + "the move ends");
        }
        request.as().ifPresent(TenantService::validateSlug);
        if (request.as().isPresent() && tenants.findLive(request.as().get()).isPresent()) {
            throw new Conflict("tenant-exists", "a tenant with slug '" + request.as().get() + "' already exists");
        }
        String undoBackup = null;
        if (request.time().isPresent()) {
            checkPointInTime(tenant, request.time().get());
        } else if (request.backup().isPresent()) {
            backups.open(tenant, request.backup().get()).close(); // exists and opens with the tenant's keys
        } else {
            undoBackup = lastUndoable(tenant).orElseThrow(() -> new Conflict("nothing-to-undo", "tenant '" + slug
                    + "' has no in-place restore to undo"));
            backups.open(tenant, undoBackup).close();
        }
        Jobs.Job job = jobs.start(request.kind(), tenant.id(), request.view(), actor, KIND_PREFIX)
                .orElseThrow(() -> new Conflict("restore-running", "a restore of tenant '" + slug + "' is already running"
                        + jobs.running(tenant.id(), KIND_PREFIX).map(id -> " (job " + id + ")").orElse("")));
        return new Prepared(tenant, request, job, undoBackup);
    }

    private void checkPointInTime(Tenant tenant, Instant time) throws IOException {
        if (!physical) {
            throw new Conflict("restore-unavailable", "this node does not host the embedded PostgreSQL, so it has no "
                    + "physical backups to restore a point in time from; restore one of the tenant's daily logical backups "
                    + "instead (`silo tenants backups " + tenant.slug() + "`, then restore-backup)");
        }
        if (!Placements.EMBEDDED.equals(placements.placementName(tenant.placementId()))) {
            throw new Conflict("restore-unavailable", "tenant '" + tenant.slug() + "' is on the external placement '"
                    + placements.placementName(tenant.placementId()) + "', whose PostgreSQL Silo does not host or back up "
                    + "physically; restore one of its daily logical backups instead (`silo tenants backups " + tenant.slug()
                    + "`, then restore-backup), or use that server's own point-in-time recovery");
        }
        Instant now = clock.instant();
        if (time.isAfter(now)) {
            throw new BadRequest("invalid-time", "the time " + time + " is in the future");
        }
        if (time.isBefore(tenant.createdAt())) {
            throw new BadRequest("invalid-time", "tenant '" + tenant.slug() + "' did not exist at " + time
                    + ": it was created at " + tenant.createdAt());
        }
        List<BaseBackupManifest> list = BaseBackups.list(backups.store());
        Optional<BaseBackups.Window> window = BaseBackups.window(list, WalSegments.read(backups.store()));
        if (window.isEmpty()) {
            throw new Conflict("outside-window", "the backup store holds no restorable base backup yet (`silo backups "
                    + "create` takes one)");
        }
        Instant oldest = list.stream().filter(b -> b.id().equals(window.get().oldestBackup())).findFirst()
                .map(BaseBackupManifest::stopTime).orElse(window.get().oldest());
        if (time.isBefore(oldest)) {
            throw new BadRequest("outside-window", "the time " + time + " is outside the restorable window, which starts at "
                    + oldest + " (the end of base backup " + window.get().oldestBackup() + ")");
        }
    }

    /** The logical backup taken before the tenant's last in-place restore, if that restore succeeded. */
    private Optional<String> lastUndoable(Tenant tenant) {
        for (Jobs.View view : jobs.list(tenant.id(), 50)) {
            if (!view.kind().startsWith(KIND_PREFIX) || !"succeeded".equals(view.state())) {
                continue;
            }
            if (view.result() != null && view.result().hasNonNull("undo_backup")) {
                return Optional.of(view.result().get("undo_backup").asText());
            }
        }
        return Optional.empty();
    }

    /**
     * Runs a prepared restore on the calling (platform) thread — decryption and WAL replay are CPU-heavy — reporting
     * each step to {@code progress} and to the job, and finishing the job with the outcome.
     */
    public Map<String, Object> run(Prepared prepared, Consumer<String> progress) {
        prepared.out = progress;
        Consumer<String> report = line -> prepared.phase(null, line);
        try {
            Map<String, Object> result;
            Request request = prepared.request;
            if (request.time().isPresent()) {
                result = restoreToTime(prepared, request.time().get(), report);
            } else {
                String id = request.undo() ? prepared.undoBackup : request.backup().get();
                result = restoreFromBackup(prepared, id, report);
            }
            prepared.job.succeed(result);
            return result;
        } catch (RuntimeException e) {
            String message = e.getMessage() == null ? e.toString() : e.getMessage();
            log.warn("Restore job {} of tenant {} failed: {}", prepared.jobId(), prepared.tenant, message);
            prepared.job.fail(message);
            throw e;
        } catch (IOException | SQLException e) {
            String message = "restore of tenant '" + prepared.tenant.slug() + "' failed: " + e.getMessage();
            log.warn("Restore job {} failed: {}", prepared.jobId(), message);
            prepared.job.fail(message);
            throw new RestoreException(message);
        } finally {
            prepared.job.close();
        }
    }

    /** Fails a prepared restore that will not run. */
    public void abandon(Prepared prepared, String why) {
        prepared.job.fail(why);
        prepared.job.close();
    }

    private Map<String, Object> restoreToTime(Prepared prepared, Instant time, Consumer<String> progress)
            throws IOException, SQLException {
        Tenant tenant = prepared.tenant;
        prepared.phase("waiting-for-wal", "waiting until the WAL past " + time + " is in the backup store");
        awaitWalPast(tenant);
        Path scratch = scratchRoot.resolve("restore-" + prepared.jobId());
        prepared.phase("recovering", "recovering a scratch copy of tenant " + tenant.slug() + " to " + time);
        try (RestoreEngine.Recovered recovered = RestoreEngine.start(new RestoreEngine.Request(backups.store(), envelope,
                scratch, Optional.of(time), Optional.empty(), 0, progress, Optional.of(tenant.id().toString())))) {
            DatabaseUrl source = recovered.adminUrl(tenant.databaseName());
            try (HikariDataSource dataSource = Pools.create("scratch-" + tenant.slug(), source, 2, 0, Duration.ofSeconds(10))) {
                try (Connection probe = dataSource.getConnection()) {
                    probe.isValid(1);
                } catch (SQLException e) {
                    if ("3D000".equals(e.getSQLState()) || String.valueOf(e.getMessage()).contains("does not exist")) {
                        throw new RestoreException("the database of tenant '" + tenant.slug() + "' did not exist at " + time);
                    }
                    throw e;
                }
                prepared.phase("migrating", "migrating the recovered schema forward");
                Flyway.configure().dataSource(dataSource).locations("classpath:db/tenant").failOnMissingLocations(true)
                        .load().migrate();
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("time", time.toString());
                result.put("base_backup", recovered.backup().id());
                result.put("recovered_lsn", recovered.recoveredLsn());
                result.put("last_transaction", recovered.lastTransaction() == null ? null : recovered.lastTransaction().toString());
                result.put("objects_read", recovered.objectsRead().size());
                result.put("bytes_read", recovered.bytesRead());
                try (Connection connection = dataSource.getConnection()) {
                    connection.setAutoCommit(false);
                    try (Statement statement = connection.createStatement()) {
                        statement.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
                    }
                    Snapshot.Manifest manifest = new Snapshot.Manifest(CatalogSnapshots.schemaVersion(connection),
                            Snapshot.tables(connection, table -> true));
                    try (Snapshot.Writer writer = new Snapshot.Writer(connection, manifest)) {
                        Snapshot.Reader reader = new Snapshot.Reader(writer, "the recovered copy of tenant " + tenant.slug());
                        result.putAll(apply(prepared, reader, "point in time " + time, progress));
                    } finally {
                        connection.rollback();
                    }
                }
                return result;
            }
        } finally {
            RestoreEngineCleanup.delete(scratch);
        }
    }

    private Map<String, Object> restoreFromBackup(Prepared prepared, String id, Consumer<String> progress)
            throws IOException, SQLException {
        try (TenantBackups.Opened opened = backups.open(prepared.tenant, id)) {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("backup", id);
            result.put("from_schema_version", opened.reader.manifest().schemaVersion());
            result.putAll(apply(prepared, opened.reader, "backup " + id, progress));
            return result;
        }
    }

    /** Into a new tenant ({@code as}) or in place. */
    private Map<String, Object> apply(Prepared prepared, Snapshot.Reader reader, String what, Consumer<String> progress)
            throws IOException, SQLException {
        Tenant tenant = prepared.tenant;
        Request request = prepared.request;
        Map<String, Object> result = new LinkedHashMap<>();
        if (request.as().isPresent()) {
            prepared.phase("copying", "creating tenant " + request.as().get() + " and copying the rows in");
            Tenant copy = tenants.create(request.as().get(), tenant.name() + " (" + what + ")",
                    Optional.of(placements.placementName(tenant.placementId())), Actor.SYSTEM);
            try {
                Map<String, Long> rows = backups.restoreInto(tenant, copy, reader, reader.manifest().schemaVersion());
                tenants.migrate(copy);
                result.put("tenant", copy.slug());
                result.put("rows", rows);
                record(prepared, "tenant:" + copy.slug(), Map.of("tenant_id", copy.id().toString(), "from_tenant",
                        tenant.slug(), "from", what));
                appendTenantAudit(copy, "tenant.restored-from", Map.of("from_tenant", tenant.slug(), "from", what));
                progress.accept("restored " + what + " of tenant " + tenant.slug() + " as new tenant " + copy.slug());
                return result;
            } catch (IOException | SQLException | RuntimeException e) {
                backups.removeQuietly(copy, Actor.SYSTEM);
                throw e;
            }
        }
        prepared.phase("saving", "taking a logical backup of tenant " + tenant.slug() + " as it is now (for --undo)");
        TenantBackups.BackupInfo before = backups.take(tenant);
        progress.accept("saved the tenant as it was in backup " + before.id() + " (restore-to --undo brings it back)");
        prepared.phase("swapping", "swapping the restored data in; the tenant's routes answer 503 meanwhile");
        Map<String, Long> rows;
        tenants.setRestoring(tenant, prepared.jobId());
        try {
            rows = swapIn(tenant, reader);
        } finally {
            tenants.setRestoring(tenant, null);
        }
        result.put("tenant", tenant.slug());
        result.put("rows", rows);
        result.put("undo_backup", before.id());
        record(prepared, "tenant:" + tenant.slug(), Map.of("tenant_id", tenant.id().toString(), "from", what,
                "undo_backup", before.id()));
        appendTenantAudit(tenant, "tenant.restored", Map.of("from", what, "undo_backup", before.id()));
        progress.accept("restored tenant " + tenant.slug() + " in place from " + what + " (" + rows.values().stream()
                .mapToLong(Long::longValue).sum() + " rows)");
        return result;
    }

    /**
     * One transaction in the tenant's database, as its own role: truncate every table but {@link #KEPT_IN_PLACE},
     * copy the restored rows in, set the sequences, check the row counts against the source's trailer. The schemas
     * must match (the point-in-time copy was migrated forward; an older logical backup is refused here, restore it
     * with {@code --as}).
     */
    private Map<String, Long> swapIn(Tenant tenant, Snapshot.Reader reader) throws IOException, SQLException {
        DatabaseUrl url = placements.tenantUrl(tenant);
        try (Connection connection = DriverManager.getConnection(url.jdbcUrl(), url.properties())) {
            connection.setAutoCommit(false);
            try {
                String live = CatalogSnapshots.schemaVersion(connection);
                if (!live.equals(reader.manifest().schemaVersion())) {
                    throw new Conflict("schema-mismatch", "the source is at tenant schema version "
                            + reader.manifest().schemaVersion() + " and tenant '" + tenant.slug() + "' at " + live
                            + "; restore it into a new tenant with --as, which migrates it forward");
                }
                Set<String> liveTables = Snapshot.tables(connection, table -> !KEPT_IN_PLACE.contains(table)).stream()
                        .map(Snapshot.Table::name).collect(Collectors.toCollection(java.util.TreeSet::new));
                Set<String> sourceTables = reader.manifest().tables().stream().map(Snapshot.Table::name)
                        .filter(table -> !KEPT_IN_PLACE.contains(table)).collect(Collectors.toCollection(java.util.TreeSet::new));
                if (!liveTables.equals(sourceTables)) {
                    throw new IOException("the source holds tables " + sourceTables + " and the tenant " + liveTables);
                }
                try (Statement statement = connection.createStatement()) {
                    // Requests that began before the routes closed finish first; a stuck one fails the restore, not them.
                    statement.execute("SET LOCAL lock_timeout = '30s'");
                    statement.execute("TRUNCATE " + liveTables.stream().map(Sql::identifier).collect(Collectors.joining(", ")));
                }
                Map<String, Long> rows = new LinkedHashMap<>();
                while (reader.next()) {
                    if (KEPT_IN_PLACE.contains(reader.table().name())) {
                        reader.skip();
                        continue;
                    }
                    rows.put(reader.table().name(), reader.copyInto(connection));
                    Snapshot.resetSequences(connection, reader.table());
                }
                Map<String, Long> expected = new LinkedHashMap<>(reader.trailer());
                expected.keySet().removeAll(KEPT_IN_PLACE);
                if (!expected.equals(rows)) {
                    throw new IOException("the source is incomplete: rows " + rows + " instead of " + expected);
                }
                connection.commit();
                return rows;
            } catch (IOException | SQLException | RuntimeException e) {
                connection.rollback();
                throw e;
            }
        }
    }

    /**
     * Makes sure the WAL past now is in the store before a recovery to a time up to now: a commit written now (its
     * record is the first after any T ≤ now, so recovery can stop at T) must reach the store, which the receiver does
     * within a second or two. Fails clearly if it does not within a minute (the receiver is down).
     */
    private void awaitWalPast(Tenant tenant) throws IOException, SQLException {
        DatabaseUrl url = placements.tenantUrl(tenant);
        long lsn;
        try (Connection connection = DriverManager.getConnection(url.jdbcUrl(), url.properties());
             Statement statement = connection.createStatement()) {
            statement.execute("SELECT txid_current()");
            try (ResultSet rs = statement.executeQuery("SELECT pg_current_wal_insert_lsn()::text")) {
                rs.next();
                lsn = Lsn.parse(rs.getString(1));
            }
        }
        long deadline = System.nanoTime() + WAL_WAIT.toNanos();
        while (true) {
            Optional<Long> end = WalSegments.read(backups.store()).end();
            if (end.isPresent() && Long.compareUnsigned(end.get(), lsn) >= 0) {
                return;
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new RestoreException("the WAL up to " + Lsn.format(lsn) + " has not reached the backup store within "
                        + WAL_WAIT.toSeconds() + " s (is WAL streaming running? see `silo backups status`)");
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RestoreException("interrupted while waiting for the WAL");
            }
        }
    }

    private void record(Prepared prepared, String target, Map<String, ?> detail) {
        Map<String, Object> all = new LinkedHashMap<>(detail);
        all.put("job", prepared.jobId().toString());
        all.putAll(prepared.request.view());
        Sql.inTransaction(catalog, connection -> {
            audit.append(connection, prepared.job.actor(), prepared.request.kind(), target, all);
            return null;
        });
    }

    private void appendTenantAudit(Tenant tenant, String type, Map<String, ?> detail) throws SQLException {
        DatabaseUrl url = placements.tenantUrl(tenant);
        try (Connection connection = DriverManager.getConnection(url.jdbcUrl(), url.properties())) {
            tenantAudit.append(connection, TenantAudit.Context.SYSTEM, type, null, detail);
        }
    }

    /** Removes a scratch copy left by a restore (best effort; a failed restore already removed its own). */
    private static final class RestoreEngineCleanup {
        static void delete(Path path) {
            if (!Files.exists(path)) {
                return;
            }
            try (var walk = Files.walk(path)) {
                for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            } catch (IOException | RuntimeException e) {
                log.warn("Cannot remove the scratch copy {}: {}", path, e.toString());
            }
        }
    }
}
