package dev.silo.metrics;

import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code GET /metrics} scraped after real requests (README "Observability", claim C21). A request's meters are
 * recorded after its answer was sent, as its {@code api} line is, so each expected count is awaited.
 */
class MetricsTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static final String REQUESTS = "silo_http_server_requests_seconds_count";

    private static Silo silo;
    private static TestingHttp http;
    private static TestingHttp operator;
    private static Tenant tenant;
    private static String adminId;
    private static Silo labelled;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        http = new TestingHttp(silo.baseUri());
        operator = http.withBearer(TestingSilo.operatorKey(silo));
        tenant = silo.tenants().create("metrics-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(),
                Actor.SYSTEM);
        var admin = operator.post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(admin.status()).as(admin.body()).isEqualTo(201);
        adminId = admin.json().get("id").asText();
    }

    @AfterAll
    static void stop() {
        if (labelled != null) {
            labelled.close();
        }
    }

    private static Scrape scrape() {
        var response = operator.get("/metrics");
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        assertThat(response.contentType()).isEqualTo("text/plain; version=0.0.4; charset=utf-8");
        return new Scrape(response.body());
    }

    private static void awaitDelta(Scrape before, String name, Map<String, String> labels, double delta) {
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                assertThat(scrape().sum(name, labels) - before.sum(name, labels)).as(name + labels).isEqualTo(delta));
    }

    private static TestingHttp.Response login(String email, String password) {
        return http.post("/t/" + tenant.slug() + "/auth/login", "{\"email\":\"" + email + "\",\"password\":\"" + password + "\"}");
    }

    @Test
    void requestsAreCountedByRouteTemplateMethodAndStatusWithHistogramBuckets() {
        Scrape before = scrape();
        for (int i = 0; i < 3; i++) {
            assertThat(http.get("/health/live").status()).isEqualTo(200);
        }
        assertThat(http.get("/t/" + tenant.slug() + "/me").status()).isEqualTo(401);
        assertThat(http.withBearer("not-a-token").get("/t/" + tenant.slug() + "/me").status()).isEqualTo(401);
        String token = login("admin@example.com", PASSWORD).json().get("access_token").asText();
        assertThat(http.withBearer(token).get("/t/" + tenant.slug() + "/me").status()).isEqualTo(200);

        awaitDelta(before, REQUESTS, Map.of("route", "/health/live", "method", "GET", "status", "200"), 3);
        awaitDelta(before, REQUESTS, Map.of("route", "/t/{tenant}/me", "method", "GET", "status", "401"), 2);
        awaitDelta(before, REQUESTS, Map.of("route", "/t/{tenant}/me", "method", "GET", "status", "200"), 1);
        awaitDelta(before, REQUESTS, Map.of("route", "/t/{tenant}/auth/login", "method", "POST", "status", "200"), 1);
        Scrape after = scrape();
        // Histogram buckets (p50 and p99 by histogram_quantile), the +Inf one counting every request.
        assertThat(after.sum("silo_http_server_requests_seconds_bucket",
                Map.of("route", "/health/live", "method", "GET", "status", "200", "le", "+Inf")))
                .isEqualTo(after.sum(REQUESTS, Map.of("route", "/health/live", "method", "GET", "status", "200")));
        assertThat(after.text().lines().filter(line -> line.startsWith("silo_http_server_requests_seconds_bucket{")
                && line.contains("route=\"/health/live\"")).count()).as("buckets from 1 ms to 30 s").isGreaterThan(10);
        assertThat(after.has("silo_http_server_requests_seconds_sum", Map.of("route", "/metrics", "status", "200"))).isTrue();
    }

    @Test
    void pathsNoRouteHasAreOneUnmatchedSeriesAndNeverALabel() {
        Scrape before = scrape();
        String first = UUID.randomUUID().toString();
        String second = UUID.randomUUID().toString();
        assertThat(http.get("/no-such-" + first).status()).isEqualTo(404);
        assertThat(http.get("/t/" + tenant.slug() + "/no-such-" + second).status()).isEqualTo(404);
        assertThat(http.send(http.request("/health/live").method("BREW", java.net.http.HttpRequest.BodyPublishers.noBody())
                .build()).status()).isEqualTo(405);

        awaitDelta(before, REQUESTS, Map.of("route", "(unmatched)", "method", "GET", "status", "404"), 2);
        awaitDelta(before, REQUESTS, Map.of("route", "(unmatched)", "method", "other", "status", "405"), 1);
        Scrape after = scrape();
        assertThat(after.text()).doesNotContain(first).doesNotContain(second).doesNotContain("BREW").doesNotContain("no-such-");
    }

    @Test
    void loginsAreCountedByOutcome() {
        Scrape before = scrape();
        assertThat(login("admin@example.com", "wrong password entirely").status()).isEqualTo(401);
        assertThat(login("nobody-" + UUID.randomUUID() + "@example.com", PASSWORD).status()).isEqualTo(401);
        assertThat(login("admin@example.com", PASSWORD).status()).isEqualTo(200);
        assertThat(http.post("/t/" + tenant.slug() + "/auth/login", "{\"email\":\"admin@example.com\"}").status()).isEqualTo(400);

        awaitDelta(before, "silo_logins_total", Map.of("outcome", "wrong-password"), 1);
        awaitDelta(before, "silo_logins_total", Map.of("outcome", "unknown-email"), 1);
        awaitDelta(before, "silo_logins_total", Map.of("outcome", "success"), 1);
        awaitDelta(before, "silo_logins_total", Map.of("outcome", "invalid-request"), 1);
        assertThat(scrape().has("silo_logins_total", Map.of("outcome", "throttled"))).as("every outcome from the start").isTrue();
    }

    @Test
    void failedTokenChecksAreCountedByReasonWhileEveryClientGetsTheSameAnswer() {
        Scrape before = scrape();
        String me = "/t/" + tenant.slug() + "/me";
        var missing = http.get(me);
        var malformed = http.withBearer("a.b.c").get(me);
        String hs512 = b64("{\"alg\":\"HS512\",\"typ\":\"JWT\"}") + "." + b64("{\"sub\":\"x\"}") + "." + b64("sig");
        var otherAlgorithm = http.withBearer(hs512).get(me);
        assertThat(missing.status()).isEqualTo(401);
        for (var refused : new TestingHttp.Response[] {malformed, otherAlgorithm}) {
            assertThat(refused.status()).isEqualTo(401);
            assertThat(refused.header("WWW-Authenticate")).isEqualTo("Bearer error=\"invalid_token\"");
            assertThat(refused.json().get("detail").asText()).isEqualTo("the access token is invalid or expired");
        }
        awaitDelta(before, "silo_token_checks_failed_total", Map.of("reason", "missing"), 1);
        awaitDelta(before, "silo_token_checks_failed_total", Map.of("reason", "malformed"), 1);
        awaitDelta(before, "silo_token_checks_failed_total", Map.of("reason", "header"), 1);
    }

    @Test
    void noTenantSlugUserIdOrEmailIsInTheOutputByDefault() {
        assertThat(login("admin@example.com", PASSWORD).status()).isEqualTo(200);
        assertThat(login("admin@example.com", "wrong password entirely").status()).isEqualTo(401);
        await().atMost(Duration.ofSeconds(20)).until(() -> scrape().sum("silo_logins_total", Map.of()) > 0);
        Scrape scrape = scrape();
        assertThat(scrape.text()).doesNotContain(tenant.slug()).doesNotContain(tenant.id().toString()).doesNotContain(adminId)
                .doesNotContain("admin@example.com");
        assertThat(scrape.labelNames()).doesNotContain("tenant", "user", "user_id", "slug");
    }

    @Test
    void metricsWithoutAValidOperatorKeyGetTheSame401ProblemAsTheAdminRoutes() {
        var admin = http.get("/admin/tenants");
        for (TestingHttp client : new TestingHttp[] {http, http.withBearer("silo_op_not-a-real-key"), http.withBearer("garbage")}) {
            var refused = client.get("/metrics");
            assertThat(refused.status()).isEqualTo(401);
            assertThat(refused.contentType()).isEqualTo("application/problem+json");
            assertThat(refused.header("WWW-Authenticate")).isEqualTo(admin.header("WWW-Authenticate"));
            assertThat(refused.json().get("type").asText()).isEqualTo(admin.json().get("type").asText());
            assertThat(refused.body()).doesNotContain("silo_http").doesNotContain("jvm_");
        }
    }

    @Test
    void theNodesPartsAreGauged() {
        Scrape scrape = scrape();
        assertThat(scrape.sum("silo_tenants", Map.of("status", "active"))).isGreaterThanOrEqualTo(1);
        assertThat(scrape.has("silo_tenants", Map.of("status", "suspended"))).isTrue();
        assertThat(scrape.sum("silo_tenant_connections_budget", Map.of())).isEqualTo(silo.config().tuning().tenantConnections());
        assertThat(scrape.sum("silo_bcrypt_threads", Map.of())).isEqualTo(silo.config().tuning().hashingThreads());
        for (String name : new String[] {"silo_tenant_pools_open", "silo_tenant_connections_open", "silo_tenant_connections_idle",
                "silo_tenant_connections_waiting", "silo_bcrypt_queued", "silo_bcrypt_running", "silo_bcrypt_places_free",
                "silo_bulk_work_queued", "silo_http_connections_open", "silo_http_connections_refused_total",
                "silo_rate_limited_total", "jvm_memory_used_bytes", "jvm_threads_live_threads", "jvm_gc_memory_allocated_bytes_total",
                "process_uptime_seconds", "process_cpu_usage", "system_cpu_count", "process_files_open_files",
                "silo_backup_wal_lag_seconds", "silo_backup_wal_receiver_connected", "silo_backup_base_last_age_seconds",
                "silo_backup_drill_last_passed", "silo_log_drain_dropped_total", "silo_log_api_dropped_total"}) {
            assertThat(scrape.has(name, Map.of())).as(name).isTrue();
        }
        assertThat(scrape.sum("hikaricp_connections_max", Map.of("pool", "catalog"))).isEqualTo(8);
        assertThat(scrape.text()).as("tenant pools are not given to HikariCP's tracker: their names hold the slug")
                .doesNotContain("pool=\"tenant-");
    }

    @Test
    void withTenantLabelsLoginsNameTheTenantAndTheLoopbackListenerServesWithoutAKey() throws Exception {
        labelled = TestingSilo.startOnSharedCatalog("metrics-labels", Map.of("SILO_METRICS_TENANT_LABELS", "true",
                "SILO_METRICS_PORT", "0", "SILO_LOGIN_MAX_FAILURES", "1", "SILO_RATE_LIMIT_ADMIN", "1/min,1",
                // Rollbar on, towards a port nobody listens on: only the report meters are looked at here.
                "ROLLBAR_ACCESS_TOKEN", "metricstesttoken0123456789", "SILO_ROLLBAR_ENDPOINT", "http://127.0.0.1:9/api/1/item/"));
        TestingHttp node = new TestingHttp(labelled.baseUri());
        String login = "/t/" + tenant.slug() + "/auth/login";
        String wrong = "{\"email\":\"admin@example.com\",\"password\":\"wrong password entirely\"}";
        assertThat(node.post(login, wrong).status()).isEqualTo(401);
        var throttled = node.post(login, wrong);
        assertThat(throttled.status()).isEqualTo(429);
        assertThat(throttled.json().get("type").asText()).endsWith("/login-throttled");
        assertThat(node.get("/metrics").status()).isEqualTo(401);
        var limited = node.get("/metrics");
        assertThat(limited.status()).as("/metrics is in the operator API's bucket").isEqualTo(429);
        assertThat(limited.json().get("type").asText()).endsWith("/rate-limited");

        int port = labelled.metricsPort().orElseThrow();
        TestingHttp loopback = new TestingHttp(URI.create("http://127.0.0.1:" + port));
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            var response = loopback.get("/metrics");
            assertThat(response.status()).isEqualTo(200);
            assertThat(response.contentType()).isEqualTo("text/plain; version=0.0.4; charset=utf-8");
            Scrape scrape = new Scrape(response.body());
            assertThat(scrape.sum("silo_logins_total", Map.of("outcome", "wrong-password", "tenant", tenant.slug()))).as("'silo_logins_total', Map.of('outcome', 'wrong-password', 'tenant', tenant.slug())").isEqualTo(1);
            assertThat(scrape.sum("silo_logins_total", Map.of("outcome", "throttled", "tenant", tenant.slug()))).as("'silo_logins_total', Map.of('outcome', 'throttled', 'tenant', tenant.slug())").isEqualTo(1);
            assertThat(scrape.sum("silo_http_refusals_total", Map.of("type", "login-throttled"))).as("'silo_http_refusals_total', Map.of('type', 'login-throttled')").isEqualTo(1);
            assertThat(scrape.sum("silo_http_refusals_total", Map.of("type", "rate-limited"))).as("'silo_http_refusals_total', Map.of('type', 'rate-limited')").isEqualTo(1);
            assertThat(scrape.sum("silo_rate_limited_total", Map.of("policy", "admin"))).as("'silo_rate_limited_total', Map.of('policy', 'admin')").isEqualTo(1);
            assertThat(scrape.sum(REQUESTS, Map.of("route", "/metrics", "status", "401"))).as("REQUESTS, Map.of('route', '/metrics', 'status', '401')").isEqualTo(1);
            // Refused by the rate limits before routing: no template is known yet, as the api line says.
            assertThat(scrape.sum(REQUESTS, Map.of("route", "(unmatched)", "status", "429"))).as("429 before routing").isEqualTo(1);
            assertThat(scrape.text()).as("user ids never, even with tenant labels").doesNotContain(adminId);
            for (String outcome : new String[] {"delivered", "failed", "dropped"}) {
                assertThat(scrape.has("silo_error_reports_total", Map.of("outcome", outcome))).as(outcome).isTrue();
            }
            assertThat(scrape.text()).as("the Rollbar token is no label").doesNotContain("metricstesttoken");
        });
        var other = loopback.get("/admin/tenants");
        assertThat(other.status()).as("the loopback listener serves /metrics only").isEqualTo(404);
        assertThat(other.contentType()).isEqualTo("application/problem+json");

        Optional<InetAddress> external = nonLoopbackAddress();
        assumeThat(external).as("a non-loopback IPv4 address on this machine").isPresent();
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(external.get(), port), 2000);
            throw new AssertionError("the metrics port answered on " + external.get());
        } catch (ConnectException expected) {
            // bound to 127.0.0.1 only
        }
    }

    private static Optional<InetAddress> nonLoopbackAddress() throws SocketException {
        return NetworkInterface.networkInterfaces()
                .filter(nic -> {
                    try {
                        return nic.isUp() && !nic.isLoopback();
                    } catch (SocketException e) {
                        return false;
                    }
                })
                .flatMap(NetworkInterface::inetAddresses)
                .filter(address -> address instanceof Inet4Address && !address.isLoopbackAddress())
                .findFirst();
    }

    private static String b64(String json) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(json.getBytes(StandardCharsets.UTF_8));
    }

}
