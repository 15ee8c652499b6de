package dev.silo.platform.http;

import dev.silo.platform.db.TlsMaterial;
import dev.silo.testing.TestingLogs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * HTTPS at the edge (claim C9, issue 14.4): a certificate from PEM files served with TLS 1.2+ and AEAD suites only,
 * HSTS on every response that reached the client over TLS (directly or through a trusted proxy) and never over plain
 * HTTP, a renewed certificate put into service without a restart, and {@code SILO_REQUIRE_HTTPS}. A bare HTTP server
 * with two routes: no database needed.
 */
class HttpsTest {
    private final List<AutoCloseable> resources = new ArrayList<>();

    @TempDir
    Path dir;

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable resource : resources.reversed()) {
            resource.close();
        }
    }

    private HttpServer start(HttpsConfig https, TrustedProxies proxies) {
        return start(https, proxies, ConnectionLimits.defaults());
    }

    private HttpServer start(HttpsConfig https, TrustedProxies proxies, ConnectionLimits limits) {
        HttpServer server = HttpServer.start(new HttpServer.Settings("127.0.0.1", 0, Duration.ofSeconds(1), limits,
                proxies, https), routes -> routes
                .get("/ping", (request, response) -> Json.ok(response, Map.of("pong", true)))
                .post("/ping", (request, response) -> Json.ok(response, Map.of("pong", true)))
                .get("/health/live", (request, response) -> Json.ok(response, Map.of("status", "live"))));
        resources.add(server);
        return server;
    }

    /** Certificate files as a renewal tool leaves them: the served paths, whatever CA issued them. */
    private HttpsConfig served(TlsMaterial material) throws IOException {
        Path certificate = dir.resolve("served.crt");
        Path key = dir.resolve("served.key");
        replace(material.serverCertificate(), certificate);
        replace(material.serverKey(), key);
        return new HttpsConfig(Optional.of(certificate), Optional.of(key), false, false, Duration.ofMillis(200));
    }

    /** Written next to the target and renamed over it, as certbot and Kubernetes secret mounts do. */
    private static void replace(Path from, Path to) throws IOException {
        Path temp = to.resolveSibling(to.getFileName() + ".new");
        Files.copy(from, temp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(temp, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static X509Certificate read(Path pem) throws Exception {
        try (InputStream in = Files.newInputStream(pem)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    /** An SSL context that trusts only {@code ca}: what a user does with the generated CA. */
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

    private static HttpResponse<String> get(HttpClient client, URI uri, Map<String, String> headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30));
        headers.forEach(request::header);
        return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpClient plainClient() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /** The certificate a new TLS connection is served (a fresh socket: no session to resume). */
    private static X509Certificate presented(HttpServer server, SSLContext context) throws IOException {
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", server.port())) {
            socket.setSoTimeout(10_000);
            socket.startHandshake();
            return (X509Certificate) socket.getSession().getPeerCertificates()[0];
        }
    }

    @Test
    void servesHttpsWithTheGivenCertificateAndHstsOnEveryResponse() throws Exception {
        TlsMaterial material = TlsMaterial.ensure(dir.resolve("first"), "Test CA", List.of());
        HttpServer server = start(served(material), TrustedProxies.none());
        assertThat(server.tls()).isTrue();
        HttpClient client = HttpClient.newBuilder().sslContext(trusting(material.caCertificate())).version(HttpClient.Version.HTTP_1_1).build();
        var ok = get(client, URI.create("https://localhost:" + server.port() + "/ping"), Map.of());
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.headers().firstValue("Strict-Transport-Security")).hasValue("max-age=31536000; includeSubDomains");
        var missing = get(client, URI.create("https://127.0.0.1:" + server.port() + "/nothing-here"), Map.of());
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(missing.headers().firstValue("Strict-Transport-Security")).isPresent();
        assertThat(presented(server, trusting(material.caCertificate()))).isEqualTo(read(material.serverCertificate()));
        // An answer Helidon gives before routing (here 414) carries it too.
        try (SSLSocket socket = (SSLSocket) trusting(material.caCertificate()).getSocketFactory().createSocket("127.0.0.1", server.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("GET /ping?q=" + "a".repeat(HttpServer.MAX_REQUEST_LINE_BYTES)
                    + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            String answer = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII);
            assertThat(answer).startsWith("HTTP/1.1 414").containsIgnoringCase("Strict-Transport-Security: max-age=31536000");
        }
    }

    @Test
    void aTlsHandshakeThatNeverCompletesIsClosedByTheHeaderDeadlineAndCountsAgainstTheAddressCap() throws Exception {
        TlsMaterial material = TlsMaterial.ensure(dir.resolve("first"), "Test CA", List.of());
        // The guard admits a connection before its handshake: a client that opens TCP and never says hello is a
        // slowloris too, and the per-address cap and the head deadline apply to it.
        HttpServer server = start(served(material), TrustedProxies.none(),
                new ConnectionLimits(64, 2, Duration.ofSeconds(1), Duration.ofSeconds(300)));
        List<java.net.Socket> silent = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            java.net.Socket socket = new java.net.Socket("127.0.0.1", server.port());
            resources.add(socket);
            silent.add(socket);
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> server.refusedConnections() == 1);
        await().atMost(Duration.ofSeconds(30)).until(() -> server.headTimeouts() == 2);
        for (java.net.Socket socket : silent) {
            socket.setSoTimeout(10_000);
            assertThat(socket.getInputStream().read()).as("closed by the server").isEqualTo(-1);
        }
        assertThat(presented(server, trusting(material.caCertificate()))).isEqualTo(read(material.serverCertificate()));
    }

    @Test
    void oldProtocolsAndCbcOrRsaKeyExchangeSuitesAreRefused() throws Exception {
        TlsMaterial material = TlsMaterial.ensure(dir.resolve("first"), "Test CA", List.of());
        HttpServer server = start(served(material), TrustedProxies.none());
        SSLContext context = trusting(material.caCertificate());
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", server.port())) {
            socket.setSoTimeout(10_000);
            socket.setEnabledProtocols(new String[] {"TLSv1.2"});
            socket.setEnabledCipherSuites(new String[] {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256"});
            assertThatThrownBy(socket::startHandshake).isInstanceOf(SSLHandshakeException.class);
        }
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", server.port())) {
            socket.setSoTimeout(10_000);
            socket.setEnabledProtocols(new String[] {"TLSv1.2"});
            socket.setEnabledCipherSuites(new String[] {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"});
            socket.startHandshake();
            assertThat(socket.getSession().getProtocol()).isEqualTo("TLSv1.2");
        }
        // TLS 1.1 is disabled in the JDK client by default too; the server must refuse it on its own.
        assertThat(ServerCertificate.PROTOCOLS).containsExactly("TLSv1.3", "TLSv1.2");
        assertThat(ServerCertificate.CIPHER_SUITES).allSatisfy(suite -> assertThat(suite).doesNotContain("CBC")
                .matches("TLS_AES_.*|TLS_CHACHA20_.*|TLS_ECDHE_.*"));
    }

    @Test
    void aRenewedCertificateIsServedToNewConnectionsWithoutRestartAndABadOneKeepsTheOld() throws Exception {
        TestingLogs.install();
        TlsMaterial first = TlsMaterial.ensure(dir.resolve("first"), "Test CA one", List.of());
        TlsMaterial second = TlsMaterial.ensure(dir.resolve("second"), "Test CA two", List.of());
        HttpsConfig https = served(first);
        HttpServer server = start(https, TrustedProxies.none());
        SSLContext trustsBoth = trustingBoth(first.caCertificate(), second.caCertificate());
        assertThat(presented(server, trustsBoth)).isEqualTo(read(first.serverCertificate()));

        replace(second.serverCertificate(), https.certificateFile().orElseThrow());
        replace(second.serverKey(), https.keyFile().orElseThrow());
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                .until(() -> presented(server, trustsBoth).equals(read(second.serverCertificate())));
        HttpClient client = HttpClient.newBuilder().sslContext(trusting(second.caCertificate())).version(HttpClient.Version.HTTP_1_1).build();
        assertThat(get(client, URI.create("https://localhost:" + server.port() + "/ping"), Map.of()).statusCode()).isEqualTo(200);

        // A certificate whose key is another: refused, the renewed one stays, one error naming the problem.
        replace(first.serverCertificate(), https.certificateFile().orElseThrow());
        int before = errorsAboutTheFiles();
        await().atMost(Duration.ofSeconds(30)).until(() -> errorsAboutTheFiles() > before);
        Thread.sleep(1000); // five more polls of the same bad files: still one error
        assertThat(errorsAboutTheFiles()).isEqualTo(before + 1);
        assertThat(presented(server, trustsBoth)).isEqualTo(read(second.serverCertificate()));
    }

    private static int errorsAboutTheFiles() {
        return (int) TestingLogs.lines().stream().filter(line -> line.contains("cannot be used, so the previous certificate")
                && line.contains("does not belong to the certificate")).count();
    }

    private static SSLContext trustingBoth(Path one, Path two) throws Exception {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        store.setCertificateEntry("one", read(one));
        store.setCertificateEntry("two", read(two));
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(store);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        return context;
    }

    @Test
    void hstsIsAbsentOverPlainHttpAndPresentWhenATrustedProxySaysTheClientUsedHttps() throws Exception {
        HttpServer direct = start(HttpsConfig.none(), TrustedProxies.none());
        URI ping = URI.create("http://127.0.0.1:" + direct.port() + "/ping");
        HttpClient client = plainClient();
        assertThat(get(client, ping, Map.of()).headers().firstValue("Strict-Transport-Security")).isEmpty();
        // From an untrusted peer the header is the client's word, not a proxy's.
        assertThat(get(client, ping, Map.of("X-Forwarded-Proto", "https")).headers().firstValue("Strict-Transport-Security")).isEmpty();

        HttpServer proxied = start(HttpsConfig.none(), TrustedProxies.parse("127.0.0.1/32"));
        URI viaProxy = URI.create("http://127.0.0.1:" + proxied.port() + "/ping");
        assertThat(get(client, viaProxy, Map.of("X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.5"))
                .headers().firstValue("Strict-Transport-Security")).hasValue(HttpServer.HSTS);
        assertThat(get(client, viaProxy, Map.of("X-Forwarded-Proto", "http", "X-Forwarded-For", "203.0.113.5"))
                .headers().firstValue("Strict-Transport-Security")).isEmpty();

        // Answers Helidon gives before routing (here a body over the limit) carry HSTS behind the proxy too.
        String tooLarge = "POST /ping HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.5\r\n"
                + "Content-Type: application/json\r\nContent-Length: " + (HttpServer.MAX_PAYLOAD_BYTES + 1) + "\r\nConnection: close\r\n\r\n{}";
        assertThat(rawExchange(proxied.port(), tooLarge)).startsWith("HTTP/1.1 413")
                .containsIgnoringCase("Strict-Transport-Security: " + HttpServer.HSTS);
        assertThat(rawExchange(direct.port(), tooLarge)).startsWith("HTTP/1.1 413")
                .doesNotContainIgnoringCase("Strict-Transport-Security");
    }

    private static String rawExchange(int port, String head) throws IOException {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(head.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            StringBuilder head0 = new StringBuilder();
            InputStream in = socket.getInputStream();
            // The status line and headers: the server may close before the body it never read was sent.
            int b;
            while ((b = in.read()) >= 0) {
                head0.append((char) b);
                if (head0.length() >= 4 && head0.substring(head0.length() - 4).equals("\r\n\r\n")) {
                    break;
                }
            }
            return head0.toString();
        }
    }

    @Test
    void requireHttpsRedirectsPlainReadsRefusesWritesAndNeverRedirectsAToken() throws Exception {
        HttpServer server = start(HttpsConfig.none().withRequireHttps(true), TrustedProxies.parse("127.0.0.1/32"));
        HttpClient client = plainClient();
        String base = "http://127.0.0.1:" + server.port();

        var read = get(client, URI.create(base + "/ping?page=2&filter%5Bname%5D=Ada"), Map.of());
        assertThat(read.statusCode()).isEqualTo(308);
        assertThat(read.headers().firstValue("Location")).hasValue("https://127.0.0.1:" + server.port() + "/ping?page=2&filter%5Bname%5D=Ada");
        assertThat(read.headers().firstValue("Strict-Transport-Security")).isEmpty();

        var write = client.send(HttpRequest.newBuilder(URI.create(base + "/ping")).POST(HttpRequest.BodyPublishers.ofString("{}"))
                .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
        assertThat(write.statusCode()).isEqualTo(403);
        assertThat(write.body()).contains("/problems/https-required");
        assertThat(write.headers().firstValue("Content-Type")).hasValue("application/problem+json");

        var tokenOverPlainHttp = get(client, URI.create(base + "/ping"), Map.of("Authorization", "Bearer not-a-real-token"));
        assertThat(tokenOverPlainHttp.statusCode()).as("a token is refused, not redirected").isEqualTo(403);
        assertThat(tokenOverPlainHttp.headers().firstValue("Location")).isEmpty();
        assertThat(tokenOverPlainHttp.body()).contains("/problems/https-required").doesNotContain("not-a-real-token");

        // A trusted proxy that terminated TLS: served, with HSTS.
        var proxied = get(client, URI.create(base + "/ping"), Map.of("X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.5",
                "Authorization", "Bearer not-a-real-token"));
        assertThat(proxied.statusCode()).isEqualTo(200);
        assertThat(proxied.headers().firstValue("Strict-Transport-Security")).isPresent();

        // Health checks of the platform come over plain HTTP.
        assertThat(get(client, URI.create(base + "/health/live"), Map.of()).statusCode()).isEqualTo(200);
    }

    @Test
    void withAnHttpsPublicUrlPlainReadsAreRedirectedToItsHostWhateverHostTheClientSent() throws Exception {
        HttpServer server = start(HttpsConfig.none().withRequireHttps(true)
                .withPublicUrl(java.util.Optional.of(URI.create("https://api.example.com:8443"))), TrustedProxies.parse("127.0.0.1/32"));
        HttpClient client = plainClient();
        var read = get(client, URI.create("http://127.0.0.1:" + server.port() + "/ping?page=2"), Map.of());
        assertThat(read.statusCode()).isEqualTo(308);
        assertThat(read.headers().firstValue("Location")).hasValue("https://api.example.com:8443/ping?page=2");

        // An http public URL names no https host: the request's own Host is used.
        HttpServer plainPublic = start(HttpsConfig.none().withRequireHttps(true)
                .withPublicUrl(java.util.Optional.of(URI.create("http://api.example.com"))), TrustedProxies.parse("127.0.0.1/32"));
        assertThat(get(client, URI.create("http://127.0.0.1:" + plainPublic.port() + "/ping"), Map.of()).headers()
                .firstValue("Location")).hasValue("https://127.0.0.1:" + plainPublic.port() + "/ping");
    }

    @Test
    void badCertificateFilesAreRefusedWithAMessageNamingTheSetting() throws Exception {
        TlsMaterial first = TlsMaterial.ensure(dir.resolve("first"), "Test CA one", List.of());
        TlsMaterial second = TlsMaterial.ensure(dir.resolve("second"), "Test CA two", List.of());
        assertThatThrownBy(() -> ServerCertificate.load(first.serverCertificate(), second.serverKey()))
                .isInstanceOf(ServerCertificate.Invalid.class)
                .hasMessageContaining("does not belong to the certificate")
                .satisfies(e -> assertThat(((ServerCertificate.Invalid) e).setting()).isEqualTo("SILO_TLS_KEY_FILE"));
        assertThatThrownBy(() -> ServerCertificate.load(dir.resolve("absent.crt"), first.serverKey()))
                .hasMessageContaining("no such file")
                .satisfies(e -> assertThat(((ServerCertificate.Invalid) e).setting()).isEqualTo("SILO_TLS_CERT_FILE"));
        Path garbage = Files.writeString(dir.resolve("garbage.pem"), "not a certificate\n");
        assertThatThrownBy(() -> ServerCertificate.load(garbage, first.serverKey()))
                .satisfies(e -> assertThat(((ServerCertificate.Invalid) e).setting()).isEqualTo("SILO_TLS_CERT_FILE"));
        assertThatThrownBy(() -> ServerCertificate.load(first.serverCertificate(), garbage))
                .hasMessageContaining("holds no private key")
                .satisfies(e -> assertThat(((ServerCertificate.Invalid) e).setting()).isEqualTo("SILO_TLS_KEY_FILE"));
        // A chain (server certificate, then its CA) in one file is accepted.
        Path chain = dir.resolve("chain.pem");
        Files.writeString(chain, Files.readString(first.serverCertificate()) + Files.readString(first.caCertificate()));
        assertThat(ServerCertificate.load(chain, first.serverKey()).chain()).hasSize(2);
    }
}
