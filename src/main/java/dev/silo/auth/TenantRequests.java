package dev.silo.auth;

import dev.silo.platform.http.HttpServer;
import dev.silo.platform.http.RequestIds;
import dev.silo.platform.http.RequestTenant;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.Forbidden;
import dev.silo.tenant.TenantDirectory;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerRequest;

import java.net.InetAddress;
import java.util.List;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/** What every {@code /t/{tenant}/...} handler needs first: the tenant, the caller, the role check. */
public final class TenantRequests {
    private final TenantDirectory directory;
    private final AuthService auth;
    private final AuthenticatedCheck afterAuthentication;
    private volatile StaffGrantCheck staffGrants = (tenant, token, request) -> {
        throw TokenService.invalidToken();
    };

    /** The prefix of a staff-access grant token ({@code dev.silo.staff}). */
    public static final String STAFF_GRANT_PREFIX = "silo_ga_";

    /**
     * Authenticates a staff-access grant token on a data route and records the access (the staff package supplies
     * it: grants live above this package).
     */
    @FunctionalInterface
    public interface StaffGrantCheck {
        Caller authenticate(TenantDirectory.ResolvedTenant tenant, String token, ServerRequest request);

        /** Records which records a request made with a grant returned or created, before the answer is sent. */
        default void recordResult(Caller caller, ServerRequest request, List<String> recordIds) {
        }
    }

    /** A check on every authenticated request before its handler reads the body (the per-user write rate limit). */
    @FunctionalInterface
    public interface AuthenticatedCheck {
        void check(ServerRequest request, Caller caller);
    }

    public TenantRequests(TenantDirectory directory, AuthService auth) {
        this(directory, auth, (request, caller) -> {});
    }

    public TenantRequests(TenantDirectory directory, AuthService auth, AuthenticatedCheck afterAuthentication) {
        this.directory = requireNonNull(directory, "directory is null");
        this.auth = requireNonNull(auth, "auth is null");
        this.afterAuthentication = requireNonNull(afterAuthentication, "afterAuthentication is null");
    }

    /** Lets staff-access grants in on the routes that take {@link #dataCaller}. */
    public void acceptStaffGrants(StaffGrantCheck check) {
        this.staffGrants = requireNonNull(check, "check is null");
    }

    public TenantDirectory.ResolvedTenant tenant(ServerRequest request) {
        TenantDirectory.ResolvedTenant resolved = directory.requireServing(request.path().pathParameters().get("tenant"),
                mayWrite(request));
        RequestTenant.resolved(resolved.tenant().id(), resolved.tenant().slug());
        return resolved;
    }

    /** Only GET, HEAD and OPTIONS are reads: they are served while a move freezes the tenant's writes. */
    private static boolean mayWrite(ServerRequest request) {
        String method = request.prologue().method().text();
        return !(method.equals("GET") || method.equals("HEAD") || method.equals("OPTIONS"));
    }

    /** The authenticated caller; a token in the query string is refused (it would end up in logs and histories). */
    public Caller caller(ServerRequest request) {
        TenantDirectory.ResolvedTenant tenant = tenant(request);
        if (request.query().contains("access_token")) {
            throw TokenService.invalidToken();
        }
        String authorization = request.headers().first(HeaderNames.AUTHORIZATION).orElse(null);
        refuseOperatorKey(authorization);
        if (staffGrant(authorization) != null) {
            // Default deny: a route lets a grant in only by asking for dataCaller (records and collections).
            throw new Forbidden("staff-grant-not-allowed", "a staff access grant works only on this tenant's records and "
                    + "collections routes; user administration, passwords, keys, sessions, export, backups and access "
                    + "requests are the tenant's own");
        }
        Caller caller = auth.authenticate(tenant, authorization, context(request));
        afterAuthentication.check(request, caller);
        return caller;
    }

    /**
     * The caller of a data route (collections and records): a user of the tenant, or an operator under a staff
     * access grant of this tenant, which is checked (tenant, scope, expiry, revocation) and recorded in both audit
     * logs before the handler runs.
     */
    public Caller dataCaller(ServerRequest request) {
        String authorization = request.headers().first(HeaderNames.AUTHORIZATION).orElse(null);
        refuseOperatorKey(authorization);
        String token = staffGrant(authorization);
        if (token == null) {
            return caller(request);
        }
        TenantDirectory.ResolvedTenant tenant = tenant(request);
        if (request.query().contains("access_token")) {
            throw TokenService.invalidToken();
        }
        Caller caller = staffGrants.authenticate(tenant, token, request);
        afterAuthentication.check(request, caller);
        return caller;
    }

    /**
     * For a caller under a staff-access grant: records the ids of the records a listing returned or a create made, in
     * both audit logs, before the handler answers (a failure to record fails the request). Nothing for a user.
     */
    public void staffResult(Caller caller, ServerRequest request, List<String> recordIds) {
        if (caller.staff()) {
            staffGrants.recordResult(caller, request, recordIds);
        }
    }

    /** The grant token of a {@code Bearer silo_ga_...} header, or null for any other header. */
    private static String staffGrant(String authorization) {
        String token = bearer(authorization);
        return token != null && token.startsWith(STAFF_GRANT_PREFIX) ? token : null;
    }

    /** An operator key opens no tenant route: staff reach a tenant's data only with the tenant's approval. */
    private static void refuseOperatorKey(String authorization) {
        String token = bearer(authorization);
        if (token != null && token.startsWith(dev.silo.operator.OperatorService.KEY_PREFIX)) {
            throw new Forbidden("operator-key-refused", "an operator key opens no tenant route; request staff access "
                    + "(POST /admin/tenants/{slug}/access-requests) and, once the tenant's admins approve, use the grant");
        }
    }

    private static String bearer(String authorization) {
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        return authorization.substring(7).strip();
    }

    public Caller admin(ServerRequest request) {
        Caller caller = caller(request);
        if (!caller.admin()) {
            throw new Forbidden("forbidden", "this route needs the admin role");
        }
        return caller;
    }

    public static RequestContext context(ServerRequest request) {
        InetAddress address = HttpServer.clientAddress(request);
        return new RequestContext(address, request.headers().first(HeaderNames.USER_AGENT).orElse(null),
                request.context().get(RequestIds.MDC_KEY, String.class).orElse(null));
    }

    public static UUID uuid(ServerRequest request, String parameter) {
        try {
            return UUID.fromString(request.path().pathParameters().get(parameter));
        } catch (IllegalArgumentException e) {
            throw new dev.silo.platform.problem.NotFound("user-not-found", "no such user in this tenant");
        }
    }

    public static int limit(ServerRequest request, int fallback, int max) {
        String value = request.query().first("limit").orElse(null);
        if (value == null) {
            return fallback;
        }
        try {
            int limit = Integer.parseInt(value);
            if (limit >= 1 && limit <= max) {
                return limit;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new BadRequest("invalid-parameter", "'limit' must be a number from 1 to " + max);
    }
}
