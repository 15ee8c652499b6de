package dev.silo.platform.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * E-mail through SMTP (issue 19.1), from the environment. Without {@code SILO_SMTP_URL} Silo sends no mail and the
 * routes that would answer 503 {@code mail-not-configured}.
 *
 * @param smtp          the server ({@code SILO_SMTP_URL})
 * @param defaultFrom   the sender of tenants that set none ({@code SILO_MAIL_FROM}; default {@code no-reply@<SMTP host>})
 * @param caFile        a PEM file of CA certificates trusted besides the JDK's ({@code SILO_SMTP_CA}), for a server with
 *                      a private or self-signed certificate
 * @param retrySeconds  the first retry's delay; each next one doubles, at most an hour ({@code SILO_MAIL_RETRY_SECONDS}, 30)
 * @param maxAttempts   attempts before a mail is given up ({@code SILO_MAIL_MAX_ATTEMPTS}, 10)
 */
public record MailConfig(Optional<Smtp> smtp, Optional<String> defaultFrom, Optional<Path> caFile, int retrySeconds,
                         int maxAttempts) {
    public static final String URL_SETTING = "SILO_SMTP_URL";
    /** A plain address: what a tenant's admin may set as its sender, too (no display name, no line break). */
    public static final Pattern ADDRESS = Pattern.compile("[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?");

    public MailConfig {
        requireNonNull(smtp, "smtp is null");
        requireNonNull(defaultFrom, "defaultFrom is null");
        requireNonNull(caFile, "caFile is null");
        if (retrySeconds < 1 || maxAttempts < 1) {
            throw new IllegalArgumentException("retrySeconds and maxAttempts must be at least 1");
        }
    }

    public static MailConfig none() {
        return new MailConfig(Optional.empty(), Optional.empty(), Optional.empty(), 30, 10);
    }

    /** How the connection is protected. */
    public enum Security {
        /** {@code smtps://}: TLS from the first byte (port 465). */
        IMPLICIT_TLS,
        /** {@code smtp://} (the default): STARTTLS, and the mail is not sent when the server does not offer it. */
        STARTTLS_REQUIRED,
        /** {@code smtp://...?starttls=optional}: STARTTLS when offered, else in clear. */
        STARTTLS_OPTIONAL,
        /** {@code smtp://...?starttls=off}: in clear, for a relay on the same host or a trusted network only. */
        PLAIN
    }

    /**
     * The SMTP server. {@code password} is a secret: never print this record's fields, print {@link #display()}.
     */
    public record Smtp(Security security, String host, int port, Optional<String> user, Optional<String> password) {
        public Smtp {
            requireNonNull(security, "security is null");
            requireNonNull(host, "host is null");
            requireNonNull(user, "user is null");
            requireNonNull(password, "password is null");
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("port out of range: " + port);
            }
        }

        /** Scheme, host and port: safe for a log line. */
        public String display() {
            return (security == Security.IMPLICIT_TLS ? "smtps" : "smtp") + "://" + host + ":" + port
                    + switch (security) {
                        case STARTTLS_OPTIONAL -> "?starttls=optional";
                        case PLAIN -> "?starttls=off";
                        default -> "";
                    };
        }

        @Override
        public String toString() {
            return "Smtp[" + display() + "]";
        }
    }

    public boolean configured() {
        return smtp.isPresent();
    }

    /** The platform's sender: {@code SILO_MAIL_FROM}, else {@code no-reply@<SMTP host>}. */
    public String platformFrom() {
        return defaultFrom.orElseGet(() -> "no-reply@" + smtp.map(Smtp::host).orElse("localhost"));
    }

    public static MailConfig from(Map<String, String> env) {
        Optional<Smtp> smtp = Optional.ofNullable(env.get(URL_SETTING)).filter(value -> !value.isBlank()).map(MailConfig::parse);
        Optional<String> from = Optional.ofNullable(env.get("SILO_MAIL_FROM")).filter(value -> !value.isBlank()).map(String::strip);
        if (from.isPresent() && !ADDRESS.matcher(from.get()).matches()) {
            throw new ConfigException("SILO_MAIL_FROM", "expected a plain e-mail address such as no-reply@example.com");
        }
        Optional<Path> ca = Optional.ofNullable(env.get("SILO_SMTP_CA")).filter(value -> !value.isBlank()).map(MailConfig::caFile);
        return new MailConfig(smtp, from, ca, positive(env, "SILO_MAIL_RETRY_SECONDS", 30, 3600),
                positive(env, "SILO_MAIL_MAX_ATTEMPTS", 10, 100));
    }

    /**
     * {@code smtp://[user[:password]@]host[:port][?starttls=required|optional|off]} (port 587) or
     * {@code smtps://[user[:password]@]host[:port]} (port 465); user and password are percent-decoded.
     */
    static Smtp parse(String value) {
        URI uri;
        try {
            uri = new URI(value.strip());
        } catch (URISyntaxException e) {
            throw new ConfigException(URL_SETTING, "not a URL (expected smtp://user:password@host:587 or smtps://...:465)");
        }
        String scheme = String.valueOf(uri.getScheme()).toLowerCase(Locale.ROOT);
        if (!scheme.equals("smtp") && !scheme.equals("smtps")) {
            throw new ConfigException(URL_SETTING, "the scheme must be smtp:// (STARTTLS) or smtps:// (implicit TLS)");
        }
        if (uri.getHost() == null || uri.getHost().isBlank()) {
            throw new ConfigException(URL_SETTING, "a host is required (smtp://user:password@host:587)");
        }
        if (uri.getRawPath() != null && !uri.getRawPath().isEmpty() && !uri.getRawPath().equals("/")) {
            throw new ConfigException(URL_SETTING, "takes no path");
        }
        Security security = scheme.equals("smtps") ? Security.IMPLICIT_TLS : Security.STARTTLS_REQUIRED;
        if (uri.getRawQuery() != null) {
            for (String pair : uri.getRawQuery().split("&")) {
                String[] parts = pair.split("=", 2);
                if (!parts[0].equals("starttls") || parts.length != 2 || scheme.equals("smtps")) {
                    throw new ConfigException(URL_SETTING, "the only parameter is starttls=required|optional|off, with smtp://");
                }
                security = switch (parts[1].toLowerCase(Locale.ROOT)) {
                    case "required" -> Security.STARTTLS_REQUIRED;
                    case "optional" -> Security.STARTTLS_OPTIONAL;
                    case "off" -> Security.PLAIN;
                    default -> throw new ConfigException(URL_SETTING, "starttls is required, optional or off");
                };
            }
        }
        int port = uri.getPort() == -1 ? (security == Security.IMPLICIT_TLS ? 465 : 587) : uri.getPort();
        Optional<String> user = Optional.empty();
        Optional<String> password = Optional.empty();
        if (uri.getRawUserInfo() != null) {
            String[] parts = uri.getRawUserInfo().split(":", 2);
            user = Optional.of(URLDecoder.decode(parts[0], StandardCharsets.UTF_8)).filter(text -> !text.isEmpty());
            if (parts.length == 2) {
                password = Optional.of(URLDecoder.decode(parts[1], StandardCharsets.UTF_8));
            }
        }
        return new Smtp(security, uri.getHost(), port, user, password);
    }

    private static Path caFile(String value) {
        Path file;
        try {
            file = Path.of(value.strip()).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            throw new ConfigException("SILO_SMTP_CA", "not a valid path");
        }
        try {
            LogDrainSettings.readCertificates(file);
        } catch (ConfigException e) {
            throw new ConfigException("SILO_SMTP_CA", "cannot read PEM certificates from " + file);
        }
        return file;
    }

    private static int positive(Map<String, String> env, String name, int fallback, int max) {
        String value = env.get(name);
        if (value == null || value.isBlank()) {
            return fallback;
        }
        try {
            int parsed = Integer.parseInt(value.strip());
            if (parsed >= 1 && parsed <= max) {
                return parsed;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new ConfigException(name, "expected a whole number from 1 to " + max + ", got '" + value + "'");
    }
}
