package dev.silo.backup.drill;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.silo.audit.Actor;
import dev.silo.audit.PlatformAudit;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.db.SessionLock;
import dev.silo.platform.db.Sql;
import dev.silo.platform.http.Json;
import dev.silo.platform.problem.Conflict;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

import static java.util.Objects.requireNonNull;

/**
 * Runs restore drills ({@link RestoreDrill}) one at a time across every node and command — the advisory lock
 * {@link #LOCK_KEY} on the live catalog, held by the drill's own connection for its whole run — on a platform thread,
 * never on a request's thread, and records each outcome in the platform audit as {@value #ACTION} (the detail is
 * {@link DrillResult#view}). The platform audit is where the last result lives: every node and {@code silo backups
 * status} read it from there, so it survives restarts and needs no table of its own.
 */
public final class RestoreDrills implements AutoCloseable {
    public static final long LOCK_KEY = 7215020;
    public static final String ACTION = "backup.drill";
    private static final Logger log = LoggerFactory.getLogger(RestoreDrills.class);
    private static final DateTimeFormatter ID_FORMAT = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
    /** How long {@link #last} trusts what it read from the audit: readiness asks often, drills are rare. */
    private static final Duration LAST_CACHE = Duration.ofSeconds(30);

    private final Supplier<DatabaseUrl> superuserCatalogUrl;
    private final DataSource catalog;
    private final PlatformAudit audit;
    private final RestoreDrill drill;
    private final Clock clock;
    private final ExecutorService worker = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().daemon().name("silo-restore-drill").factory());
    private volatile ScheduledExecutorService scheduler;
    private volatile Running running;
    private volatile Cached cached;
    private volatile boolean closing;

    /** A drill in progress on this node. */
    public record Running(String id, Instant startedAt) {}

    /** A drill that has its lock and id and runs on the drill thread. */
    public record Started(String id, CompletableFuture<DrillResult> result) {}

    private record Cached(Optional<Map<String, Object>> last, long readAtNanos) {}

    /**
     * @param superuserCatalogUrl a superuser location on the live catalog database (the lock's connection)
     * @param catalog             the catalog, for the audit
     */
    public RestoreDrills(Supplier<DatabaseUrl> superuserCatalogUrl, DataSource catalog, PlatformAudit audit, RestoreDrill drill,
                         Clock clock) {
        this.superuserCatalogUrl = requireNonNull(superuserCatalogUrl, "superuserCatalogUrl is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.drill = requireNonNull(drill, "drill is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /**
     * Starts a drill on the drill thread and returns at once with its id.
     *
     * @throws Conflict {@code drill-running} when a drill runs (on this node, another node or a command)
     */
    public Started start(Actor actor, Consumer<String> progress) {
        Locked locked = lock();
        CompletableFuture<DrillResult> result = new CompletableFuture<>();
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

    /** Runs a drill on the calling thread, which must be a platform thread (the command line, the scheduler). */
    public DrillResult runNow(Actor actor, Consumer<String> progress) {
        return run(lock(), actor, progress);
    }

    private record Locked(SessionLock lock, String id) implements AutoCloseable {
        @Override
        public void close() {
            lock.close(); // ends the session, and with it the advisory lock
        }
    }

    private Locked lock() {
        SessionLock lock = SessionLock.tryAcquire(superuserCatalogUrl.get(), "silo-restore-drill", LOCK_KEY)
                .orElseThrow(() -> new Conflict("drill-running", "a restore drill is already running; wait for it to finish "
                        + "(silo backups status shows the last one)"));
        return new Locked(lock, ID_FORMAT.format(clock.instant()));
    }

    private DrillResult run(Locked locked, Actor actor, Consumer<String> progress) {
        try (locked) {
            running = new Running(locked.id(), clock.instant());
            log.info("Restore drill {} started", locked.id());
            DrillResult result = drill.run(locked.id(), progress);
            if (closing || Thread.currentThread().isInterrupted()) {
                // Stopped by the node's stop (the live server going away fails its comparisons): not a verdict on
                // the backups, so it is not recorded as one.
                log.warn("Restore drill {} was interrupted by the stop and is not recorded", result.id());
                return result;
            }
            if (result.passed()) {
                log.info("Restore drill {} passed: backup {}, {} pages read in {} database(s)", result.id(), result.backupId(),
                        result.pagesRead(), result.databases().size());
            } else {
                log.error("Restore drill {} failed: {}", result.id(), result.reason());
            }
            try {
                Sql.inTransaction(catalog, connection -> {
                    audit.append(connection, actor, ACTION, result.backupId() == null ? result.id() : result.backupId(),
                            result.view());
                    return null;
                });
            } catch (RuntimeException e) {
                log.warn("Cannot audit restore drill {}: {}", result.id(), e.toString());
            }
            cached = null;
            return result;
        } finally {
            running = null;
        }
    }

    /** The drill running on this node, if any. */
    public Optional<Running> running() {
        return Optional.ofNullable(running);
    }

    /**
     * The last drill's audit detail ({@link DrillResult#view}) with {@code at} and {@code actor}, from the platform
     * audit (cached for {@link #LAST_CACHE}); empty when no drill ever ran.
     */
    public Optional<Map<String, Object>> last() {
        Cached current = cached;
        if (current == null || System.nanoTime() - current.readAtNanos() > LAST_CACHE.toNanos()) {
            current = new Cached(Sql.withConnection(catalog, RestoreDrills::readLast), System.nanoTime());
            cached = current;
        }
        return current.last();
    }

    /** The last drill as the platform audit holds it, on {@code connection} to the catalog. */
    public static Optional<Map<String, Object>> readLast(Connection connection) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("""
                SELECT at, actor, detail FROM platform_audit WHERE action = ? ORDER BY seq DESC LIMIT 1
                """)) {
            select.setString(1, ACTION);
            try (ResultSet rs = select.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                Map<String, Object> view = new LinkedHashMap<>();
                view.put("at", rs.getTimestamp(1).toInstant().toString());
                view.put("actor", rs.getString(2));
                try {
                    view.putAll(Json.MAPPER.readValue(rs.getString(3), new TypeReference<Map<String, Object>>() {}));
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    view.put("outcome", "unknown");
                }
                return Optional.of(view);
            }
        }
    }

    /** The {@code drill} part of {@code GET /admin/backups}: the one running here, and the last one recorded. */
    public Map<String, Object> status() {
        Map<String, Object> view = new LinkedHashMap<>();
        Running now = running;
        view.put("running", now == null ? null : Map.of("id", now.id(), "started_at", now.startedAt().toString()));
        view.put("last", last().orElse(null));
        return view;
    }

    /** A {@code BackupHealth} check: degraded while the last drill recorded failed. */
    public Optional<String> lastDrillFailed() {
        return last().filter(view -> "failed".equals(view.get("outcome")))
                .map(view -> "the last restore drill (" + view.get("id") + ", " + view.get("at") + ") failed: " + view.get("reason"));
    }

    /**
     * Runs a drill every {@code interval}: when the last recorded drill (or, before the first, the oldest complete base
     * backup) is older than that. Checked hourly on the scheduler's platform thread; nothing runs while the store holds
     * no base backup.
     *
     * @param oldestBackup when the oldest complete base backup in the store ended; empty when there is none
     */
    public void schedule(Duration interval, Supplier<Optional<Instant>> oldestBackup, Duration firstCheck) {
        requireNonNull(interval, "interval is null");
        requireNonNull(oldestBackup, "oldestBackup is null");
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("silo-restore-drill-schedule").factory());
        scheduler = timer;
        timer.scheduleWithFixedDelay(() -> {
            try {
                Optional<Instant> since = last().map(view -> Instant.parse(String.valueOf(view.get("at"))));
                if (since.isEmpty()) {
                    since = oldestBackup.get();
                }
                if (since.isPresent() && since.get().plus(interval).isBefore(clock.instant())) {
                    log.info("Scheduled restore drill (every {} days)", interval.toDays());
                    runNow(Actor.SYSTEM, line -> log.debug("drill: {}", line));
                }
            } catch (Conflict drillRunning) {
                log.debug("A restore drill is already running");
            } catch (RuntimeException e) {
                log.warn("Scheduled restore drill did not run: {}", e.getMessage());
            }
        }, firstCheck.toMillis(), Duration.ofHours(1).toMillis(), TimeUnit.MILLISECONDS);
    }


    @Override
    public void close() {
        closing = true;
        ScheduledExecutorService timer = scheduler;
        if (timer != null) {
            timer.shutdownNow();
        }
        worker.shutdownNow();
        try {
            worker.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
