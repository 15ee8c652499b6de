package dev.silo.move;

import dev.silo.audit.Actor;
import dev.silo.operator.OperatorAuth;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.Unavailable;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;
import io.helidon.webserver.http.ServerResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * The operator's tenant moves (issue 18.2), each answered 202 with a job at once and run on one thread of this node
 * (one move at a time per node; others queue, as restores do):
 * <ul>
 *   <li>{@code POST /admin/tenants/{slug}/move} {@code {"to": "placement"}}; {@code GET /admin/tenants/{slug}/move}:
 *       the tenant's latest move with its job</li>
 *   <li>{@code POST /admin/placements/{name}/drain}: no new tenant there, and every tenant moved off it</li>
 * </ul>
 */
public final class TenantMoveRoutes implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TenantMoveRoutes.class);
    private static final int QUEUE = 16;

    private final OperatorAuth auth;
    private final TenantMoves moves;
    private final ExecutorService runner = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(QUEUE),
            Thread.ofPlatform().name("silo-tenant-move").daemon().factory());

    public TenantMoveRoutes(OperatorAuth auth, TenantMoves moves) {
        this.auth = requireNonNull(auth, "auth is null");
        this.moves = requireNonNull(moves, "moves is null");
    }

    record MoveRequest(String to) {}

    public void register(Routes routes) {
        routes.post("/admin/tenants/{slug}/move", (request, response) -> {
            Actor actor = auth.require(request);
            MoveRequest body = Json.read(request, MoveRequest.class);
            if (body.to() == null || body.to().isBlank()) {
                throw new BadRequest("invalid-move", "give \"to\": the name of the placement to move the tenant to",
                        Map.of("field", "to"));
            }
            TenantMoves.Prepared prepared = moves.prepare(request.path().pathParameters().get("slug"), body.to(), actor);
            submit(() -> moves.run(prepared, line -> log.info("Move job {}: {}", prepared.jobId(), line)),
                    () -> moves.abandon(prepared, "too many moves are queued on this node"));
            Map<String, Object> reply = new LinkedHashMap<>();
            reply.put("job", prepared.jobId());
            reply.put("state", "running");
            reply.put("tenant", prepared.tenant().slug());
            reply.put("to", prepared.target());
            reply.put("detail", "follow it with GET /admin/tenants/" + prepared.tenant().slug() + "/move or GET /admin/jobs/"
                    + prepared.jobId());
            accepted(response, "/admin/tenants/" + prepared.tenant().slug() + "/move", reply);
        });
        routes.get("/admin/tenants/{slug}/move", (request, response) -> {
            auth.require(request);
            Json.ok(response, moves.status(request.path().pathParameters().get("slug")));
        });
        routes.post("/admin/placements/{name}/drain", (request, response) -> {
            Actor actor = auth.require(request);
            TenantMoves.PreparedDrain drain = moves.prepareDrain(request.path().pathParameters().get("name"), actor);
            submit(() -> moves.runDrain(drain, line -> log.info("Drain job {}: {}", drain.jobId(), line)),
                    () -> moves.abandonDrain(drain, "too many moves are queued on this node"));
            Map<String, Object> reply = new LinkedHashMap<>();
            reply.put("job", drain.jobId());
            reply.put("state", "running");
            reply.put("placement", drain.placement().name());
            reply.put("accepting", false);
            reply.put("detail", "the placement takes no new tenants; follow the moves with GET /admin/jobs/" + drain.jobId());
            accepted(response, "/admin/jobs/" + drain.jobId(), reply);
        });
    }

    private void submit(Runnable work, Runnable refused) {
        try {
            runner.execute(() -> {
                try {
                    work.run();
                } catch (RuntimeException e) {
                    // recorded in the job; run() logged it
                }
            });
        } catch (RejectedExecutionException e) {
            refused.run();
            throw new Unavailable("moves-busy", QUEUE + " moves are already queued on this node; try again later",
                    Duration.ofMinutes(1));
        }
    }

    private static void accepted(ServerResponse response, String location, Map<String, Object> body) {
        response.header(HeaderNames.LOCATION, location);
        Json.send(response, Status.ACCEPTED_202, body);
    }

    @Override
    public void close() {
        runner.shutdownNow();
    }
}
