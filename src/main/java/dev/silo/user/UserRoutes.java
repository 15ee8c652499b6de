package dev.silo.user;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.audit.Actor;
import dev.silo.audit.TenantAudit;
import dev.silo.auth.Caller;
import dev.silo.auth.TenantRequests;
import dev.silo.operator.OperatorAuth;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.QueryStrings;
import dev.silo.platform.http.Routes;
import dev.silo.platform.problem.BadRequest;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantDatabases;
import dev.silo.tenant.TenantDirectory;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static java.util.Objects.requireNonNull;

/** User administration by a tenant's admins, the tenant audit log, and the operator's "first admin" route. */
public final class UserRoutes {
    private final TenantRequests requests;
    private final UserService users;
    private final TenantDirectory directory;
    private final TenantDatabases databases;
    private final TenantAudit audit;
    private final OperatorAuth operators;

    public UserRoutes(TenantRequests requests, UserService users, TenantDirectory directory, TenantDatabases databases,
                      TenantAudit audit, OperatorAuth operators) {
        this.requests = requireNonNull(requests, "requests is null");
        this.users = requireNonNull(users, "users is null");
        this.directory = requireNonNull(directory, "directory is null");
        this.databases = requireNonNull(databases, "databases is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.operators = requireNonNull(operators, "operators is null");
    }

    record CreateUser(String email, String role, String password) {}

    record CreateAdmin(String email, String password) {}

    public void register(Routes routes) {
        routes.post("/t/{tenant}/users", (request, response) -> {
            Caller caller = requests.admin(request);
            CreateUser body = Json.read(request, CreateUser.class);
            User user = users.create(caller.tenant(), body.email(), body.role() == null ? User.MEMBER : body.role(),
                    body.password(), caller.audit());
            response.header(HeaderNames.LOCATION, "/t/" + caller.tenant().slug() + "/users/" + user.id());
            Json.send(response, Status.CREATED_201, user.view());
        });
        routes.get("/t/{tenant}/users", (request, response) -> {
            Caller caller = requests.admin(request);
            QueryStrings.allowOnly(request, Set.of("limit", "cursor"), "this listing takes limit and cursor");
            UserService.Page page = users.list(caller.tenant(), TenantRequests.limit(request, 50, 500),
                    request.query().first("cursor").asOptional());
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("users", page.users().stream().map(User::view).toList());
            body.put("next_cursor", page.nextCursor());
            Json.ok(response, body);
        });
        routes.get("/t/{tenant}/users/{id}", (request, response) -> {
            Caller caller = requests.admin(request);
            Json.ok(response, users.get(caller.tenant(), TenantRequests.uuid(request, "id")).view());
        });
        routes.patch("/t/{tenant}/users/{id}", (request, response) -> {
            Caller caller = requests.admin(request);
            JsonNode body = Json.readObject(request);
            body.fieldNames().forEachRemaining(field -> {
                if (!field.equals("role") && !field.equals("disabled")) {
                    throw new BadRequest("invalid-request", "unknown field '" + field + "' (role and disabled can be changed)");
                }
            });
            Optional<String> role = body.has("role") ? Optional.of(textOf(body, "role")) : Optional.empty();
            Optional<Boolean> disabled = Optional.empty();
            if (body.has("disabled")) {
                if (!body.get("disabled").isBoolean()) {
                    throw new BadRequest("invalid-request", "field 'disabled' must be true or false");
                }
                disabled = Optional.of(body.get("disabled").booleanValue());
            }
            Json.ok(response, users.update(caller.tenant(), TenantRequests.uuid(request, "id"), role, disabled, caller.audit()).view());
        });
        routes.delete("/t/{tenant}/users/{id}", (request, response) -> {
            Caller caller = requests.admin(request);
            users.delete(caller.tenant(), TenantRequests.uuid(request, "id"), caller.audit());
            response.status(Status.NO_CONTENT_204).send();
        });
        routes.post("/t/{tenant}/users/{id}/password-reset", (request, response) -> {
            Caller caller = requests.admin(request);
            UserService.ResetToken reset = users.issueReset(caller.tenant(), TenantRequests.uuid(request, "id"), caller.audit());
            Json.ok(response, Map.of("reset_token", reset.token(), "expires_at", reset.expiresAt()));
        });
        routes.get("/t/{tenant}/audit", (request, response) -> {
            Caller caller = requests.admin(request);
            QueryStrings.allowOnly(request, Set.of("limit", "before", "type", "since", "until"),
                    "the audit takes limit, before, type, since and until");
            int limit = TenantRequests.limit(request, 50, 500);
            long before = request.query().first("before").map(UserRoutes::seq).orElse(Long.MAX_VALUE);
            Optional<String> type = request.query().first("type").asOptional().map(UserRoutes::auditType);
            Optional<Instant> since = request.query().first("since").asOptional().map(UserRoutes::instant);
            Optional<Instant> until = request.query().first("until").asOptional().map(UserRoutes::instant);
            var entries = databases.withConnection(caller.tenant(), connection -> audit.list(connection, type, since, until, before, limit));
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("entries", entries);
            body.put("next_before", entries.size() == limit ? entries.getLast().seq() : null);
            Json.ok(response, body);
        });
        routes.post("/admin/tenants/{slug}/admins", (request, response) -> {
            Actor actor = operators.require(request);
            Tenant tenant = directory.requireServing(request.path().pathParameters().get("slug")).tenant();
            CreateAdmin body = Json.read(request, CreateAdmin.class);
            User user = users.createByOperator(tenant, body.email(), User.ADMIN, body.password(), actor, false);
            Json.send(response, Status.CREATED_201, user.view());
        });
    }

    private static String textOf(JsonNode body, String field) {
        if (!body.get(field).isTextual()) {
            throw new BadRequest("invalid-request", "field '" + field + "' must be a string");
        }
        return body.get(field).asText();
    }

    /** PostgreSQL text cannot hold U+0000: such a type matches nothing, and binding it failed the query (a 500). */
    private static String auditType(String value) {
        if (value.indexOf('\u0000') >= 0) {
            throw new BadRequest("invalid-parameter", "'type' cannot contain U+0000");
        }
        return value;
    }

    private static long seq(String value) {
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new BadRequest("invalid-parameter", "'before' must be a sequence number from a previous page");
        }
    }

    private static Instant instant(String value) {
        try {
            Instant instant = Instant.parse(value);
            // Instant takes years to +-1000000000; Timestamp and PostgreSQL do not (a 500 before issue 11.7)
            if (instant.isBefore(EARLIEST) || instant.isAfter(LATEST)) {
                throw new BadRequest("invalid-parameter", "times are between years 0001 and 9999");
            }
            return instant;
        } catch (DateTimeParseException e) {
            throw new BadRequest("invalid-parameter", "times are ISO-8601 instants such as 2026-01-31T12:00:00Z");
        }
    }

    private static final Instant EARLIEST = Instant.parse("0001-01-01T00:00:00Z");
    private static final Instant LATEST = Instant.parse("9999-12-31T23:59:59.999999Z");
}
