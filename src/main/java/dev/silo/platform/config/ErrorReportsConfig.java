package dev.silo.platform.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * Where unexpected errors are reported (claim C22): Rollbar when {@code ROLLBAR_ACCESS_TOKEN} is set (the name
 * Heroku's Rollbar add-on sets), else nowhere but the log.
 *
 * @param accessToken a Rollbar project access token with the {@code post_server_item} scope; never printed
 *                    ({@link #toString()} masks it)
 * @param endpoint    the item API ({@code SILO_ROLLBAR_ENDPOINT}; default {@link #DEFAULT_ENDPOINT}); https, or
 *                    http to a loopback address only (a token must not cross a network in clear)
 * @param environment the Rollbar environment ({@code SILO_ENVIRONMENT}; default {@code production})
 */
public record ErrorReportsConfig(Optional<String> accessToken, URI endpoint, String environment) {
    public static final URI DEFAULT_ENDPOINT = URI.create("https://api.rollbar.com/api/1/item/");
    public static final String DEFAULT_ENVIRONMENT = "production";
    private static final Pattern TOKEN = Pattern.compile("[A-Za-z0-9_-]{16,128}");
    private static final Pattern ENVIRONMENT = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    public ErrorReportsConfig {
        requireNonNull(accessToken, "accessToken is null");
        requireNonNull(endpoint, "endpoint is null");
        requireNonNull(environment, "environment is null");
    }

    public static ErrorReportsConfig none() {
        return new ErrorReportsConfig(Optional.empty(), DEFAULT_ENDPOINT, DEFAULT_ENVIRONMENT);
    }

    public boolean enabled() {
        return accessToken.isPresent();
    }

    /** @throws ConfigException naming the setting, never echoing the token */
    public static ErrorReportsConfig from(Map<String, String> env) {
        Optional<String> token = Optional.ofNullable(env.get("ROLLBAR_ACCESS_TOKEN")).map(String::strip)
                .filter(value -> !value.isEmpty());
        if (token.isPresent() && !TOKEN.matcher(token.get()).matches()) {
            throw new ConfigException("ROLLBAR_ACCESS_TOKEN", "expected a Rollbar access token (16 to 128 letters, digits, "
                    + "'-' or '_'; a project token with the post_server_item scope)");
        }
        String environment = Optional.ofNullable(env.get("SILO_ENVIRONMENT")).map(String::strip)
                .filter(value -> !value.isEmpty()).orElse(DEFAULT_ENVIRONMENT);
        if (!ENVIRONMENT.matcher(environment).matches()) {
            throw new ConfigException("SILO_ENVIRONMENT", "expected a name of letters, digits, '.', '-' or '_' (at most 64), "
                    + "such as production or staging");
        }
        String endpointSetting = env.get("SILO_ROLLBAR_ENDPOINT");
        URI endpoint = endpointSetting == null || endpointSetting.isBlank() ? DEFAULT_ENDPOINT : endpoint(endpointSetting.strip());
        return new ErrorReportsConfig(token, endpoint, environment);
    }

    private static URI endpoint(String value) {
        URI uri;
        try {
            uri = new URI(value);
        } catch (URISyntaxException e) {
            throw new ConfigException("SILO_ROLLBAR_ENDPOINT", "not a URL; expected https://host/api/1/item/");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (uri.getHost() == null || uri.getUserInfo() != null || uri.getRawQuery() != null
                || !(scheme.equals("https") || scheme.equals("http"))) {
            throw new ConfigException("SILO_ROLLBAR_ENDPOINT", "expected an https URL without credentials or query, "
                    + "such as https://api.rollbar.com/api/1/item/");
        }
        if (scheme.equals("http") && !loopback(uri.getHost())) {
            throw new ConfigException("SILO_ROLLBAR_ENDPOINT", "http is accepted only to a loopback address (the access "
                    + "token travels with every item); use https");
        }
        return uri;
    }

    private static boolean loopback(String host) {
        String bare = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        return bare.equals("localhost") || bare.equals("::1") || bare.startsWith("127.");
    }

    @Override
    public String toString() {
        return "ErrorReportsConfig[accessToken=" + (accessToken.isPresent() ? "(set)" : "(none)") + ", endpoint=" + endpoint
                + ", environment=" + environment + "]";
    }
}
