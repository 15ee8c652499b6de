package dev.silo.backup.base;

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
 * {@code POST /admin/backups} (operator key): starts a base backup on the backup thread and answers 202 with its id
 * at once; 409 {@code backup-running} while one runs. The request never waits for the copy.
 */
public final class BaseBackupRoutes {
    private final OperatorAuth auth;
    private final Optional<BaseBackupService> service;

    public BaseBackupRoutes(OperatorAuth auth, Optional<BaseBackupService> service) {
        this.auth = requireNonNull(auth, "auth is null");
        this.service = requireNonNull(service, "service is null");
    }

    public void register(Routes routes) {
        routes.post("/admin/backups", (request, response) -> {
            Actor actor = auth.require(request);
            if (service.isEmpty()) {
                throw new Conflict("backups-external", "Silo does not host this PostgreSQL, so it cannot take base backups of "
                        + "it: use the provider's own continuous protection");
            }
            BaseBackupService.Started started = service.get().start(actor, BaseBackup.Progress.NONE);
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("id", started.id());
            body.put("status", "running");
            body.put("store", service.get().store().describe());
            Json.send(response, Status.ACCEPTED_202, body);
        });
    }
}
