package dev.silo.backup.logical;

import dev.silo.audit.Actor;
import dev.silo.operator.OperatorAuth;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.QueryStrings;
import dev.silo.platform.http.Routes;
import dev.silo.platform.jobs.Jobs;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.NotFound;
import dev.silo.platform.problem.Unavailable;
import dev.silo.tenant.TenantService;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * The operator's one-tenant restores (issue 13.1), each answered 202 with a job at once and run on Silo's own
 * platform thread (one restore at a time per node; others queue):
 * <ul>
 *   <li>{@code POST /admin/tenants/{slug}/restore-to} {@code {"time": "...", "as"?: "new-slug"}} or {@code {"undo": true}}</li>
 *   <li>{@code POST /admin/tenants/{slug}/restore-backup} {@code {"backup": "id", "as"?: "new-slug"}}</li>
 *   <li>{@code GET /admin/jobs/{id}}: the job's state, phase, last progress line and outcome;
 *       {@code GET /admin/jobs?tenant=slug&limit=N}: the newest jobs</li>
 * </ul>
 */
public final class TenantRestoreRoutes implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TenantRestoreRoutes.class);
    private static final int QUEUE = 16;

    private final OperatorAuth auth;
    private final TenantRestores restores;
    private final Jobs jobs;
    private final TenantService tenants;
    private final ExecutorService runner = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(QUEUE),
            Thread.ofPlatform().name("silo-tenant-restore").daemon().factory());

    public TenantRestoreRoutes(OperatorAuth auth, TenantRestores restores, Jobs jobs, TenantService tenants) {
        this.auth = requireNonNull(auth, "auth is null");
        this.restores = requireNonNull(restores, "restores is null");
        this.jobs = requireNonNull(jobs, "jobs is null");
        this.tenants = requireNonNull(tenants, "tenants is null");
    }

    record RestoreTo(String time, String as, Boolean undo) {}

    record RestoreBackup(String backup, String as) {}

    public void register(Routes routes) {
        routes.post("/admin/tenants/{slug}/restore-to", (request, response) -> {
            Actor actor = auth.require(request);
            RestoreTo body = Json.read(request, RestoreTo.class);
            boolean undo = Boolean.TRUE.equals(body.undo());
            if (!undo && body.time() == null) {
                throw new BadRequest("invalid-restore", "give \"time\" (an ISO-8601 instant such as 2026-12-02T14:01:00Z) "
                        + "or \"undo\": true");
            }
            TenantRestores.Request restore = new TenantRestores.Request(undo ? Optional.empty() : Optional.of(time(body.time())),
                    Optional.empty(), Optional.ofNullable(body.as()), undo);
            start(restores.prepare(slug(request), restore, actor), response);
        });
        routes.post("/admin/tenants/{slug}/restore-backup", (request, response) -> {
            Actor actor = auth.require(request);
            RestoreBackup body = Json.read(request, RestoreBackup.class);
            if (body.backup() == null) {
                throw new BadRequest("invalid-restore", "give \"backup\": the id of one of the tenant's backups");
            }
            start(restores.prepare(slug(request), new TenantRestores.Request(Optional.empty(), Optional.of(body.backup()),
                    Optional.ofNullable(body.as()), false), actor), response);
        });
        routes.get("/admin/jobs/{id}", (request, response) -> {
            auth.require(request);
            String raw = request.path().pathParameters().get("id");
            UUID id;
            try {
                id = UUID.fromString(raw);
            } catch (IllegalArgumentException e) {
                throw new NotFound("job-not-found", "no job '" + (raw.length() > 40 ? raw.substring(0, 40) + "..." : raw) + "'");
            }
            Json.ok(response, jobs.find(id).orElseThrow(() -> new NotFound("job-not-found", "no job '" + id + "'")).body());
        });
        routes.get("/admin/jobs", (request, response) -> {
            auth.require(request);
            QueryStrings.allowOnly(request, Set.of("tenant", "limit"), "this listing takes tenant and limit");
            UUID tenant = request.query().first("tenant").map(slug -> tenants.findLive(slug)
                    .orElseThrow(() -> new NotFound("tenant-not-found", "no tenant '" + slug + "'")).id()).orElse(null);
            int limit = request.query().first("limit").map(TenantRestoreRoutes::limit).orElse(20);
            Json.ok(response, Map.of("jobs", jobs.list(tenant, limit).stream().map(Jobs.View::body).toList()));
        });
    }

    private void start(TenantRestores.Prepared prepared, io.helidon.webserver.http.ServerResponse response) {
        try {
            runner.execute(() -> {
                try {
                    restores.run(prepared, line -> log.info("Restore job {}: {}", prepared.jobId(), line));
                } catch (RuntimeException e) {
                    // recorded in the job; run() logged it
                }
            });
        } catch (RejectedExecutionException e) {
            restores.abandon(prepared, "too many restores are queued on this node");
            throw new Unavailable("restores-busy", QUEUE + " restores are already queued on this node; try again later",
                    Duration.ofMinutes(1));
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("job", prepared.jobId());
        body.put("state", "running");
        body.put("tenant", prepared.tenant().slug());
        body.put("detail", "follow it with GET /admin/jobs/" + prepared.jobId());
        response.header(HeaderNames.LOCATION, "/admin/jobs/" + prepared.jobId());
        Json.send(response, Status.ACCEPTED_202, body);
    }

    private static Instant time(String text) {
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException e) {
            throw new BadRequest("invalid-time", "\"time\" expects an ISO-8601 instant such as 2026-12-02T14:01:00Z");
        }
    }

    private static int limit(String text) {
        try {
            int limit = Integer.parseInt(text);
            if (limit >= 1 && limit <= 200) {
                return limit;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new BadRequest("invalid-parameter", "limit must be a whole number from 1 to 200");
    }

    private static String slug(io.helidon.webserver.http.ServerRequest request) {
        return request.path().pathParameters().get("slug");
    }

    @Override
    public void close() {
        runner.shutdownNow();
    }
}
