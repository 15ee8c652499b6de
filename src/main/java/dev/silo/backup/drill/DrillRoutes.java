package dev.silo.backup.drill;

import dev.silo.audit.Actor;
import dev.silo.operator.OperatorAuth;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;
import dev.silo.platform.problem.Conflict;
import io.helidon.http.Status;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * {@code POST /admin/backups/verify} (operator key): starts a restore drill on the drill thread and answers 202 with
 * its id at once — a drill restores the whole cluster and takes minutes, so no request waits for it; its outcome
 * appears under {@code drill} in {@code GET /admin/backups} and in the platform audit. 409 {@code drill-running}
 * while one runs.
 */
public final class DrillRoutes {
    private final OperatorAuth auth;
    private final Optional<RestoreDrills> drills;

    public DrillRoutes(OperatorAuth auth, Optional<RestoreDrills> drills) {
        this.auth = requireNonNull(auth, "auth is null");
        this.drills = requireNonNull(drills, "drills is null");
    }

    public void register(Routes routes) {
        routes.post("/admin/backups/verify", (request, response) -> {
            Actor actor = auth.require(request);
            if (drills.isEmpty()) {
                throw new Conflict("backups-external", "Silo does not host this PostgreSQL, so it cannot restore it in a "
                        + "drill: use the provider's own continuous protection");
            }
            RestoreDrills.Started started = drills.get().start(actor, line -> {});
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("id", started.id());
            body.put("status", "running");
            body.put("detail", "the outcome appears under drill in GET /admin/backups");
            Json.send(response, Status.ACCEPTED_202, body);
        });
    }
}
