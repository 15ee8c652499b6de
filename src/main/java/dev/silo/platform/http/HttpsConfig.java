package dev.silo.platform.http;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * HTTPS at the edge (claim C9).
 *
 * @param certificateFile PEM certificate chain Silo serves TLS with ({@code SILO_TLS_CERT_FILE}); empty: plain HTTP
 * @param keyFile         its PKCS#8 PEM private key ({@code SILO_TLS_KEY_FILE}); present exactly when the certificate is
 * @param selfSigned      {@code SILO_TLS=self-signed}: generate both into the data directory (development)
 * @param requireHttps    answer plain-HTTP requests with a redirect or 403 ({@code SILO_REQUIRE_HTTPS})
 * @param reloadPeriod    how often the files are checked for a renewed certificate ({@code SILO_TLS_RELOAD_SECONDS})
 * @param redirectHost    where {@code SILO_REQUIRE_HTTPS} redirects plain reads: the host and port of an https
 *                        {@code SILO_PUBLIC_URL}; empty: the request's own {@code Host}
 */
public record HttpsConfig(Optional<Path> certificateFile, Optional<Path> keyFile, boolean selfSigned, boolean requireHttps,
                          Duration reloadPeriod, Optional<String> redirectHost) {
    public HttpsConfig {
        requireNonNull(certificateFile, "certificateFile is null");
        requireNonNull(keyFile, "keyFile is null");
        requireNonNull(reloadPeriod, "reloadPeriod is null");
        requireNonNull(redirectHost, "redirectHost is null");
        if (certificateFile.isPresent() != keyFile.isPresent()) {
            throw new IllegalArgumentException("a certificate file needs a key file and the other way round");
        }
        if (selfSigned && certificateFile.isPresent()) {
            throw new IllegalArgumentException("self-signed and certificate files exclude each other");
        }
        if (reloadPeriod.isNegative() || reloadPeriod.isZero()) {
            throw new IllegalArgumentException("reloadPeriod must be positive");
        }
    }

    public HttpsConfig(Optional<Path> certificateFile, Optional<Path> keyFile, boolean selfSigned, boolean requireHttps,
                       Duration reloadPeriod) {
        this(certificateFile, keyFile, selfSigned, requireHttps, reloadPeriod, Optional.empty());
    }

    /** Plain HTTP, nothing required. */
    public static HttpsConfig none() {
        return new HttpsConfig(Optional.empty(), Optional.empty(), false, false, Duration.ofSeconds(5));
    }

    /** Serves TLS itself (files given or to be generated). */
    public boolean servesTls() {
        return certificateFile.isPresent() || selfSigned;
    }

    /** The same settings serving {@code certificate} and {@code key} (what {@code self-signed} resolves to). */
    public HttpsConfig withFiles(Path certificate, Path key) {
        return new HttpsConfig(Optional.of(certificate), Optional.of(key), false, requireHttps, reloadPeriod, redirectHost);
    }

    public HttpsConfig withRequireHttps(boolean require) {
        return new HttpsConfig(certificateFile, keyFile, selfSigned, require, reloadPeriod, redirectHost);
    }

    /**
     * The same settings redirecting plain reads to {@code publicUrl}'s host when it is an https URL: the name the
     * operator configured, not whatever {@code Host} a client (or a misconfigured proxy) sent.
     */
    public HttpsConfig withPublicUrl(Optional<java.net.URI> publicUrl) {
        Optional<String> host = publicUrl.filter(url -> "https".equalsIgnoreCase(url.getScheme()))
                .map(java.net.URI::getRawAuthority).filter(authority -> !authority.isEmpty());
        return new HttpsConfig(certificateFile, keyFile, selfSigned, requireHttps, reloadPeriod, host);
    }
}
