package dev.silo.platform.config;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Where the three log streams are shipped besides stdout (claim C21): {@code SILO_LOG_DRAINS}, a comma-separated
 * list of drain URLs, checked at start. Empty: no drain, nothing is started.
 *
 * @param drains     the drains, in the order given
 * @param caFile     a PEM file of CA certificates trusted besides the JDK's ({@code SILO_LOG_DRAINS_CA}), for a
 *                   drain with a certificate of a private CA
 * @param hostname   the HOSTNAME field of every syslog line ({@code SILO_HOSTNAME}, else {@code DYNO}, else this
 *                   machine's host name)
 * @param queueLines lines each drain holds while it is slow or down before the oldest are dropped
 *                   ({@code SILO_LOG_DRAINS_QUEUE}, 10000)
 */
public record LogDrainSettings(List<Drain> drains, Optional<Path> caFile, String hostname, int queueLines) {
    public static final String SETTING = "SILO_LOG_DRAINS";
    public static final String CA_SETTING = "SILO_LOG_DRAINS_CA";
    public static final int DEFAULT_QUEUE_LINES = 10_000;

    public LogDrainSettings {
        requireNonNull(drains, "drains is null");
        requireNonNull(caFile, "caFile is null");
        requireNonNull(hostname, "hostname is null");
        drains = List.copyOf(drains);
        if (queueLines < 1) {
            throw new IllegalArgumentException("queueLines must be at least 1: " + queueLines);
        }
    }

    public static LogDrainSettings none() {
        return new LogDrainSettings(List.of(), Optional.empty(), "-", DEFAULT_QUEUE_LINES);
    }

    /** How a drain is reached. */
    public enum Transport {
        /** {@code syslog+tls://host:port}: RFC 5424 over TLS (RFC 5425), octet-counted frames (RFC 6587 §3.4.1). */
        SYSLOG_TLS,
        /** {@code syslog://host:port}: the same frames over plain TCP (only for a collector on a trusted network). */
        SYSLOG_TCP,
        /** {@code https://[user:password@]host[:port]/path}: batches POSTed in Heroku's {@code application/logplex-1} form. */
        HTTPS
    }

    /**
     * One drain.
     *
     * @param uri the URL as given, credentials included (for {@code https}, they become a Basic authorization):
     *            never print it, print {@link #display()}
     */
    public record Drain(Transport transport, String host, int port, URI uri) {
        public Drain {
            requireNonNull(transport, "transport is null");
            requireNonNull(host, "host is null");
            requireNonNull(uri, "uri is null");
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("port out of range: " + port);
            }
        }

        /** The URL without user, password, path or query: safe for a log line or an error message. */
        public String display() {
            String scheme = switch (transport) {
                case SYSLOG_TLS -> "syslog+tls";
                case SYSLOG_TCP -> "syslog";
                case HTTPS -> "https";
            };
            return scheme + "://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }

        /** Never the credentials a record's generated {@code toString} would print. */
        @Override
        public String toString() {
            return "Drain[" + display() + "]";
        }
    }

    /**
     * Reads {@code SILO_LOG_DRAINS}, {@code SILO_LOG_DRAINS_CA}, {@code SILO_LOG_DRAINS_QUEUE} and the host name.
     *
     * @throws ConfigException naming the setting, and the drain by its position and {@link Drain#display()} form,
     *                         never by its credentials
     */
    static LogDrainSettings resolve(Map<String, String> env, int queueLines) {
        String value = env.get(SETTING);
        List<Drain> drains = new ArrayList<>();
        if (value != null && !value.isBlank()) {
            String[] items = value.split(",");
            for (int i = 0; i < items.length; i++) {
                String item = items[i].strip();
                if (!item.isEmpty()) {
                    drains.add(parse(item, i + 1));
                }
            }
        }
        Optional<Path> caFile = caFile(env.get(CA_SETTING));
        return new LogDrainSettings(drains, caFile, hostname(env), queueLines);
    }

    private static final String EXPECTED = "expected syslog+tls://host:port, syslog://host:port or https://host/path";

    static Drain parse(String item, int position) {
        String which = "drain " + position;
        if (!item.contains("://")) {
            throw new ConfigException(SETTING, which + " has no scheme; " + EXPECTED);
        }
        URI uri;
        try {
            uri = new URI(item);
        } catch (URISyntaxException e) {
            // The text is not echoed: it may hold a token or a password.
            throw new ConfigException(SETTING, which + " is not a URL; " + EXPECTED);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        Transport transport = switch (scheme) {
            case "syslog+tls" -> Transport.SYSLOG_TLS;
            case "syslog" -> Transport.SYSLOG_TCP;
            case "https" -> Transport.HTTPS;
            case "http" -> throw new ConfigException(SETTING, which + " is plain http: log lines (and the drain's "
                    + "credentials) would cross the network in clear; use https");
            case "" -> throw new ConfigException(SETTING, which + " has no scheme; " + EXPECTED);
            default -> throw new ConfigException(SETTING, which + " has the unsupported scheme '" + printable(scheme)
                    + "'; " + EXPECTED);
        };
        String host = uri.getHost();
        if (host == null || host.isEmpty()) {
            throw new ConfigException(SETTING, which + " (" + scheme + ") has no host, or a port that is not a number; " + EXPECTED);
        }
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port = uri.getPort();
        String shown = scheme + "://" + host;
        if (transport == Transport.HTTPS) {
            port = port == -1 ? 443 : port;
        } else {
            if (port == -1) {
                throw new ConfigException(SETTING, which + " (" + shown + ") has no port; a syslog drain needs one, as in "
                        + scheme + "://" + host + ":6514");
            }
            if (uri.getRawUserInfo() != null || (uri.getRawPath() != null && !uri.getRawPath().isEmpty()
                    && !uri.getRawPath().equals("/")) || uri.getRawQuery() != null || uri.getRawFragment() != null) {
                throw new ConfigException(SETTING, which + " (" + shown + ":" + port + ") has a user, path or query; a "
                        + "syslog drain is only scheme://host:port");
            }
        }
        if (port < 1 || port > 65535) {
            throw new ConfigException(SETTING, which + " (" + shown + ") has a port out of range; expected 1 to 65535");
        }
        if (uri.getRawFragment() != null) {
            throw new ConfigException(SETTING, which + " (" + shown + ") has a fragment; remove it");
        }
        return new Drain(transport, host, port, uri);
    }

    /** A scheme is not a secret, but it is user input: only letters, digits and {@code +.-} are echoed. */
    private static String printable(String text) {
        return text.length() <= 20 && text.matches("[a-z0-9+.-]*") ? text : "(unprintable)";
    }

    private static Optional<Path> caFile(String value) {
        if (value == null || value.isBlank()) {
            return Optional.empty();
        }
        Path file;
        try {
            file = Path.of(value.strip()).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            throw new ConfigException(CA_SETTING, "not a valid path");
        }
        readCertificates(file);
        return Optional.of(file);
    }

    /**
     * The certificates of a PEM file.
     *
     * @throws ConfigException naming {@code SILO_LOG_DRAINS_CA} when the file cannot be read or holds none
     */
    public static List<X509Certificate> readCertificates(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            List<X509Certificate> certificates = new ArrayList<>();
            for (var certificate : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                certificates.add((X509Certificate) certificate);
            }
            if (certificates.isEmpty()) {
                throw new ConfigException(CA_SETTING, file + " holds no certificate; expected PEM (-----BEGIN CERTIFICATE-----)");
            }
            return certificates;
        } catch (IOException e) {
            throw new ConfigException(CA_SETTING, "cannot read " + file + " (" + e.getClass().getSimpleName() + ")");
        } catch (CertificateException e) {
            throw new ConfigException(CA_SETTING, file + " is not a PEM certificate file (" + e.getMessage() + ")");
        }
    }

    /**
     * RFC 5424 §6.2.4: HOSTNAME is 1 to 255 printable US-ASCII characters. {@code DYNO} ({@code web.1}) is what
     * Heroku's own lines name a dyno by.
     */
    static String hostname(Map<String, String> env) {
        String name = Optional.ofNullable(env.get("SILO_HOSTNAME")).filter(h -> !h.isBlank())
                .or(() -> Optional.ofNullable(env.get("DYNO")).filter(h -> !h.isBlank()))
                .orElseGet(LogDrainSettings::localHostName);
        String printable = name.strip().replaceAll("[^!-~]", "_");
        if (printable.isEmpty()) {
            return "-";
        }
        return printable.length() > 255 ? printable.substring(0, 255) : printable;
    }

    private static String localHostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "-";
        }
    }
}
