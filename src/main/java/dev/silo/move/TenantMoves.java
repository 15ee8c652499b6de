package dev.silo.move;

import dev.silo.audit.Actor;
import dev.silo.audit.PlatformAudit;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.db.CatalogEvents;
import dev.silo.platform.db.SessionLock;
import dev.silo.platform.db.Sql;
import dev.silo.platform.jobs.Jobs;
import dev.silo.platform.problem.Conflict;
import dev.silo.platform.problem.NotFound;
import dev.silo.tenant.Placements;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantService;
import dev.silo.tenant.TenantStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import static java.util.Objects.requireNonNull;

/**
 * Moves a tenant's database to another placement while it is served (issue 18.2): {@code silo tenants move SLUG --to
 * PLACEMENT} and {@code POST /admin/tenants/{slug}/move}; {@link #drain} moves every tenant off a placement.
 *
 * <p>The steps, each a phase of the move's {@link Jobs job}: the target gets the tenant's database and role (the
 * same names and password, the way provisioning makes them) and its schema migrated; a change log is installed on
 * the source and the rows are copied in one snapshot, then the changes made meanwhile, in rounds ({@link
 * DatabaseCopy}). The servers are not asked for logical replication: Silo's embedded PostgreSQL and most managed ones
 * run {@code wal_level=replica}, and a subscription needs rights the placement's admin account need not hold. Instead
 * a <b>write freeze</b> of at most a few seconds: the row counts of every table are compared first, while writes go
 * on; then the tenant's writes answer 503 {@code tenant-moving} with {@code Retry-After} on every node, the move locks
 * the source tables against writes (waiting for the writes in progress, so nothing acknowledged is missed), copies the
 * last changes, compares the rows they touched on both sides (what the freeze costs follows the changes, not the
 * tenant's size), and switches the catalog in one transaction, which every node hears of (LISTEN/NOTIFY) and so
 * retires its pool. Reads are served from the source until then and from the target after. The source copy's role then cannot log in and its sessions
 * are ended; the copy is kept for the tenants' retention window, then dropped by the lifecycle job.
 *
 * <p>A move that fails before the switch leaves the tenant on the source and removes the target copy and the change
 * log; one whose process died is found by {@link #maintain} (or by the next move of the tenant) and cleaned up the
 * same way, so it can simply be started again. The freeze holds only while the job beats. A drain holds an advisory
 * lock on its placement for as long as it runs ({@link #prepareDrain}).
 */
public final class TenantMoves {
    public static final String KIND = "tenant.move";
    public static final String DRAIN_KIND = "placement.drain";
    /** The first key of the two-key advisory lock a drain holds in the catalog; the second is its placement's. */
    public static final int DRAIN_LOCK_SPACE = 7215040;
    /** The drain lock's session in {@code pg_stat_activity}. */
    public static final String DRAIN_APPLICATION = "silo-placement-drain";
    private static final Logger log = LoggerFactory.getLogger(TenantMoves.class);
    /** Catch-up rounds before freezing stop when a round carries fewer keys than this (or after MAX_ROUNDS). */
    private static final int SMALL_ROUND = 200;
    private static final int MAX_ROUNDS = 20;
    private static final int FREEZE_ATTEMPTS = 3;
    /** How long the freeze waits for the writes in progress before it gives up and tries again after another round. */
    private static final Duration LOCK_WAIT = Duration.ofSeconds(3);
    /**
     * How long the freeze waits before it locks: a write that passed a node's check just before the freeze reaches
     * the database meanwhile, so the lock waits for it instead of blocking it (a blocked one is ended at the switch).
     */
    private static final Duration FREEZE_GRACE = Duration.ofMillis(200);
    /** How long reads still running on the source may finish after the switch before their sessions are ended. */
    private static final Duration READS_DRAIN = Duration.ofSeconds(2);

    private final DataSource catalog;
    private final DatabaseUrl catalogUrl;
    private final TenantService tenants;
    private final Placements placements;
    private final Jobs jobs;
    private final CatalogEvents events;
    private final PlatformAudit audit;
    private final Clock clock;

