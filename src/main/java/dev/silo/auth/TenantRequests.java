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
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/** What every {@code /t/{tenant}/...} handler needs first: the tenant, the caller, the role check. */
public final class TenantRequests {
    private final TenantDirectory directory;
    private final AuthService auth;
    private final AuthenticatedCheck afterAuthentication;

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

    public TenantDirectory.ResolvedTenant tenant(ServerRequest request) {
        TenantDirectory.ResolvedTenant resolved = directory.requireServing(request.path().pathParameters().get("tenant"));
        RequestTenant.resolved(resolved.tenant().id(), resolved.tenant().slug());
        return resolved;
    }

    /** The authenticated caller; a token in the query string is refused (it would end up in logs and histories). */
    public Caller caller(ServerRequest request) {
        TenantDirectory.ResolvedTenant tenant = tenant(request);
        if (request.query().contains("access_token")) {
            throw TokenService.invalidToken();
        }
        Caller caller = auth.authenticate(tenant, request.headers().first(HeaderNames.AUTHORIZATION).orElse(null), context(request));
        afterAuthentication.check(request, caller);
        return caller;
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
