package dev.silo.auth;

import dev.silo.audit.TenantAudit;
import dev.silo.tenant.Tenant;
import dev.silo.user.User;

import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * The authenticated user of a request: services take it explicitly, so the CLI and tests call them without HTTP.
 * The role is the user's current one (from the session cache), not the one the token was issued with, so a
 * demotion takes effect like a revocation.
 */
public record Caller(Tenant tenant, UUID userId, String role, UUID sessionId, RequestContext request, User user) {
    public Caller {
        requireNonNull(tenant, "tenant is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(role, "role is null");
        requireNonNull(sessionId, "sessionId is null");
        requireNonNull(request, "request is null");
        requireNonNull(user, "user is null");
    }

    public boolean admin() {
        return User.ADMIN.equals(role);
    }

    public TenantAudit.Context audit() {
        return request.audit("user:" + userId);
    }
}
