package dev.silo.auth;

import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;
import dev.silo.user.UserService;
import io.helidon.http.Status;

import static java.util.Objects.requireNonNull;

/** Login, refresh, logout, the caller's own profile and password, and password reset. */
public final class AuthRoutes {
    private final TenantRequests requests;
    private final AuthService auth;
    private final UserService users;

    public AuthRoutes(TenantRequests requests, AuthService auth, UserService users) {
        this.requests = requireNonNull(requests, "requests is null");
        this.auth = requireNonNull(auth, "auth is null");
        this.users = requireNonNull(users, "users is null");
    }

    record ChangePassword(String currentPassword, String newPassword) {}

    record ResetPassword(String token, String newPassword) {}

    public void register(Routes routes) {
        routes.post("/t/{tenant}/auth/login", (request, response) -> {
            var tenant = requests.tenant(request);
            TokenRequests.Login body = TokenRequests.login(request);
            response.header("Pragma", "no-cache");
            Json.ok(response, auth.login(tenant, body.email(), body.password(), TenantRequests.context(request)));
        });
        routes.post("/t/{tenant}/auth/refresh", (request, response) -> {
            var tenant = requests.tenant(request);
            TokenRequests.Refresh body = TokenRequests.refresh(request);
            response.header("Pragma", "no-cache");
            Json.ok(response, auth.refresh(tenant, body.refreshToken(), TenantRequests.context(request)));
        });
        routes.post("/t/{tenant}/auth/logout", (request, response) -> {
            auth.logout(requests.caller(request));
            response.status(Status.NO_CONTENT_204).send();
        });
        routes.post("/t/{tenant}/auth/password-reset", (request, response) -> {
            var tenant = requests.tenant(request);
            ResetPassword body = Json.read(request, ResetPassword.class);
            auth.resetPassword(tenant, body.token(), body.newPassword(), TenantRequests.context(request));
            response.status(Status.NO_CONTENT_204).send();
        });
        routes.get("/t/{tenant}/me", (request, response) -> {
            // From the session cache: an authenticated /me normally touches no database.
            Json.ok(response, requests.caller(request).user().view());
        });
        routes.post("/t/{tenant}/me/password", (request, response) -> {
            var tenant = requests.tenant(request);
            Caller caller = requests.caller(request);
            ChangePassword body = Json.read(request, ChangePassword.class);
            Json.ok(response, auth.changePassword(caller, tenant, body.currentPassword(), body.newPassword()));
        });
    }
}
