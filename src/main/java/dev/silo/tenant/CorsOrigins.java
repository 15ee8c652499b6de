package dev.silo.tenant;

import dev.silo.platform.problem.BadRequest;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * The origins whose browser apps may call a tenant's API across origins (CORS), set by an operator or by the
 * tenant's admin. Each entry is an exact origin as a browser sends it in {@code Origin}:
 * {@code scheme://host[:port]}, lower-case, without the scheme's default port, without path, query or
 * user info. The single entry {@value #ANY} allows every origin. Empty, the default: no cross-origin access.
 *
 * <p>No wildcard inside a host ({@code https://*.example.com}): a pattern that an attacker's domain can match
 * by accident is the classic CORS mistake, and listing each origin is cheap.
 */
public record CorsOrigins(List<String> origins) {
    public static final String ANY = "*";
    public static final CorsOrigins NONE = new CorsOrigins(List.of());
    /** More than this many entries is refused: an allow list that long is better written as {@value #ANY}. */
    public static final int MAX_ORIGINS = 100;
    private static final int MAX_LENGTH = 300;
    private static final Pattern SCHEME = Pattern.compile("[a-z][a-z0-9+.-]*");

    public CorsOrigins {
        origins = List.copyOf(requireNonNull(origins, "origins is null"));
    }

    /** Whether the list is {@value #ANY}: every origin may call, and the response says {@code *}. */
    public boolean any() {
        return origins.size() == 1 && origins.getFirst().equals(ANY);
    }

    /** Whether a browser app on {@code origin} (the request's {@code Origin} header, as sent) may call. */
    public boolean allows(String origin) {
        return origin != null && (any() || origins.contains(origin));
    }

    /**
     * Validates and normalises what an operator or admin gave: each entry stripped, scheme and host lower-cased,
     * a default port (80 for http, 443 for https) dropped, duplicates removed. Anything else is a 400 problem
     * {@code invalid-cors-origin} naming the entry and the expected form.
     */
    public static CorsOrigins parse(List<String> values) {
        if (values == null) {
            throw new BadRequest("invalid-request", "field 'cors_origins' is required: a list of origins such as "
                    + "[\"https://app.example.com\"], [\"*\"] for any origin, or [] for none");
        }
        if (values.size() > MAX_ORIGINS) {
            throw new BadRequest("invalid-cors-origin", "at most " + MAX_ORIGINS + " origins can be listed (got "
                    + values.size() + "); use [\"*\"] to allow any origin");
        }
        Set<String> origins = new LinkedHashSet<>();
        for (int i = 0; i < values.size(); i++) {
            origins.add(normalize(values.get(i), i));
        }
        if (origins.contains(ANY) && origins.size() > 1) {
            throw invalid(ANY, values.indexOf(ANY), "'*' allows every origin: give it alone");
        }
        return new CorsOrigins(List.copyOf(origins));
    }

    private static String normalize(String value, int index) {
        if (value == null) {
            throw invalid("null", index, "an origin is a string");
        }
        String origin = value.strip();
        if (origin.equals(ANY)) {
            return ANY;
        }
        if (origin.length() > MAX_LENGTH) {
            throw invalid(origin, index, "an origin is at most " + MAX_LENGTH + " characters");
        }
        int separator = origin.indexOf("://");
        if (separator <= 0 || !SCHEME.matcher(origin.substring(0, separator).toLowerCase(Locale.ROOT)).matches()) {
            throw invalid(origin, index, "expected scheme://host[:port], such as https://app.example.com");
        }
        if (origin.indexOf('*') >= 0) {
            throw invalid(origin, index, "wildcards inside an origin are not supported: list each origin, or use '*' "
                    + "alone for any origin");
        }
        URI uri;
        try {
            uri = new URI(origin);
        } catch (URISyntaxException e) {
            throw invalid(origin, index, "expected scheme://host[:port], such as https://app.example.com");
        }
        if (uri.getHost() == null || uri.getRawUserInfo() != null) {
            throw invalid(origin, index, "expected scheme://host[:port] with a host name (international names in their "
                    + "xn-- form), an IPv4 address or a bracketed IPv6 address");
        }
        if (!uri.getRawPath().isEmpty() || uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw invalid(origin, index, "an origin has no path, query or fragment, not even a trailing '/': write "
                    + uri.getScheme().toLowerCase(Locale.ROOT) + "://" + uri.getRawAuthority().toLowerCase(Locale.ROOT));
        }
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        String host = uri.getHost().toLowerCase(Locale.ROOT);
        int port = uri.getPort();
        if (port == 0 || port > 65535) {
            throw invalid(origin, index, "a port is from 1 to 65535");
        }
        boolean defaultPort = (scheme.equals("http") && port == 80) || (scheme.equals("https") && port == 443);
        return scheme + "://" + host + (port == -1 || defaultPort ? "" : ":" + port);
    }

    private static BadRequest invalid(String origin, int index, String why) {
        String shown = origin.length() > 80 ? origin.substring(0, 80) + "..." : origin;
        shown = shown.replaceAll("\\p{Cntrl}", "?");
        return new BadRequest("invalid-cors-origin", "cors_origins[" + index + "] '" + shown + "' is not a valid origin: " + why,
                Map.of("field", "cors_origins[" + index + "]"));
    }
}
