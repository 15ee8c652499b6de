package dev.silo.auth;

import dev.silo.platform.http.Json;
import dev.silo.platform.http.QueryStrings;
import dev.silo.platform.http.Routes;
import dev.silo.platform.problem.BadRequest;
import io.helidon.http.Status;
import io.helidon.webserver.http.ServerRequest;

import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * The caller's own sessions ({@code /t/{tenant}/me/sessions}) and, for admins, those of any user of the tenant
 * ({@code /t/{tenant}/users/{id}/sessions}): listed, ended one by one, or all at once (issue 19.3).
 */
public final class SessionRoutes {
    private final TenantRequests requests;
    private final SessionService sessions;

    public SessionRoutes(TenantRequests requests, SessionService sessions) {
        this.requests = requireNonNull(requests, "requests is null");
        this.sessions = requireNonNull(sessions, "sessions is null");
    }

    public void register(Routes routes) {
        routes.get("/t/{tenant}/me/sessions", (request, response) -> {
            Caller caller = requests.caller(request);
            QueryStrings.allowOnly(request, Set.of(), "this listing takes no parameters");
            Json.ok(response, Map.of("sessions", sessions.list(caller, caller.userId())));
        });
        routes.delete("/t/{tenant}/me/sessions/{sid}", (request, response) -> {
            Caller caller = requests.caller(request);
            sessions.end(caller, caller.userId(), sessionId(request));
            response.status(Status.NO_CONTENT_204).send();
        });
        routes.delete("/t/{tenant}/me/sessions", (request, response) -> {
            Caller caller = requests.caller(request);
            if (!others(request)) {
                throw new BadRequest("invalid-parameter", "to end your other sessions say others=true (this one stays; "
                        + "POST /auth/logout ends it)", Map.of("parameter", "others"));
            }
            Json.ok(response, Map.of("ended", sessions.endAll(caller, caller.userId(), Optional.of(caller.sessionId()))));
        });
        routes.get("/t/{tenant}/users/{id}/sessions", (request, response) -> {
            Caller caller = requests.admin(request);
            QueryStrings.allowOnly(request, Set.of(), "this listing takes no parameters");
            Json.ok(response, Map.of("sessions", sessions.list(caller, TenantRequests.uuid(request, "id"))));
        });
        routes.delete("/t/{tenant}/users/{id}/sessions/{sid}", (request, response) -> {
            Caller caller = requests.admin(request);
            UUID userId = TenantRequests.uuid(request, "id");
            sessions.end(caller, userId, sessionId(request));
            response.status(Status.NO_CONTENT_204).send();
        });
        routes.delete("/t/{tenant}/users/{id}/sessions", (request, response) -> {
            // Every session of the user; others=true keeps the admin's own when the user is the admin.
            Caller caller = requests.admin(request);
            UUID userId = TenantRequests.uuid(request, "id");
            Optional<UUID> keep = others(request) && caller.userId().equals(userId)
                    ? Optional.of(caller.sessionId()) : Optional.empty();
            Json.ok(response, Map.of("ended", sessions.endAll(caller, userId, keep)));
        });
    }

    /** The {@code others} parameter: {@code true} or {@code false}, absent is {@code false}; anything else a 400. */
    private static boolean others(ServerRequest request) {
        QueryStrings.allowOnly(request, Set.of("others"), "this route takes others=true");
        Optional<String> value = request.query().first("others").asOptional();
        if (value.isEmpty()) {
            return false;
        }
        return switch (value.get()) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new BadRequest("invalid-parameter", "'others' is true or false", Map.of("parameter", "others"));
        };
    }

    private static UUID sessionId(ServerRequest request) {
        try {
            return UUID.fromString(request.path().pathParameters().get("sid"));
        } catch (IllegalArgumentException e) {
            throw SessionService.sessionNotFound();
        }
    }
}
