package dev.silo.platform.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.audit.Actor;
import dev.silo.platform.db.Sql;
import dev.silo.platform.http.Json;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.io.IOException;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * Long-running operator work recorded in the catalog's {@code jobs} table, so that any node (and the command line)
 * can say how a job goes: {@code GET /admin/jobs/{id}}. The process running a job beats its heartbeat every
 * {@link #HEARTBEAT}; a job still {@code running} whose heartbeat is older than {@link #STALE} reads as
 * {@code interrupted} (its process died), and is marked failed when seen so.
 */
public final class Jobs implements AutoCloseable {
    public static final Duration HEARTBEAT = Duration.ofSeconds(5);
    public static final Duration STALE = Duration.ofSeconds(60);
    private static final Logger log = LoggerFactory.getLogger(Jobs.class);

    private final DataSource catalog;
    private final ScheduledExecutorService beats = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread thread = new Thread(r, "job-heartbeat");
        thread.setDaemon(true);
        return thread;
    });

    public Jobs(DataSource catalog) {
        this.catalog = requireNonNull(catalog, "catalog is null");
    }

    /** One job as the API shows it. */
    public record View(UUID id, String kind, UUID tenantId, String state, String phase, String progress, JsonNode request,
                       JsonNode result, String error, String actor, Instant createdAt, Instant heartbeatAt,
                       Instant finishedAt) {
        public Map<String, Object> body() {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("id", id);
            body.put("kind", kind);
            body.put("tenant_id", tenantId);
            body.put("state", state);
            body.put("phase", phase);
            body.put("progress", progress);
            body.put("request", request);
            body.put("result", result);
            body.put("error", error);
            body.put("actor", actor);
            body.put("created_at", createdAt);
            body.put("heartbeat_at", heartbeatAt);
            body.put("finished_at", finishedAt);
            return body;
        }
    }

    /** A job this process runs: report progress, then finish it exactly once. */
    public final class Job implements AutoCloseable {
        private final UUID id;
        private final Actor actor;
        private final ScheduledFuture<?> beat;
        private volatile boolean finished;

        private Job(UUID id, Actor actor) {
            this.id = id;
            this.actor = actor;
            this.beat = beats.scheduleWithFixedDelay(this::heartbeat, HEARTBEAT.toMillis(), HEARTBEAT.toMillis(),
                    TimeUnit.MILLISECONDS);
        }

        public UUID id() {
            return id;
        }

        /** Who asked for the job. */
        public Actor actor() {
            return actor;
        }

        /** The job's current phase and its latest progress line. */
        public void progress(String phase, String line) {
            Sql.withConnection(catalog, connection -> {
                try (PreparedStatement update = connection.prepareStatement("UPDATE jobs SET phase = coalesce(?, phase), "
                        + "progress = ?, heartbeat_at = now() WHERE id = ? AND state = 'running'")) {
                    update.setString(1, phase);
                    update.setString(2, line);
                    update.setObject(3, id);
                    update.executeUpdate();
                }
                return null;
            });
        }

        public void succeed(Map<String, ?> result) {
            finish("succeeded", Json.MAPPER.valueToTree(result).toString(), null);
        }

        public void fail(String error) {
            finish("failed", null, error);
        }

        private void finish(String state, String result, String error) {
            if (finished) {
                return;
            }
            finished = true;
            beat.cancel(false);
            Sql.withConnection(catalog, connection -> {
                try (PreparedStatement update = connection.prepareStatement("""
                        UPDATE jobs SET state = ?, result = ?::jsonb, error = ?, finished_at = now(), heartbeat_at = now()
                        WHERE id = ? AND state = 'running'
                        """)) {
                    update.setString(1, state);
                    update.setString(2, result);
                    update.setString(3, error);
                    update.setObject(4, id);
                    update.executeUpdate();
                }
                return null;
            });
        }

        private void heartbeat() {
            try {
                Sql.withConnection(catalog, connection -> {
                    try (PreparedStatement update = connection.prepareStatement(
                            "UPDATE jobs SET heartbeat_at = now() WHERE id = ? AND state = 'running'")) {
                        update.setObject(1, id);
                        update.executeUpdate();
                    }
                    return null;
                });
            } catch (RuntimeException e) {
                log.warn("Cannot beat the heartbeat of job {}: {}", id, e.getMessage());
            }
        }

        /** Fails the job if it was not finished (a crash path): a job never stays running after its process let go. */
        @Override
        public void close() {
            if (!finished) {
                fail("the job ended without an outcome");
            }
        }
    }

    /**
     * Records a new running job. With {@code tenantId}, refuses (empty) while another job of the same {@code kind}
     * prefix runs for that tenant; a stale one is marked interrupted first.
     */
    public Optional<Job> start(String kind, UUID tenantId, Map<String, ?> request, Actor actor, String exclusivePrefix) {
        requireNonNull(kind, "kind is null");
        UUID id = UUID.randomUUID();
        boolean started = Sql.inTransaction(catalog, connection -> {
            markStale(connection);
            if (tenantId != null && exclusivePrefix != null) {
                // One per tenant at a time: serialize the check on the tenant's catalog row.
                try (PreparedStatement lock = connection.prepareStatement("SELECT 1 FROM tenants WHERE id = ? FOR UPDATE")) {
                    lock.setObject(1, tenantId);
                    lock.executeQuery().close();
                }
                try (PreparedStatement running = connection.prepareStatement(
                        "SELECT 1 FROM jobs WHERE tenant_id = ? AND state = 'running' AND starts_with(kind, ?)")) {
                    running.setObject(1, tenantId);
                    running.setString(2, exclusivePrefix);
                    try (ResultSet rs = running.executeQuery()) {
                        if (rs.next()) {
                            return false;
                        }
                    }
                }
            }
            try (PreparedStatement insert = connection.prepareStatement("""
                    INSERT INTO jobs (id, kind, tenant_id, state, request, actor) VALUES (?, ?, ?, 'running', ?::jsonb, ?)
                    """)) {
                insert.setObject(1, id);
                insert.setString(2, kind);
                if (tenantId == null) {
                    insert.setNull(3, Types.OTHER);
                } else {
                    insert.setObject(3, tenantId);
                }
                insert.setString(4, Json.MAPPER.valueToTree(request).toString());
                insert.setString(5, actor.name());
                insert.executeUpdate();
            }
            return true;
        });
        return started ? Optional.of(new Job(id, actor)) : Optional.empty();
    }

    /** The running job of this kind prefix for a tenant, if any. */
    public Optional<UUID> running(UUID tenantId, String kindPrefix) {
        return Sql.withConnection(catalog, connection -> {
            try (PreparedStatement select = connection.prepareStatement("SELECT id FROM jobs WHERE tenant_id = ? "
                    + "AND state = 'running' AND starts_with(kind, ?) AND heartbeat_at > now() - ?::interval")) {
                select.setObject(1, tenantId);
                select.setString(2, kindPrefix);
                select.setString(3, STALE.toSeconds() + " seconds");
                try (ResultSet rs = select.executeQuery()) {
                    return rs.next() ? Optional.of(rs.getObject(1, UUID.class)) : Optional.empty();
                }
            }
        });
    }

    public Optional<View> find(UUID id) {
        return Sql.withConnection(catalog, connection -> {
            markStale(connection);
            try (PreparedStatement select = connection.prepareStatement(SELECT + " WHERE id = ?")) {
                select.setObject(1, id);
                try (ResultSet rs = select.executeQuery()) {
                    return rs.next() ? Optional.of(view(rs)) : Optional.empty();
                }
            }
        });
    }

    /** The newest jobs, optionally of one tenant, newest first. */
    public List<View> list(UUID tenantId, int limit) {
        return Sql.withConnection(catalog, connection -> {
            markStale(connection);
            try (PreparedStatement select = connection.prepareStatement(SELECT
                    + (tenantId == null ? "" : " WHERE tenant_id = ?") + " ORDER BY created_at DESC LIMIT ?")) {
                int i = 1;
                if (tenantId != null) {
                    select.setObject(i++, tenantId);
                }
                select.setInt(i, limit);
                List<View> views = new java.util.ArrayList<>();
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        views.add(view(rs));
                    }
                }
                return views;
            }
        });
    }

    private static final String SELECT = """
            SELECT id, kind, tenant_id, state, phase, progress, request::text, result::text, error, actor, created_at,
                   heartbeat_at, finished_at FROM jobs""";

    private static View view(ResultSet rs) throws SQLException {
        return new View(rs.getObject(1, UUID.class), rs.getString(2), rs.getObject(3, UUID.class), rs.getString(4),
                rs.getString(5), rs.getString(6), json(rs.getString(7)), json(rs.getString(8)), rs.getString(9),
                rs.getString(10), rs.getTimestamp(11).toInstant(), rs.getTimestamp(12).toInstant(),
                rs.getTimestamp(13) == null ? null : rs.getTimestamp(13).toInstant());
    }

    private static JsonNode json(String text) throws SQLException {
        if (text == null) {
            return null;
        }
        try {
            return Json.MAPPER.readTree(text);
        } catch (IOException e) {
            throw new SQLException("unreadable job json", e);
        }
    }

    private static void markStale(java.sql.Connection connection) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement("""
                UPDATE jobs SET state = 'failed', finished_at = now(),
                       error = 'interrupted: the process running it stopped (no heartbeat since ' || heartbeat_at || ')'
                WHERE state = 'running' AND heartbeat_at < now() - ?::interval
                """)) {
            update.setString(1, STALE.toSeconds() + " seconds");
            update.executeUpdate();
        }
    }

    @Override
    public void close() {
        beats.shutdownNow();
    }
}
