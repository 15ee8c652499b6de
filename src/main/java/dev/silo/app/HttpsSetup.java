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
     * Reads and checks the configured certificate and key.
     *
     * @throws ConfigException naming {@code SILO_TLS_CERT_FILE} or {@code SILO_TLS_KEY_FILE}
     */
    static void checkFiles(HttpsConfig https) {
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
        HttpsConfig https = config.tuning().https();
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
