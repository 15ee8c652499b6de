package dev.silo.auth.mfa;

import dev.silo.auth.Caller;
import dev.silo.auth.TenantRequests;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;
import io.helidon.http.Status;

import java.util.Map;

import static java.util.Objects.requireNonNull;

/**
 * The TOTP second factor over HTTP (issue 19.2): the caller's own ({@code /t/{tenant}/me/mfa...}), the second step
 * of a login ({@code /t/{tenant}/auth/mfa...}), an admin's reset of a user's ({@code /t/{tenant}/users/{id}/mfa})
 * and the tenant's requirement ({@code /t/{tenant}/settings/mfa}).
 */
public final class MfaRoutes {
    private final TenantRequests requests;
    private final MfaService mfa;
    private final MfaLogin login;

    public MfaRoutes(TenantRequests requests, MfaService mfa, MfaLogin login) {
        this.requests = requireNonNull(requests, "requests is null");
        this.mfa = requireNonNull(mfa, "mfa is null");
        this.login = requireNonNull(login, "login is null");
    }

    record Code(String code) {}

    record Disable(String code, String password) {}

    record Ticket(String ticket) {}

    record SecondStep(String ticket, String code, String recoveryCode) {}

    record Policy(String required) {}

    public void register(Routes routes) {
        routes.get("/t/{tenant}/me/mfa", (request, response) -> {
            Caller caller = requests.caller(request);
            Json.ok(response, mfa.status(caller.tenant(), caller.userId()));
        });
        routes.post("/t/{tenant}/me/mfa/totp", (request, response) -> {
            Caller caller = requests.caller(request);
            Json.ok(response, mfa.startEnrolment(caller));
        });
        routes.post("/t/{tenant}/me/mfa/totp/confirm", (request, response) -> {
            Caller caller = requests.caller(request);
            Code body = Json.read(request, Code.class);
            Json.ok(response, mfa.confirm(caller, body.code()));
        });
        routes.post("/t/{tenant}/me/mfa/totp/disable", (request, response) -> {
            Caller caller = requests.caller(request);
            Disable body = Json.read(request, Disable.class);
            mfa.disable(caller, body.code(), body.password());
            response.status(Status.NO_CONTENT_204).send();
        });
        routes.post("/t/{tenant}/me/mfa/recovery-codes", (request, response) -> {
            Caller caller = requests.caller(request);
            Code body = Json.read(request, Code.class);
            Json.ok(response, mfa.newRecoveryCodes(caller, body.code()));
        });
        routes.post("/t/{tenant}/auth/mfa", (request, response) -> {
            var tenant = requests.tenant(request);
            SecondStep body = Json.read(request, SecondStep.class);
            response.header("Pragma", "no-cache");
            Json.ok(response, login.verify(tenant, body.ticket(), body.code(), body.recoveryCode(), TenantRequests.context(request)));
        });
        routes.post("/t/{tenant}/auth/mfa/totp", (request, response) -> {
            var tenant = requests.tenant(request);
            Ticket body = Json.read(request, Ticket.class);
            Json.ok(response, login.startEnrolment(tenant, body.ticket(), TenantRequests.context(request)));
        });
        routes.get("/t/{tenant}/users/{id}/mfa", (request, response) -> {
            Caller caller = requests.admin(request);
            Json.ok(response, mfa.status(caller.tenant(), TenantRequests.uuid(request, "id")));
        });
        routes.delete("/t/{tenant}/users/{id}/mfa", (request, response) -> {
            Caller caller = requests.admin(request);
            mfa.reset(caller, TenantRequests.uuid(request, "id"));
            response.status(Status.NO_CONTENT_204).send();
        });
        routes.get("/t/{tenant}/settings/mfa", (request, response) -> {
            Caller caller = requests.admin(request);
            Json.ok(response, Map.of("required", mfa.policy(caller).wire()));
        });
        routes.put("/t/{tenant}/settings/mfa", (request, response) -> {
            Caller caller = requests.admin(request);
            Policy body = Json.read(request, Policy.class);
            Json.ok(response, Map.of("required", mfa.setPolicy(caller, body.required()).wire()));
        });
    }
}