    public TenantMoves(DataSource catalog, DatabaseUrl catalogUrl, TenantService tenants, Placements placements, Jobs jobs,
                       CatalogEvents events, PlatformAudit audit, Clock clock) {
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.catalogUrl = requireNonNull(catalogUrl, "catalogUrl is null");
        this.tenants = requireNonNull(tenants, "tenants is null");
        this.placements = requireNonNull(placements, "placements is null");
        this.jobs = requireNonNull(jobs, "jobs is null");
        this.events = requireNonNull(events, "events is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /** A checked, recorded move, ready to {@link #run}. */
    public static final class Prepared {
        private final Tenant tenant;
        private final Placements.Placement source;
        private final Placements.Placement target;
        private final Jobs.Job job;

        private Prepared(Tenant tenant, Placements.Placement source, Placements.Placement target, Jobs.Job job) {
            this.tenant = tenant;
            this.source = source;
            this.target = target;
            this.job = job;
        }

        public UUID jobId() {
            return job.id();
        }

        public Tenant tenant() {
            return tenant;
        }

        public String target() {
            return target.name();
        }
    }

    /**
     * Checks the move (each refusal a problem: an unknown tenant or placement, a tenant not active or suspended, an
     * attached one, the placement it is on, a drained one, a move or restore already running) and records its job.
     */
    public Prepared prepare(String slug, String to, Actor actor) {
        Tenant tenant = tenants.get(slug);
        Placements.Placement target = placements.find(to);
        if (tenant.status() != TenantStatus.ACTIVE && tenant.status() != TenantStatus.SUSPENDED) {
            throw new Conflict("invalid-state", "tenant '" + slug + "' is " + tenant.status().wire()
                    + "; only an active or suspended tenant can be moved");
        }
        if (tenant.attached()) {
            throw new Conflict("tenant-attached", "tenant '" + slug + "' is an attached database, which Silo does not own "
                    + "and cannot move");
        }
        if (tenant.placementId().equals(target.id())) {
            throw new Conflict("already-on-placement", "tenant '" + slug + "' is already on placement '" + to + "'");
        }
        if (!target.accepting()) {
            throw new Conflict("placement-draining", "placement '" + to + "' is drained and takes no tenants");
        }
        if (jobs.running(tenant.id(), "tenant.restore").isPresent()) {
            throw new Conflict("restore-running", "tenant '" + slug + "' is being restored; move it when the restore ends");
        }
        cleanUpInterrupted(tenant.id());
        Placements.Placement source = placements.list().stream().filter(p -> p.id().equals(tenant.placementId()))
                .findFirst().orElseThrow();
        Jobs.Job job = jobs.start(KIND, tenant.id(), Map.of("to", to, "from", source.name()), actor, KIND)
                .orElseThrow(() -> new Conflict("move-running", "a move of tenant '" + slug + "' is already running"
                        + jobs.running(tenant.id(), KIND).map(id -> " (job " + id + ")").orElse("")));
        try {
            Sql.inTransaction(catalog, connection -> {
                try (PreparedStatement insert = connection.prepareStatement("""
                        INSERT INTO tenant_moves (job_id, tenant_id, source_placement_id, target_placement_id, state)
                        VALUES (?, ?, ?, ?, 'copying')
                        """)) {
                    insert.setObject(1, job.id());
                    insert.setObject(2, tenant.id());
                    insert.setObject(3, source.id());
                    insert.setObject(4, target.id());
                    insert.executeUpdate();
                }
                audit.append(connection, actor, "tenant.move.start", "tenant:" + slug, Map.of("tenant_id",
                        tenant.id().toString(), "from", source.name(), "to", to, "job", job.id().toString()));
                return null;
            });
        } catch (RuntimeException e) {
            job.fail(e.getMessage());
            job.close();
            throw e;
        }
        return new Prepared(tenant, source, target, job);
    }

    /** Fails a prepared move that will not run. */
    public void abandon(Prepared prepared, String why) {
        setState(prepared.jobId(), "failed");
        prepared.job.fail(why);
        prepared.job.close();
    }

    /**
     * Runs a prepared move on the calling thread, reporting each step to {@code progress} and to the job, and
     * finishing the job with the outcome: {@code from}, {@code to}, {@code rows}, {@code rounds},
     * {@code move_ms} and {@code write_pause_ms} (how long writes were refused).
     */
    public Map<String, Object> run(Prepared prepared, Consumer<String> progress) {
        Consumer<String> report = line -> {
            progress.accept(line);
        };
        long started = System.nanoTime();
        Tenant tenant = prepared.tenant;
        UUID sourceId = prepared.source.id();
        UUID targetId = prepared.target.id();
        boolean switched = false;
        try {
            phase(prepared, "preparing-target", "creating the database of " + tenant.slug() + " on " + prepared.target.name(), report);
            retireOlderCopy(tenant, targetId);
            tenants.dropCopy(tenant, targetId); // what an interrupted move left: nothing there is served
            tenants.buildCopy(tenant, targetId);
            DatabaseUrl sourceUrl = placements.tenantUrl(tenant);
            DatabaseUrl targetUrl = placements.tenantUrl(tenant.onPlacement(targetId));
            Map<String, Object> result = new LinkedHashMap<>();
            try (Connection source = connect(sourceUrl); Connection rounds = connect(sourceUrl); Connection target = connect(targetUrl)) {
                List<DatabaseCopy.Table> tables = DatabaseCopy.tables(source);
                phase(prepared, "copying", "copying " + tables.size() + " tables in one snapshot", report);
                DatabaseCopy.installChangeLog(source, tables);
                Map<String, Long> rows = DatabaseCopy.copySnapshot(source, target, tables);
                phase(prepared, "catching-up", "copied " + rows.values().stream().mapToLong(Long::longValue).sum()
                        + " rows; copying the changes made meanwhile", report);
                int roundCount = 0;
                for (int carried = Integer.MAX_VALUE; carried >= SMALL_ROUND && roundCount < MAX_ROUNDS; roundCount++) {
                    carried = DatabaseCopy.applyChanges(rounds, target, tables);
                }
                long pause = -1;
                Freeze freeze = null;
                for (int attempt = 1; attempt <= FREEZE_ATTEMPTS && pause < 0; attempt++) {
                    // The whole tenant is counted here, while writes go on; the freeze checks only what changed since.
                    Map<String, Long> counted = DatabaseCopy.applyChanges(rounds, target, tables, DatabaseCopy.Check.COUNT_ROWS).rows();
                    roundCount++;
                    Optional<Freeze> frozen = freezeAndSwitch(prepared, tables, counted, source, rounds, target, report);
                    if (frozen.isPresent()) {
                        freeze = frozen.get();
                        pause = freeze.pauseNanos();
                    }
                }
                if (pause < 0) {
                    throw new Conflict("move-busy", "the writes to tenant '" + tenant.slug() + "' did not pause for "
                            + LOCK_WAIT.toSeconds() + " s in " + FREEZE_ATTEMPTS + " attempts; the tenant stays on "
                            + prepared.source.name() + ", try again later");
                }
                switched = true;
                result.put("tenant", tenant.slug());
                result.put("from", prepared.source.name());
                result.put("to", prepared.target.name());
                result.put("rows", rows);
                result.put("rounds", roundCount);
                result.put("write_pause_ms", pause / 1_000_000);
                result.put("rows_checked_in_freeze", freeze.rowsChecked());
            }
            result.put("move_ms", (System.nanoTime() - started) / 1_000_000);
            report.accept("moved tenant " + tenant.slug() + " from " + prepared.source.name() + " to " + prepared.target.name()
                    + " in " + result.get("move_ms") + " ms (writes paused " + result.get("write_pause_ms") + " ms); the "
                    + "source copy is kept until the retention window ends");
            prepared.job.succeed(result);
            return result;
        } catch (RuntimeException | SQLException e) {
            String message = e.getMessage() == null ? e.toString() : e.getMessage();
            if (switched) {
                // The switch committed: the tenant is on the target; what is left (retiring the source) maintain() redoes.
                log.warn("Move job {} of tenant {} switched but did not finish: {}", prepared.jobId(), tenant, message);
                prepared.job.succeed(Map.of("tenant", tenant.slug(), "to", prepared.target.name(), "warning", message));
                return Map.of("tenant", tenant.slug(), "to", prepared.target.name());
            }
            log.warn("Move job {} of tenant {} failed: {}", prepared.jobId(), tenant, message);
            undo(tenant, prepared.jobId(), sourceId, targetId);
            Sql.inTransaction(catalog, connection -> {
                audit.append(connection, prepared.job.actor(), "tenant.move.fail", "tenant:" + tenant.slug(), Map.of(
                        "tenant_id", tenant.id().toString(), "to", prepared.target.name(), "job", prepared.jobId().toString(),
                        "error", message));
                return null;
            });
            prepared.job.fail(message);
            if (e instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IllegalStateException("move of tenant '" + tenant.slug() + "' failed: " + message, e);
        } finally {
            prepared.job.close();
        }
    }

    /** A freeze that switched: how long writes were refused, and how many changed rows it compared on both sides. */
    private record Freeze(long pauseNanos, int rowsChecked) {}

    /**
     * The freeze: writes refused on every node, the source tables locked against the writes still in progress,
     * the last changes copied, the rows they touched compared, the catalog switched, the source retired. The caller
     * compared the row counts of every table just before, in a round's snapshot; every change since is logged and
     * carried by the rounds under the lock, so comparing those rows, row by row, completes the check at the cost of
     * the changes, whatever the tenant's size. Empty when the writes in progress did not end within
     * {@link #LOCK_WAIT} (the freeze is lifted, the caller counts again and tries again).
     */
    private Optional<Freeze> freezeAndSwitch(Prepared prepared, List<DatabaseCopy.Table> tables, Map<String, Long> counted,
                                             Connection source, Connection rounds, Connection target,
                                             Consumer<String> report) throws SQLException {
        Tenant tenant = prepared.tenant;
        phase(prepared, "freezing", "refusing writes to " + tenant.slug() + " while the last changes are copied", report);
        setFrozen(prepared, true);
        long frozenAt = System.nanoTime();
        boolean switched = false;
        try (Connection lock = connect(placements.tenantUrl(tenant))) {
            lock.setAutoCommit(false);
            pause(FREEZE_GRACE);
            try (Statement statement = lock.createStatement()) {
                statement.execute("SET LOCAL lock_timeout = '" + LOCK_WAIT.toMillis() + "ms'");
                // EXCLUSIVE: plain reads (ACCESS SHARE) go on; every write waits, and those in progress finish first.
                statement.execute("LOCK TABLE " + tables.stream().map(DatabaseCopy.Table::quoted).collect(Collectors.joining(", "))
                        + " IN EXCLUSIVE MODE");
            } catch (SQLException e) {
                if ("55P03".equals(e.getSQLState())) {
                    lock.rollback();
                    setFrozen(prepared, false);
                    report.accept("writes in progress did not end within " + LOCK_WAIT.toSeconds() + " s; trying again");
                    return Optional.empty();
                }
                throw e;
            }
            DatabaseCopy.forgetKeptKeys(rounds);
            while (DatabaseCopy.applyChanges(rounds, target, tables, DatabaseCopy.Check.KEEP_KEYS).keys() > 0) {
                // nothing can be logged now: this ends after one or two rounds
            }
            int checked = DatabaseCopy.verifyChanged(rounds, target, tables);
            Instant now = clock.instant();
            Instant dropAfter = now.plus(tenants.settings().retention());
            tenants.switchPlacement(tenant, prepared.source.id(), prepared.target.id(), prepared.job.actor(),
                    Map.of("job", prepared.jobId().toString(), "rows", counted, "rows_checked_in_freeze", checked), connection -> {
                        try (PreparedStatement update = connection.prepareStatement("""
                                UPDATE tenant_moves SET state = 'switched', switched_at = ?, drop_source_after = ? WHERE job_id = ?
                                """)) {
                            update.setTimestamp(1, Timestamp.from(now));
                            update.setTimestamp(2, Timestamp.from(dropAfter));
                            update.setObject(3, prepared.jobId());
                            update.executeUpdate();
                        }
                        return null;
                    });
            switched = true;
            long pause = System.nanoTime() - frozenAt;
            try {
                phase(prepared, "retiring-source", "switched to " + prepared.target.name() + "; retiring the source copy", report);
                awaitReads(tenant, prepared.source.id());
                // Still under the lock: a write that slipped past a node's stale cache is blocked, and now ended.
                tenants.retireCopy(tenant, prepared.source.id(), List.of(pid(lock), pid(source), pid(rounds)));
                lock.rollback();
                markRetired(prepared.jobId());
            } catch (SQLException | RuntimeException e) {
                // The tenant is served from the target already; maintain() retires the source on its next round.
                log.warn("Tenant {} moved, but its source copy is not retired yet: {}", tenant, e.toString());
            }
            return Optional.of(new Freeze(pause, checked));
        } finally {
            if (!switched) {
                setFrozenQuietly(prepared);
            }
        }
    }

    /** Reads still running on the source when the catalog switched may end (up to {@link #READS_DRAIN}). */
    private void awaitReads(Tenant tenant, UUID placementId) {
        DatabaseUrl admin = placements.adminUrl(placementId, null);
        long deadline = System.nanoTime() + READS_DRAIN.toNanos();
        try (Connection connection = connect(admin);
             PreparedStatement select = connection.prepareStatement("""
                     SELECT count(*) FROM pg_stat_activity WHERE usename = ? AND state = 'active'
                       AND wait_event_type IS DISTINCT FROM 'Lock' AND pid <> pg_backend_pid()
                       AND query NOT LIKE 'LOCK TABLE%'
                     """)) {
            select.setString(1, tenant.roleName());
            while (System.nanoTime() < deadline) {
                try (ResultSet rs = select.executeQuery()) {
                    rs.next();
                    if (rs.getLong(1) == 0) {
                        return;
                    }
                }
                Thread.sleep(10);
            }
        } catch (SQLException e) {
            log.debug("Cannot watch the reads on the source of {}: {}", tenant, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- draining

    /** A checked drain holding its placement's drain lock, ready to {@link #runDrain} (or {@link #abandonDrain}). */
    public record PreparedDrain(Placements.Placement placement, Jobs.Job job, SessionLock lock) {
        public PreparedDrain {
            requireNonNull(placement, "placement is null");
            requireNonNull(job, "job is null");
            requireNonNull(lock, "lock is null");
        }

        public UUID jobId() {
            return job.id();
        }
    }

    /**
     * Takes the placement's drain lock, closes the placement to new tenants and moves (audited) and records the
     * drain's job. One drain per placement at a time, across nodes and commands: the lock is a session advisory lock
     * in the catalog, held on a connection of its own until the drain ends, and gone with that session when its
     * process dies (nothing to clean up). A second drain meanwhile is a 409 {@code drain-running} problem.
     */
    public PreparedDrain prepareDrain(String name, Actor actor) {
        Placements.Placement found = placements.find(name);
        SessionLock lock = SessionLock.tryAcquire(catalogUrl, DRAIN_APPLICATION, DRAIN_LOCK_SPACE, found.id().hashCode())
                .orElseThrow(() -> new Conflict("drain-running", "placement '" + found.name() + "' is already being drained"
                        + runningDrain(found.name()).map(id -> " (job " + id + ")").orElse("") + "; wait for that drain to end"));
        try {
            Placements.Placement placement = placements.setAccepting(found.name(), false, actor);
            Jobs.Job job = jobs.start(DRAIN_KIND, null, Map.of("placement", placement.name()), actor, null).orElseThrow();
            return new PreparedDrain(placement, job, lock);
        } catch (RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /** Fails a prepared drain that will not run, and lets go of its lock. */
    public void abandonDrain(PreparedDrain drain, String why) {
        try {
            drain.job().fail(why);
            drain.job().close();
        } finally {
            drain.lock().close();
        }
    }

    /** The newest running drain job of the placement, to name in a refusal. */
    private Optional<UUID> runningDrain(String placement) {
        return Sql.withConnection(catalog, connection -> {
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT id FROM jobs WHERE kind = ? AND state = 'running' AND request ->> 'placement' = ?
                    ORDER BY created_at DESC LIMIT 1
                    """)) {
                select.setString(1, DRAIN_KIND);
                select.setString(2, placement);
                try (ResultSet rs = select.executeQuery()) {
                    return rs.next() ? Optional.of(rs.getObject(1, UUID.class)) : Optional.empty();
                }
            }
        });
    }

    /**
     * Moves every active or suspended tenant off the placement, one after another, each to the accepting placement
     * with the fewest tenants. Deprovisioned tenants stay until their purge (their role cannot log in to be copied).
     */
    public Map<String, Object> runDrain(PreparedDrain drain, Consumer<String> progress) {
        List<String> moved = new ArrayList<>();
        Map<String, String> failed = new LinkedHashMap<>();
        List<String> left = new ArrayList<>();
        try {
            for (Tenant tenant : tenants.list(false)) {
                if (!tenant.placementId().equals(drain.placement().id())) {
                    continue;
                }
                if (tenant.attached() || (tenant.status() != TenantStatus.ACTIVE && tenant.status() != TenantStatus.SUSPENDED)) {
                    left.add(tenant.slug());
                    continue;
                }
                try {
                    Placements.Placement target = placements.choose(Optional.empty(), Optional.of(drain.placement().id()));
                    drain.job().progress("moving", "moving " + tenant.slug() + " to " + target.name());
                    Prepared prepared = prepare(tenant.slug(), target.name(), drain.job().actor());
                    run(prepared, progress);
                    moved.add(tenant.slug());
                } catch (RuntimeException e) {
                    failed.put(tenant.slug(), e.getMessage() == null ? e.toString() : e.getMessage());
                    progress.accept("could not move " + tenant.slug() + ": " + failed.get(tenant.slug()));
                }
            }
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("placement", drain.placement().name());
            result.put("moved", moved);
            result.put("failed", failed);
            result.put("left", left);
            if (failed.isEmpty()) {
                drain.job().succeed(result);
            } else {
                drain.job().fail(failed.size() + " tenant(s) could not be moved: " + failed);
            }
            return result;
        } catch (RuntimeException e) {
            drain.job().fail(e.getMessage() == null ? e.toString() : e.getMessage());
            throw e;
        } finally {
            try {
                drain.job().close();
            } finally {
                drain.lock().close();
            }
        }
    }

    // ---- status

    /** The tenant's latest move with its job, for {@code GET /admin/tenants/{slug}/move}. */
    public Map<String, Object> status(String slug) {
        Tenant tenant = tenants.get(slug);
        return Sql.withConnection(catalog, connection -> {
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT m.job_id, m.state, s.name AS source, t.name AS target, m.started_at, m.frozen_at, m.switched_at,
                           m.drop_source_after, m.finished_at
                    FROM tenant_moves m JOIN placements s ON s.id = m.source_placement_id
                      JOIN placements t ON t.id = m.target_placement_id
                    WHERE m.tenant_id = ? ORDER BY m.started_at DESC LIMIT 1
                    """)) {
                select.setObject(1, tenant.id());
                try (ResultSet rs = select.executeQuery()) {
                    if (!rs.next()) {
                        throw new NotFound("move-not-found", "tenant '" + slug + "' has never been moved");
                    }
                    UUID job = rs.getObject("job_id", UUID.class);
                    Map<String, Object> body = new LinkedHashMap<>();
                    body.put("tenant", slug);
                    body.put("from", rs.getString("source"));
                    body.put("to", rs.getString("target"));
                    body.put("move_state", rs.getString("state"));
                    body.put("started_at", instant(rs, "started_at"));
                    body.put("switched_at", instant(rs, "switched_at"));
                    body.put("drop_source_after", instant(rs, "drop_source_after"));
                    body.put("job", jobs.find(job).map(Jobs.View::body).orElse(null));
                    return body;
                }
            }
        });
    }

    // ---- upkeep

    /**
     * The lifecycle job's part (one node at a time): moves whose process died are cleaned up (the tenant stayed on
     * the source); a switched move whose source was not retired is retired; source copies past their retention
     * window are dropped. Returns how many rows it acted on.
     */
    public int maintain(Actor actor) {
        int done = cleanUpInterrupted(null);
        for (MoveRow row : rows("m.state = 'switched'")) {
            try {
                Optional<Tenant> tenant = tenantById(row.tenantId());
                if (tenant.isEmpty()) {
                    continue;
                }
                boolean purged = tenant.get().status() == TenantStatus.PURGED;
                if (!purged && row.dropAfter().isAfter(clock.instant()) && row.retired()) {
                    continue;
                }
                // A purged tenant's source copy goes at once: the purge destroyed its keys, the data goes with them.
                if (purged || !row.dropAfter().isAfter(clock.instant())) {
                    tenants.dropCopy(tenant.get(), row.source());
                    setState(row.job(), "dropped");
                    Sql.inTransaction(catalog, connection -> {
                        audit.append(connection, actor, "tenant.move.drop-source", "tenant:" + tenant.get().slug(), Map.of(
                                "tenant_id", row.tenantId().toString(), "placement", placements.placementName(row.source()),
                                "job", row.job().toString()));
                        return null;
                    });
                    log.info("Dropped the source copy of moved tenant {} on {}", tenant.get(), placements.placementName(row.source()));
                } else {
                    tenants.retireCopy(tenant.get(), row.source(), List.of());
                    markRetired(row.job());
                }
                done++;
            } catch (RuntimeException e) {
                log.warn("Cannot finish the move {} of tenant {}: {}", row.job(), row.tenantId(), e.toString());
            }
        }
        return done;
    }

    /** Cleans up the moves (of one tenant, or all) that stopped before the switch without cleaning up after themselves. */
    private int cleanUpInterrupted(UUID tenantId) {
        int cleaned = 0;
        for (MoveRow row : rows("m.state IN ('copying', 'frozen') AND NOT (j.state = 'running' AND j.heartbeat_at > now() - ?::interval)"
                + (tenantId == null ? "" : " AND m.tenant_id = ?::uuid"), tenantId == null ? new Object[] {Jobs.STALE.toSeconds() + " seconds"}
                : new Object[] {Jobs.STALE.toSeconds() + " seconds", tenantId})) {
            Optional<Tenant> tenant = tenantById(row.tenantId());
            if (tenant.isPresent()) {
                undo(tenant.get(), row.job(), row.source(), row.target());
            } else {
                setState(row.job(), "failed");
            }
            log.info("Cleaned up the interrupted move {} of tenant {}", row.job(), row.tenantId());
            cleaned++;
        }
        return cleaned;
    }

    /** After a failure before the switch: the change log off the source, the target copy dropped, the move failed. */
    private void undo(Tenant tenant, UUID job, UUID source, UUID target) {
        setFrozenQuietly(job);
        if (tenant.placementId().equals(source) && tenant.credentialsWrapped() != null) {
            try (Connection connection = connect(placements.tenantUrl(tenant))) {
                DatabaseCopy.removeChangeLog(connection);
            } catch (SQLException | RuntimeException e) {
                log.warn("Cannot remove the change log of tenant {} on its source: {}", tenant, e.toString());
            }
        }
        if (!tenant.placementId().equals(target)) {
            try {
                tenants.dropCopy(tenant, target);
            } catch (RuntimeException e) {
                log.warn("Cannot drop the unfinished copy of tenant {} on {}: {}", tenant, placements.placementName(target), e.toString());
            }
        }
        setState(job, "failed");
    }

    /** A move back onto a placement that still keeps an older source copy of the tenant: that copy is replaced. */
    private void retireOlderCopy(Tenant tenant, UUID placementId) {
        Sql.withConnection(catalog, connection -> {
            try (PreparedStatement update = connection.prepareStatement("""
                    UPDATE tenant_moves SET state = 'dropped', finished_at = now()
                    WHERE tenant_id = ? AND source_placement_id = ? AND state = 'switched'
                    """)) {
                update.setObject(1, tenant.id());
                update.setObject(2, placementId);
                update.executeUpdate();
            }
            return null;
        });
    }

    private record MoveRow(UUID job, UUID tenantId, UUID source, UUID target, Instant dropAfter, boolean retired) {}

    private List<MoveRow> rows(String where, Object... parameters) {
        return Sql.withConnection(catalog, connection -> {
            List<MoveRow> rows = new ArrayList<>();
            try (PreparedStatement select = connection.prepareStatement("SELECT m.job_id, m.tenant_id, m.source_placement_id, "
                    + "m.target_placement_id, m.drop_source_after, m.source_retired FROM tenant_moves m JOIN jobs j ON j.id = m.job_id WHERE " + where)) {
                for (int i = 0; i < parameters.length; i++) {
                    select.setObject(i + 1, parameters[i]);
                }
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        rows.add(new MoveRow(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class), rs.getObject(3, UUID.class),
                                rs.getObject(4, UUID.class), instant(rs, "drop_source_after"), rs.getBoolean("source_retired")));
                    }
                }
            }
            return rows;
        });
    }

    private Optional<Tenant> tenantById(UUID id) {
        return tenants.list(true).stream().filter(t -> t.id().equals(id)).findFirst();
    }

    // ---- the move's catalog row

    private void setFrozen(Prepared prepared, boolean frozen) {
        Sql.inTransaction(catalog, connection -> {
            try (PreparedStatement update = connection.prepareStatement(frozen
                    ? "UPDATE tenant_moves SET state = 'frozen', frozen_at = now() WHERE job_id = ? AND state = 'copying'"
                    : "UPDATE tenant_moves SET state = 'copying' WHERE job_id = ? AND state = 'frozen'")) {
                update.setObject(1, prepared.jobId());
                update.executeUpdate();
            }
            // A settings event: every node drops its cached entry (and sees the freeze), no pool is closed.
            CatalogEvents.publish(connection, TenantService.settingsEvent(prepared.tenant));
            return null;
        });
        events.local(TenantService.settingsEvent(prepared.tenant));
    }

    private void setFrozenQuietly(Prepared prepared) {
        try {
            setFrozen(prepared, false);
        } catch (RuntimeException e) {
            log.warn("Cannot lift the write freeze of tenant {} (it lifts by itself when the move's job stops beating): {}",
                    prepared.tenant, e.toString());
        }
    }

    private void setFrozenQuietly(UUID job) {
        try {
            setState(job, "copying");
        } catch (RuntimeException e) {
            log.warn("Cannot lift the write freeze of move {}: {}", job, e.toString());
        }
    }

    private void setState(UUID job, String state) {
        Sql.withConnection(catalog, connection -> {
            try (PreparedStatement update = connection.prepareStatement("UPDATE tenant_moves SET state = ?, "
                    + "finished_at = CASE WHEN ? IN ('failed', 'dropped') THEN now() END WHERE job_id = ?")) {
                update.setString(1, state);
                update.setString(2, state);
                update.setObject(3, job);
                update.executeUpdate();
            }
            return null;
        });
    }

    private void markRetired(UUID job) {
        Sql.withConnection(catalog, connection -> {
            try (PreparedStatement update = connection.prepareStatement(
                    "UPDATE tenant_moves SET source_retired = true WHERE job_id = ?")) {
                update.setObject(1, job);
                update.executeUpdate();
            }
            return null;
        });
    }

    private void phase(Prepared prepared, String phase, String line, Consumer<String> report) {
        report.accept(line);
        try {
            prepared.job.progress(phase, line);
        } catch (RuntimeException e) {
            log.warn("Cannot record the progress of job {}: {}", prepared.jobId(), e.getMessage());
        }
    }

    private static void pause(Duration duration) {
        try {
            Thread.sleep(duration);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while freezing the tenant's writes");
        }
    }

    private static Connection connect(DatabaseUrl url) throws SQLException {
        return DriverManager.getConnection(url.jdbcUrl(), url.properties());
    }

    private static int pid(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement(); ResultSet rs = statement.executeQuery("SELECT pg_backend_pid()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        Timestamp timestamp = rs.getTimestamp(column);
        return timestamp == null ? null : timestamp.toInstant();
    }
}
