package dev.silo.staff;

import dev.silo.audit.Actor;
import dev.silo.auth.Caller;
import dev.silo.auth.TenantRequests;
import dev.silo.operator.OperatorAuth;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.QueryStrings;
import dev.silo.platform.http.Routes;
import dev.silo.platform.problem.NotFound;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantDirectory;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;
import io.helidon.webserver.http.ServerRequest;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * Staff access from both sides: operators request and pick up grants under {@code /admin/tenants/{slug}/access-requests},
 * the tenant's admins decide and revoke under {@code /t/{tenant}/access-requests}; and the check that lets a grant
 * token in on the data routes ({@link TenantRequests#dataCaller}).
 */
public final class StaffAccessRoutes {
    private final StaffAccess access;
    private final StaffGrants grants;
    private final TenantRequests requests;
    private final TenantDirectory directory;
    private final OperatorAuth operators;

    public StaffAccessRoutes(StaffAccess access, StaffGrants grants, TenantRequests requests, TenantDirectory directory,
                             OperatorAuth operators) {
        this.access = requireNonNull(access, "access is null");
        this.grants = requireNonNull(grants, "grants is null");
        this.requests = requireNonNull(requests, "requests is null");
        this.directory = requireNonNull(directory, "directory is null");
        this.operators = requireNonNull(operators, "operators is null");
        requests.acceptStaffGrants(new TenantRequests.StaffGrantCheck() {
            @Override
            public Caller authenticate(TenantDirectory.ResolvedTenant tenant, String token, ServerRequest request) {
                return grants.authenticate(tenant.tenant(), token, use(request));
            }

            @Override
            public void recordResult(Caller caller, ServerRequest request, java.util.List<String> recordIds) {
                grants.recordResult(caller, use(request), recordIds);
            }
        });
    }

    public void register(Routes routes) {
        routes.post("/admin/tenants/{slug}/access-requests", (request, response) -> {
            Actor actor = operators.require(request);
            Tenant tenant = adminTenant(request);
            StaffAccess.NewRequest body = Json.read(request, StaffAccess.NewRequest.class);
            Map<String, Object> created = access.request(tenant, operatorName(actor), actor, body);
            response.header(HeaderNames.LOCATION, "/admin/tenants/" + tenant.slug() + "/access-requests/" + created.get("id"));
            Json.send(response, Status.CREATED_201, created);
        });
        routes.get("/admin/tenants/{slug}/access-requests", (request, response) -> {
            operators.require(request);
            Tenant tenant = adminTenant(request);
            QueryStrings.allowOnly(request, Set.of("limit"), "the listing takes limit");
            Json.ok(response, Map.of("requests", access.list(tenant, TenantRequests.limit(request, 50, 500))));
        });
        routes.get("/admin/tenants/{slug}/access-requests/{id}", (request, response) -> {
            operators.require(request);
            Json.ok(response, access.get(adminTenant(request), id(request)));
        });
        routes.post("/admin/tenants/{slug}/access-requests/{id}/approve", (request, response) -> {
            Actor actor = operators.require(request);
            Json.ok(response, access.approveEmergency(adminTenant(request), id(request), operatorName(actor), actor));
        });
        routes.post("/admin/tenants/{slug}/access-requests/{id}/token", (request, response) -> {
            Actor actor = operators.require(request);
            StaffAccess.IssuedGrant grant = access.issueToken(adminTenant(request), id(request), operatorName(actor), actor);
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("id", grant.id());
            body.put("token", grant.token());
            body.put("scope", grant.scope());
            body.put("expires_at", grant.expiresAt());
            Json.ok(response, body);
        });

        routes.get("/t/{tenant}/access-requests", (request, response) -> {
            Caller caller = requests.admin(request);
            QueryStrings.allowOnly(request, Set.of("limit"), "the listing takes limit");
            Json.ok(response, Map.of("requests", access.list(caller.tenant(), TenantRequests.limit(request, 50, 500))));
        });
        routes.get("/t/{tenant}/access-requests/{id}", (request, response) -> {
            Caller caller = requests.admin(request);
            Json.ok(response, access.get(caller.tenant(), id(request)));
        });
        routes.post("/t/{tenant}/access-requests/{id}/approve", (request, response) -> {
            Caller caller = requests.admin(request);
            Json.ok(response, access.approve(caller, id(request)));
        });
        routes.post("/t/{tenant}/access-requests/{id}/deny", (request, response) -> {
            Caller caller = requests.admin(request);
            Json.ok(response, access.deny(caller, id(request)));
        });
        routes.delete("/t/{tenant}/access-requests/{id}", (request, response) -> {
            Caller caller = requests.admin(request);
            Json.ok(response, access.revoke(caller, id(request)));
        });
    }

    /** The tenant of an operator route: any tenant that serves (a suspended one has no data to read). */
    private Tenant adminTenant(ServerRequest request) {
        return directory.requireServing(request.path().pathParameters().get("slug")).tenant();
    }

    private static String operatorName(Actor actor) {
        return actor.name().substring("operator:".length());
    }

    private static UUID id(ServerRequest request) {
        String value = request.path().pathParameters().get("id");
        try {
            if (value.length() == 36) {
                return UUID.fromString(value);
            }
        } catch (IllegalArgumentException e) {
            // reported below
        }
        throw new NotFound("access-request-not-found", "no access request '" + (value.length() > 40 ? value.substring(0, 40) : value)
                + "': ids are UUIDs");
    }

    private static StaffGrants.Use use(ServerRequest request) {
        var parameters = request.path().pathParameters();
        return new StaffGrants.Use(request.prologue().method().text(), Routes.routeOf(request),
                parameters.first("name").orElse(null), parameters.first("id").orElse(null), TenantRequests.context(request));
    }
}
