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
 *
 * <p>An operator holding a staff-access grant is a caller too ({@code actor} {@code operator:NAME}, role
 * {@link #STAFF}, user and session ids the grant's): only the routes that take {@link TenantRequests#dataCaller}
 * let one in.
 */
public record Caller(Tenant tenant, UUID userId, String role, UUID sessionId, RequestContext request, User user, String actor) {
    /** The role of an operator acting under a staff-access grant: neither admin nor member. */
    public static final String STAFF = "staff";

    public Caller(Tenant tenant, UUID userId, String role, UUID sessionId, RequestContext request, User user) {
        this(tenant, userId, role, sessionId, request, user, "user:" + userId);
    }

    public Caller {
        requireNonNull(tenant, "tenant is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(role, "role is null");
        requireNonNull(sessionId, "sessionId is null");
        requireNonNull(request, "request is null");
        requireNonNull(user, "user is null");
        requireNonNull(actor, "actor is null");
    }

    public boolean admin() {
        return User.ADMIN.equals(role);
    }

    public TenantAudit.Context audit() {
        return request.audit(actor);
    }

    /** Whether this is an operator under a staff-access grant rather than a user of the tenant. */
    public boolean staff() {
        return STAFF.equals(role);
    }
}
