package dev.silo.app;

import dev.silo.platform.db.TlsMaterial;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A node serving HTTPS itself (claim C9): {@code SILO_TLS=self-signed} generates a CA and certificate (covering
 * the public host) into the data directory with owner-only modes, and bad TLS settings stop {@code silo serve}
 * with one line naming the setting and exit status 2, before PostgreSQL starts.
 */
class HttpsNodeTest {
    @Test
    void aSelfSignedNodeServesHttpsToAClientThatTrustsTheGeneratedCa() throws Exception {
        Path dataDir = TestingSilo.newDataDir("self-signed");
        try (Silo silo = TestingSilo.startNew(dataDir, Map.of("SILO_TLS", "self-signed", "SILO_PUBLIC_URL", "https://silo.example.test"))) {
            assertThat(silo.baseUri().getScheme()).isEqualTo("https");
            Path ca = dataDir.resolve(HttpsSetup.SELF_SIGNED_DIR).resolve("ca.crt");
            Path key = dataDir.resolve(HttpsSetup.SELF_SIGNED_DIR).resolve("server.key");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
            X509Certificate server = read(dataDir.resolve(HttpsSetup.SELF_SIGNED_DIR).resolve("server.crt"));
            assertThat(server.getSubjectAlternativeNames()).extracting(entry -> String.valueOf(entry.get(1)))
                    .contains("localhost", "127.0.0.1", "silo.example.test");

            HttpClient client = HttpClient.newBuilder().sslContext(trusting(ca)).version(HttpClient.Version.HTTP_1_1).build();
            HttpResponse<String> live = client.send(HttpRequest.newBuilder(silo.baseUri().resolve("/health/live"))
                    .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(live.statusCode()).isEqualTo(200);
            assertThat(live.headers().firstValue("Strict-Transport-Security")).hasValue("max-age=31536000; includeSubDomains");
        }
    }

    private record Run(int code, String err) {}

    private static Run serve(Map<String, String> settings) {
        Map<String, String> env = new HashMap<>(settings);
        env.put("SILO_DATA_DIR", TestingSilo.newDataDir("tls-config").toString());
        env.put("SILO_PORT", "0");
        env.put("SILO_HOST", "127.0.0.1");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(new String[] {"serve"}, env, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void badTlsSettingsStopTheStartWithOneLineNamingTheSetting() throws Exception {
        Path dir = TestingSilo.newDataDir("tls-files");
        TlsMaterial one = TlsMaterial.ensure(dir.resolve("one"), "Test CA one", List.of());
        TlsMaterial two = TlsMaterial.ensure(dir.resolve("two"), "Test CA two", List.of());

        Run onlyCertificate = serve(Map.of("SILO_TLS_CERT_FILE", one.serverCertificate().toString()));
        assertThat(onlyCertificate.code()).isEqualTo(2);
        assertThat(onlyCertificate.err()).startsWith("silo: SILO_TLS_KEY_FILE: required with SILO_TLS_CERT_FILE");

        Run wrongKey = serve(Map.of("SILO_TLS_CERT_FILE", one.serverCertificate().toString(),
                "SILO_TLS_KEY_FILE", two.serverKey().toString()));
        assertThat(wrongKey.code()).isEqualTo(2);
        assertThat(wrongKey.err()).startsWith("silo: SILO_TLS_KEY_FILE:").contains("does not belong to the certificate")
                .doesNotContain("Exception").doesNotContain("\tat ");

        Run missing = serve(Map.of("SILO_TLS_CERT_FILE", dir.resolve("absent.crt").toString(),
                "SILO_TLS_KEY_FILE", one.serverKey().toString()));
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).startsWith("silo: SILO_TLS_CERT_FILE: cannot read").contains("no such file");

        Run unknownMode = serve(Map.of("SILO_TLS", "on"));
        assertThat(unknownMode.code()).isEqualTo(2);
        assertThat(unknownMode.err()).startsWith("silo: SILO_TLS: expected self-signed or off");

        // Behind Heroku's router without SILO_TRUSTED_PROXIES every request would look like plain HTTP: a redirect loop.
        Run herokuWithoutProxies = serve(Map.of("DYNO", "web.1"));
        assertThat(herokuWithoutProxies.code()).isEqualTo(2);
        assertThat(herokuWithoutProxies.err()).startsWith("silo: SILO_REQUIRE_HTTPS: is on").contains("SILO_TRUSTED_PROXIES");
        Run requiredWithoutTls = serve(Map.of("SILO_REQUIRE_HTTPS", "true"));
        assertThat(requiredWithoutTls.code()).isEqualTo(2);

        Run badRequire = serve(Map.of("SILO_REQUIRE_HTTPS", "maybe"));
        assertThat(badRequire.code()).isEqualTo(2);
        assertThat(badRequire.err()).startsWith("silo: SILO_REQUIRE_HTTPS: expected true or false");
    }

    @Test
    void requireHttpsIsOnByDefaultOnHerokuOnly() {
        var config = dev.silo.platform.config.SiloConfig.Tuning.from(Map.of());
        assertThat(config.https().requireHttps()).isFalse();
        assertThat(dev.silo.platform.config.SiloConfig.Tuning.from(Map.of("DYNO", "web.1")).https().requireHttps()).isTrue();
        assertThat(dev.silo.platform.config.SiloConfig.Tuning.from(Map.of("DYNO", "web.1", "SILO_REQUIRE_HTTPS", "false"))
                .https().requireHttps()).isFalse();
        assertThat(dev.silo.platform.config.SiloConfig.Tuning.from(Map.of("SILO_REQUIRE_HTTPS", "true")).https().requireHttps()).isTrue();
    }

    private static X509Certificate read(Path pem) throws Exception {
        try (InputStream in = Files.newInputStream(pem)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    private static SSLContext trusting(Path ca) throws Exception {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        store.setCertificateEntry("ca", read(ca));
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(store);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        return context;
    }
}
