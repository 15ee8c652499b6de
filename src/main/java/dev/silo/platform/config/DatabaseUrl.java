package dev.silo.platform.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static java.util.Objects.requireNonNull;

/**
 * A PostgreSQL location with credentials, parsed from {@code postgres://user:pass@host:port/db?sslmode=...}
 * (the form Heroku gives in {@code DATABASE_URL}) or {@code jdbc:postgresql://host:port/db?user=..&password=..}.
 *
 * <p>TLS is mandatory (claim C11): a missing {@code sslmode} becomes {@code require}; {@code disable},
 * {@code allow} and {@code prefer} are refused. {@link #toString()} never shows the password.
 */
public record DatabaseUrl(String host, int port, String database, String user, String password,
                          String sslMode, Map<String, String> parameters) {
    private static final Set<String> TLS_MODES = Set.of("require", "verify-ca", "verify-full");

    public DatabaseUrl {
        requireNonNull(host, "host is null");
        requireNonNull(database, "database is null");
        requireNonNull(user, "user is null");
        requireNonNull(password, "password is null");
        requireNonNull(sslMode, "sslMode is null");
        parameters = Map.copyOf(parameters);
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
    }

    /**
     * Parses a URL given in the setting named {@code setting}.
     *
     * @throws ConfigException naming the setting and the accepted form, without echoing the URL (it may hold a password)
     */
    public static DatabaseUrl parse(String setting, String value) {
        String form = "expected postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=require|verify-ca|verify-full]";
        String text = value.strip();
        if (text.startsWith("jdbc:")) {
            text = text.substring("jdbc:".length());
        }
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new ConfigException(setting, "not a valid URL; " + form);
        }
        if (!"postgres".equals(uri.getScheme()) && !"postgresql".equals(uri.getScheme())) {
            throw new ConfigException(setting, "unsupported scheme; " + form);
        }
        if (uri.getHost() == null || uri.getRawPath() == null || uri.getRawPath().length() < 2) {
            throw new ConfigException(setting, "host and database are required; " + form);
        }
        Map<String, String> query = new LinkedHashMap<>();
        if (uri.getRawQuery() != null) {
            for (String pair : uri.getRawQuery().split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                String key = decode(eq < 0 ? pair : pair.substring(0, eq));
                String val = eq < 0 ? "" : decode(pair.substring(eq + 1));
                query.put(key, val);
            }
        }
        String user = query.remove("user");
        String password = query.remove("password");
        if (uri.getRawUserInfo() != null) {
            String info = uri.getRawUserInfo();
            int colon = info.indexOf(':');
            user = decode(colon < 0 ? info : info.substring(0, colon));
            password = colon < 0 ? password : decode(info.substring(colon + 1));
        }
        if (user == null || user.isEmpty()) {
            throw new ConfigException(setting, "a user is required; " + form);
        }
        String sslMode = query.remove("sslmode");
        query.remove("ssl");
        if (sslMode == null || sslMode.isEmpty()) {
            sslMode = "require";
        }
        if (!TLS_MODES.contains(sslMode)) {
            throw new ConfigException(setting, "sslmode=" + sslMode
                    + " is not allowed: Silo connects to PostgreSQL only over TLS (require, verify-ca or verify-full)");
        }
        int port = uri.getPort() == -1 ? 5432 : uri.getPort();
        return new DatabaseUrl(uri.getHost(), port, decode(uri.getRawPath().substring(1)), user,
                password == null ? "" : password, sslMode, query);
    }

    private static String decode(String part) {
        return URLDecoder.decode(part.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /** The same server and credentials, another database. */
    public DatabaseUrl withDatabase(String otherDatabase) {
        return new DatabaseUrl(host, port, otherDatabase, user, password, sslMode, parameters);
    }

    /** A JDBC URL without credentials or options: pass {@link #properties()} with it. */
    public String jdbcUrl() {
        return "jdbc:postgresql://" + hostForUrl() + ":" + port + "/" + database;
    }

    /** Driver properties: credentials, TLS mode and the other parameters of the URL. */
    public java.util.Properties properties() {
        java.util.Properties properties = new java.util.Properties();
        parameters.forEach(properties::setProperty);
        properties.setProperty("user", user);
        properties.setProperty("password", password);
        properties.setProperty("sslmode", sslMode);
        return properties;
    }

    /** The same location with another driver parameter, such as {@code sslrootcert}. */
    public DatabaseUrl withParameter(String key, String value) {
        Map<String, String> merged = new LinkedHashMap<>(parameters);
        merged.put(key, value);
        return new DatabaseUrl(host, port, database, user, password, sslMode, merged);
    }

    /** The same server and database with other credentials (a tenant's own role). */
    public DatabaseUrl withCredentials(String otherUser, String otherPassword) {
        return new DatabaseUrl(host, port, database, otherUser, otherPassword, sslMode, parameters);
    }

    private String hostForUrl() {
        return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    }

    @Override
    public String toString() {
        return "postgres://" + user + ":***@" + hostForUrl() + ":" + port + "/" + database + "?sslmode=" + sslMode;
    }
}
