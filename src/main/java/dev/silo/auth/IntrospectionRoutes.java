package dev.silo.auth;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.QueryStrings;
import dev.silo.platform.http.Routes;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.NotFound;
import dev.silo.platform.problem.Unauthorized;
import dev.silo.platform.problem.UnsupportedMediaType;
import dev.silo.tenant.TenantDirectory;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * Token introspection for the tenant's own services (RFC 7662) and the service credentials that call it
 * (issue 19.4).
 *
 * <p>{@code POST /t/{tenant}/auth/introspect} takes {@code token=...} form-encoded (section 2.1) and answers with
 * the same checks the API makes on every request ({@link AuthService#verifyAccess}: signature, key, time,
 * tenant, and the session still live through the same session cache), so a token is active here exactly when
 * it opens the API: a logged-out or ended session is inactive at once. Anything that is not a live access token
 * of this tenant (garbage, {@code alg: none}, another tenant's, a refresh token) is {@code {"active": false}}
 * and nothing more (section 2.2). A {@code token_type_hint} is accepted and ignored (section 2.1).
 */
public final class IntrospectionRoutes {
        private final TenantRequests requests;
    private final AuthService auth;
    private final ServiceCredentials credentials;

    public IntrospectionRoutes(TenantRequests requests, AuthService auth, ServiceCredentials credentials) {
        this.requests = requireNonNull(requests, "requests is null");
        this.auth = requireNonNull(auth, "auth is null");
        this.credentials = requireNonNull(credentials, "credentials is null");
    }

    public void register(Routes routes) {
        routes.post("/t/{tenant}/auth/introspect", (request, response) -> {
            var tenant = requests.tenant(request);
            // The caller first (RFC 7662 section 2.1: the endpoint is protected), then the body.
            credentials.authenticate(tenant.tenant(), request.headers().first(HeaderNames.AUTHORIZATION).orElse(null));
            byte[] body = Json.rawBodyOf(request);
            if (!Json.isFormUrlEncoded(request, body)) {
                throw new UnsupportedMediaType("send the token form-encoded (RFC 7662 section 2.1): Content-Type "
                        + "application/x-www-form-urlencoded, body token=...", Map.of("accepted", "application/x-www-form-urlencoded"));
            }
            Map<String, String> form = TokenRequests.form(body);
            String token = form.get("token");
            if (token == null) {
                throw new BadRequest("invalid-request", "parameter 'token' is required", Map.of("error", "invalid_request"));
            }
            response.header("Pragma", "no-cache"); // Cache-Control: no-store is on every answer (HttpServer)
            Json.ok(response, introspect(tenant, token));
        });
        routes.post("/t/{tenant}/service-credentials", (request, response) -> {
            Caller caller = requests.admin(request);
            ServiceCredentials.Created created = credentials.create(caller, name(Json.readObject(request)));
            response.header(HeaderNames.LOCATION, "/t/" + caller.tenant().slug() + "/service-credentials/" + created.id());
            Json.send(response, Status.CREATED_201, created);
        });
        routes.get("/t/{tenant}/service-credentials", (request, response) -> {
            Caller caller = requests.admin(request);
            QueryStrings.allowOnly(request, Set.of(), "this listing takes no parameters");
            Json.ok(response, Map.of("service_credentials", credentials.list(caller.tenant())));
        });
        routes.delete("/t/{tenant}/service-credentials/{id}", (request, response) -> {
            Caller caller = requests.admin(request);
            UUID id;
            try {
                id = UUID.fromString(request.path().pathParameters().get("id"));
            } catch (IllegalArgumentException e) {
                throw new NotFound("service-credential-not-found",
                        "no such live service credential in this tenant");
            }
            credentials.revoke(caller, id);
            response.status(Status.NO_CONTENT_204).send();
        });
    }

    /** The one field of a new credential, a string (a number is not silently made one). */
    private static String name(JsonNode body) {
        body.fieldNames().forEachRemaining(field -> {
            if (!field.equals("name")) {
                throw new BadRequest("invalid-request", "unknown field '" + (field.length() > 40 ? field.substring(0, 40) + "..." : field)
                        + "' (a service credential has a name)");
            }
        });
        JsonNode name = body.get("name");
        if (name != null && !name.isNull() && !name.isTextual()) {
            throw new BadRequest("invalid-request", "field 'name' must be a string");
        }
        return name == null || name.isNull() ? null : name.asText();
    }

    private Map<String, Object> introspect(TenantDirectory.ResolvedTenant tenant, String token) {
        AuthService.Verified verified;
        try {
            verified = auth.verifyAccess(tenant, token);
        } catch (Unauthorized e) {
            return Map.of("active", false);
        }
        AccessToken access = verified.token();
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("active", true);
        answer.put("sub", access.userId());
        answer.put("role", verified.state().user().role());
        answer.put("exp", access.expiresAt().getEpochSecond());
        answer.put("iat", access.issuedAt().getEpochSecond());
        answer.put("sid", access.sessionId());
        answer.put("iss", auth.issuer(tenant.tenant().slug()));
        answer.put("jti", access.jti());
        answer.put("token_type", "access_token");
        return answer;
    }
}
