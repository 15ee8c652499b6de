package dev.silo.app;

import dev.silo.platform.config.ConfigException;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.db.TlsMaterial;
import dev.silo.platform.http.HttpsConfig;
import dev.silo.platform.http.ServerCertificate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns the HTTPS settings into certificate files the HTTP server can serve (claim C9): given files are checked
 * before anything else starts, so a key that is not the certificate's fails in milliseconds with exit status 2;
 * {@code SILO_TLS=self-signed} generates a CA and a server certificate into the data directory, with the same
 * generator (and the same owner-only file modes) as the embedded PostgreSQL's.
 */
final class HttpsSetup {
    private static final Logger log = LoggerFactory.getLogger(HttpsSetup.class);
    /** Under the data directory, next to (not inside) the PostgreSQL material: the two never share a CA. */
    static final String SELF_SIGNED_DIR = "https";

    private HttpsSetup() {}

    /**
     * Reads and checks the configured certificate and key, and that {@code SILO_REQUIRE_HTTPS} can ever be met.
     *
     * @throws ConfigException naming {@code SILO_TLS_CERT_FILE}, {@code SILO_TLS_KEY_FILE} or {@code SILO_REQUIRE_HTTPS}
     */
    static void check(SiloConfig.Tuning tuning) {
        HttpsConfig https = tuning.https();
        if (https.requireHttps() && !https.servesTls() && !tuning.trustedProxies().any()) {
            // Behind a TLS-terminating router that is not trusted, every request looks like plain HTTP: each GET
            // would be redirected to the URL the client just used, forever, and every write refused.
            throw new ConfigException("SILO_REQUIRE_HTTPS", "is on (set, or the default where DYNO is set) but Silo neither serves TLS (SILO_TLS_CERT_FILE) nor trusts a proxy to say the client used https "
                    + "(SILO_TRUSTED_PROXIES, for example heroku): every request would be refused or redirected forever; "
                    + "set SILO_TRUSTED_PROXIES, or SILO_REQUIRE_HTTPS=false");
        }
        if (https.certificateFile().isEmpty()) {
            return;
        }
        try {
            ServerCertificate.load(https.certificateFile().get(), https.keyFile().orElseThrow());
        } catch (ServerCertificate.Invalid e) {
            throw new ConfigException(e.setting(), e.getMessage());
        }
    }

    /** The settings with {@code self-signed} resolved to files in the data directory (generated on first use). */
    static HttpsConfig resolve(SiloConfig config) {
        HttpsConfig https = config.tuning().https().withPublicUrl(config.publicUrl());
        if (!https.selfSigned()) {
            return https;
        }
        List<String> names = new ArrayList<>();
        config.publicUrl().map(java.net.URI::getHost).map(host -> host.startsWith("[") ? host.substring(1, host.length() - 1) : host)
                .ifPresent(names::add);
        Path dir = config.dataDir().resolve(SELF_SIGNED_DIR);
        TlsMaterial material = TlsMaterial.ensure(dir, "Silo development HTTPS CA", names);
        log.warn("SILO_TLS=self-signed: serving HTTPS with a generated certificate for localhost, 127.0.0.1{}. Clients must "
                + "trust its CA, {} (for curl: --cacert {}); for production set SILO_TLS_CERT_FILE and SILO_TLS_KEY_FILE",
                names.isEmpty() ? "" : " and " + names.getFirst(), material.caCertificate(), material.caCertificate());
        return https.withFiles(material.serverCertificate(), material.serverKey());
    }
}
