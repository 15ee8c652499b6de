package dev.silo.auth;

import dev.silo.platform.http.Json;
import dev.silo.platform.problem.BadRequest;
import io.helidon.webserver.http.ServerRequest;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * The bodies of the two token routes, as JSON (Silo's own form) or as the {@code application/x-www-form-urlencoded}
 * parameters OAuth2 clients send (RFC 6749 sections 4.3.2 and 6): {@code grant_type=password&username=..&password=..}
 * and {@code grant_type=refresh_token&refresh_token=..}.
 *
 * <p>Per RFC 6749 section 3.2 a parameter may appear once, a parameter without a value counts as absent, and
 * unrecognised parameters ({@code scope}, {@code client_id}) are ignored. A wrong {@code grant_type} is a 400
 * with {@code "error":"unsupported_grant_type"}, as section 5.2 names it.
 */
final class TokenRequests {
    /** The most parameters a token request form may carry; a flood of them is not a token request. */
    private static final int MAX_PARAMETERS = 32;

    record Login(String email, String password) {}

    record Refresh(String refreshToken) {}

    /** The JSON form: {@code grant_type} may be given, and must then be the route's. */
    private record JsonLogin(String grantType, String email, String username, String password) {}

    private record JsonRefresh(String grantType, String refreshToken) {}

    private TokenRequests() {}

    static Login login(ServerRequest request) {
        byte[] body = Json.rawBodyOf(request);
        if (Json.isFormUrlEncoded(request, body)) {
            Map<String, String> form = form(body);
            requireGrant(form.get("grant_type"), "password", true);
            String email = form.containsKey("username") ? form.get("username") : form.get("email");
            return new Login(email, form.get("password"));
        }
        JsonLogin json = Json.parse(request, body, JsonLogin.class);
        requireGrant(json.grantType(), "password", false);
        if (json.email() != null && json.username() != null) {
            throw new BadRequest("invalid-request", "give either 'email' or 'username', not both");
        }
        return new Login(json.email() != null ? json.email() : json.username(), json.password());
    }

    static Refresh refresh(ServerRequest request) {
        byte[] body = Json.rawBodyOf(request);
        if (Json.isFormUrlEncoded(request, body)) {
            Map<String, String> form = form(body);
            requireGrant(form.get("grant_type"), "refresh_token", true);
            return new Refresh(form.get("refresh_token"));
        }
        JsonRefresh json = Json.parse(request, body, JsonRefresh.class);
        requireGrant(json.grantType(), "refresh_token", false);
        return new Refresh(json.refreshToken());
    }

    private static void requireGrant(String given, String expected, boolean required) {
        if (given == null) {
            if (required) {
                throw new BadRequest("invalid-request", "parameter 'grant_type' is required (here: " + expected + ")",
                        Map.of("error", "invalid_request"));
            }
            return;
        }
        if (!given.equals(expected)) {
            throw new BadRequest("unsupported-grant-type", "grant_type '" + printable(given) + "' is not served here; this "
                    + "route takes grant_type=" + expected, Map.of("error", "unsupported_grant_type"));
        }
    }

    /** Parses a form body; a repeated parameter or a bad escape is a 400 naming it. */
    static Map<String, String> form(byte[] body) {
        Map<String, String> parameters = new HashMap<>();
        String text = new String(body, StandardCharsets.UTF_8);
        int count = 0;
        for (String pair : text.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            if (++count > MAX_PARAMETERS) {
                throw new BadRequest("invalid-request", "the form has more than " + MAX_PARAMETERS + " parameters",
                        Map.of("error", "invalid_request"));
            }
            int equals = pair.indexOf('=');
            String name = decode(equals < 0 ? pair : pair.substring(0, equals), "a parameter name");
            String value = equals < 0 ? "" : decode(pair.substring(equals + 1), "parameter '" + printable(name) + "'");
            if (value.isEmpty()) {
                continue; // RFC 6749 3.2: a parameter without a value is treated as omitted
            }
            if (parameters.put(name, value) != null) {
                throw new BadRequest("invalid-request", "parameter '" + printable(name) + "' is given more than once",
                        Map.of("error", "invalid_request", "parameter", printable(name)));
            }
        }
        return parameters;
    }

    private static String decode(String encoded, String what) {
        try {
            return java.net.URLDecoder.decode(encoded, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new BadRequest("invalid-request", what + " is not validly %-encoded", Map.of("error", "invalid_request"));
        }
    }

    /** A name or value echoed in a problem: short, and without control characters. */
    private static String printable(String text) {
        String cut = text.length() > 40 ? text.substring(0, 40) + "..." : text;
        return cut.replaceAll("\\p{Cntrl}", "?");
    }
}
