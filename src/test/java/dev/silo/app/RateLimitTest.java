package dev.silo.app;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.audit.Actor;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Claim C8: the rate limits of one node, in memory (README "Rate limits"). Limits are small with a refill of one
 * a minute, so they trip deterministically however slow the machine is; nothing here measures a rate.
 */
class RateLimitTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static final String SLOW = "1/min,";
    private static Silo shared;
    private static String operatorKey;

    @BeforeAll
    static void start() {
        shared = TestingSilo.shared();
        operatorKey = TestingSilo.operatorKey(shared);
    }

    private static Tenant newTenant(String prefix) {
        return shared.tenants().create(prefix + "-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(), Actor.SYSTEM);
    }

    private static Silo node(String name, Map<String, String> env) {
        return TestingSilo.startOnSharedCatalog(name, env);
    }

    private static void assertRateLimited(TestingHttp.Response response, String policy) {
        assertThat(response.status()).as(response.body()).isEqualTo(429);
        assertThat(response.contentType()).isEqualTo("application/problem+json");
        JsonNode body = response.json();
        assertThat(body.get("type").asText()).endsWith("/rate-limited");
        assertThat(body.get("policy").asText()).isEqualTo(policy);
        assertThat(Long.parseLong(response.header("Retry-After"))).isPositive();
        assertThat(response.header("RateLimit-Policy")).contains("\"" + policy + "\";q=");
        assertThat(response.header("RateLimit")).contains("\"" + policy + "\";r=0;t=");
    }

    @Test
    void pastTheAddressLimitEveryRouteAnswers429WithRetryAfterAndTheRateLimitFields() {
        try (Silo node = node("rl-ip", Map.of("SILO_RATE_LIMIT_IP", SLOW + "5"))) {
            TestingHttp http = new TestingHttp(node.baseUri());
            for (int i = 0; i < 5; i++) {
                var ok = http.get("/health/live");
                assertThat(ok.status()).isEqualTo(200);
                assertThat(ok.header("RateLimit-Policy")).isEqualTo("\"ip\";q=5;w=300");
                assertThat(ok.header("RateLimit")).startsWith("\"ip\";r=" + (4 - i) + ";t=");
            }
            assertRateLimited(http.get("/health/live"), "ip");
            assertRateLimited(http.get("/no/such/route"), "ip");
            assertRateLimited(new TestingHttp(node.baseUri(), operatorKey).get("/admin/tenants"), "ip");
        }
    }

    @Test
    void aNoisyTenantIsLimitedWhileAQuietTenantsRequestsAllSucceed() {
        Tenant noisy = newTenant("noisy");
        Tenant quiet = newTenant("quiet");
        try (Silo node = node("rl-tenant", Map.of("SILO_RATE_LIMIT_TENANT", SLOW + "10"))) {
            TestingHttp http = new TestingHttp(node.baseUri());
            int noisyServed = 0;
            int noisyLimited = 0;
            int quietServed = 0;
            for (int round = 0; round < 30; round++) {
                // The noisy tenant sends three requests for each of the quiet one's.
                for (int i = 0; i < 3; i++) {
                    var response = http.get("/t/" + noisy.slug() + "/health");
                    if (response.status() == 200) {
                        noisyServed++;
                    } else {
                        assertRateLimited(response, "tenant");
                        noisyLimited++;
                    }
                }
                if (round % 3 == 0) {
                    var response = http.get("/t/" + quiet.slug() + "/health");
                    assertThat(response.status()).as(response.body()).isEqualTo(200);
                    quietServed++;
                }
            }
            assertThat(noisyServed).isEqualTo(10);
            assertThat(noisyLimited).isEqualTo(80);
            assertThat(quietServed).isEqualTo(10);
        }
    }

    @Test
    void theUnauthenticatedRoutesHaveTheirOwnStricterLimitPerAddress() {
        Tenant tenant = newTenant("rl-auth");
        try (Silo node = node("rl-auth", Map.of("SILO_RATE_LIMIT_AUTH", SLOW + "3"))) {
            TestingHttp http = new TestingHttp(node.baseUri());
            String login = "/t/" + tenant.slug() + "/auth/login";
            for (int i = 0; i < 3; i++) {
                assertThat(http.post(login, "{\"email\":\"nobody@example.com\",\"password\":\"wrong password here\"}").status())
                        .isEqualTo(401);
            }
            assertRateLimited(http.post(login, "{\"email\":\"nobody@example.com\",\"password\":\"wrong password here\"}"), "auth");
            // Checked before the body is read: a body that is not even JSON is refused the same way.
            assertRateLimited(http.post("/t/" + tenant.slug() + "/auth/refresh", "not json"), "auth");
            assertRateLimited(http.post("/t/" + tenant.slug() + "/auth/password-reset", "{}"), "auth");
            // Other routes of the tenant are not under this limit.
            assertThat(http.get("/t/" + tenant.slug() + "/health").status()).isEqualTo(200);
        }
    }

    @Test
    void writeRoutesArePerUserAndCheckedBeforeTheBodyIsRead() {
        Tenant tenant = newTenant("rl-user");
        TestingHttp operator = new TestingHttp(shared.baseUri(), operatorKey);
        assertThat(operator.post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}").status()).isEqualTo(201);
        try (Silo node = node("rl-user", Map.of("SILO_RATE_LIMIT_USER_WRITE", SLOW + "3"))) {
            TestingHttp http = new TestingHttp(node.baseUri());
            String token = http.post("/t/" + tenant.slug() + "/auth/login",
                    "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}").json().get("access_token").asText();
            TestingHttp admin = http.withBearer(token);
            String users = "/t/" + tenant.slug() + "/users";
            String member = "m" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
            var created = admin.post(users, "{\"email\":\"" + member + "\",\"role\":\"member\",\"password\":\"" + PASSWORD + "\"}");
            assertThat(created.status()).as(created.body()).isEqualTo(201);
            assertThat(admin.post(users, "{}").status()).isEqualTo(400);
            assertThat(admin.post(users, "{}").status()).isEqualTo(400);
            assertRateLimited(admin.post(users, "not json at all"), "user");
            // Reads are not write-limited.
            assertThat(admin.get("/t/" + tenant.slug() + "/me").status()).isEqualTo(200);
            // Another user of the same tenant has a bucket of its own.
            String memberToken = http.post("/t/" + tenant.slug() + "/auth/login",
                    "{\"email\":\"" + member + "\",\"password\":\"" + PASSWORD + "\"}").json().get("access_token").asText();
            assertThat(http.withBearer(memberToken).post(users, "{}").status()).isEqualTo(403);
        }
    }

    @Test
    void aRequestRefusedFromAnAllowedOriginCarriesTheCorsFieldsSoThePageCanReadThe429() {
        Tenant tenant = newTenant("rl-cors");
        String origin = "https://app.example.com";
        shared.tenants().setCorsOrigins(tenant.slug(), java.util.List.of(origin), Actor.SYSTEM);
        try (Silo node = node("rl-cors", Map.of("SILO_RATE_LIMIT_TENANT", SLOW + "2"))) {
            TestingHttp http = new TestingHttp(node.baseUri());
            String path = "/t/" + tenant.slug() + "/health";
            for (int i = 0; i < 2; i++) {
                assertThat(http.send(http.request(path).header("Origin", origin).build()).status()).isEqualTo(200);
            }
            var refused = http.send(http.request(path).header("Origin", origin).build());
            assertRateLimited(refused, "tenant");
            assertThat(refused.header("Access-Control-Allow-Origin")).isEqualTo(origin);
            assertThat(refused.header("Access-Control-Expose-Headers")).contains("Retry-After").contains("RateLimit");
            var preflight = http.send(http.request(path).header("Origin", origin).header("Access-Control-Request-Method", "GET")
                    .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).build());
            assertRateLimited(preflight, "tenant");
            assertThat(preflight.header("Access-Control-Allow-Origin")).isEqualTo(origin);
            // Another origin learns nothing it may not.
            var stranger = http.send(http.request(path).header("Origin", "https://evil.example").build());
            assertThat(stranger.status()).isEqualTo(429);
            assertThat(stranger.header("Access-Control-Allow-Origin")).isNull();
        }
    }

    @Test
    void theOperatorApiHasItsOwnLimit() {
        try (Silo node = node("rl-admin", Map.of("SILO_RATE_LIMIT_ADMIN", SLOW + "3"))) {
            TestingHttp operator = new TestingHttp(node.baseUri(), operatorKey);
            for (int i = 0; i < 3; i++) {
                assertThat(operator.get("/admin/tenants").status()).isEqualTo(200);
            }
            assertRateLimited(operator.get("/admin/tenants"), "admin");
            assertThat(operator.get("/health/live").status()).isEqualTo(200);
        }
    }

    @Test
    void anOperatorsLimitForATenantReachesEveryNodeFromTheApiAndTheCommandLine() throws Exception {
        Tenant tenant = newTenant("rl-override");
        String path = "/t/" + tenant.slug() + "/health";
        Map<String, String> env = Map.of("SILO_RATE_LIMIT_TENANT", SLOW + "3");
        try (Silo first = node("rl-override-a", env); Silo second = node("rl-override-b", env)) {
            TestingHttp onSecond = new TestingHttp(second.baseUri());
            for (int i = 0; i < 3; i++) {
                assertThat(onSecond.get(path).status()).isEqualTo(200);
            }
            assertRateLimited(onSecond.get(path), "tenant");

            TestingHttp operator = new TestingHttp(first.baseUri(), operatorKey);
            var patched = patch(operator, "/admin/tenants/" + tenant.slug(), "{\"rate_limit\":\"1/min,8\"}");
            assertThat(patched.status()).as(patched.body()).isEqualTo(200);
            assertThat(patched.json().get("rate_limit").asText()).isEqualTo("1/min,8");
            assertThat(operator.get("/admin/tenants/" + tenant.slug()).json().get("rate_limit").asText()).isEqualTo("1/min,8");
            // The second node learns of it through catalog events: a new limit is a fresh bucket.
            await().atMost(Duration.ofSeconds(30)).until(() -> onSecond.get(path).status() == 200);
            assertThat(onSecond.get(path).header("RateLimit-Policy")).isEqualTo("\"tenant\";q=8;w=480");

            for (String bad : new String[] {"{\"rate_limit\":\"fast\"}", "{\"rate_limit\":\"0/s,1\"}", "{}", "{\"rate_limit\":5}"}) {
                var refused = patch(operator, "/admin/tenants/" + tenant.slug(), bad);
                assertThat(refused.status()).as(bad + " " + refused.body()).isEqualTo(400);
            }
            assertThat(patch(new TestingHttp(first.baseUri()), "/admin/tenants/" + tenant.slug(), "{\"rate_limit\":\"off\"}").status())
                    .isEqualTo(401);

            Run run = cli("tenants", "set-limit", tenant.slug(), "off");
            assertThat(run.code()).as(run.err()).isZero();
            assertThat(run.out()).contains("off");
            await().atMost(Duration.ofSeconds(30)).until(() -> onSecond.get(path).header("RateLimit-Policy") == null);
            for (int i = 0; i < 20; i++) {
                assertThat(onSecond.get(path).status()).isEqualTo(200);
            }
            assertThat(cli("tenants", "set-limit", tenant.slug(), "lots").code()).isEqualTo(1);
            Run back = cli("tenants", "set-limit", tenant.slug(), "default", "--json");
            assertThat(back.code()).as(back.err()).isZero();
            assertThat(dev.silo.platform.http.Json.MAPPER.readTree(back.out()).get("rate_limit").asText()).isEqualTo("default");
            assertThat(operator.get("/admin/tenants/" + tenant.slug()).json().get("rate_limit").asText()).isEqualTo("default");
            await().atMost(Duration.ofSeconds(30)).until(() -> "\"tenant\";q=3;w=180".equals(onSecond.get(path).header("RateLimit-Policy")));
            assertThat(platformAudit(tenant, "tenant.rate-limit.set")).hasSize(3)
                    .anySatisfy(row -> assertThat(row).startsWith("operator:").contains("\"rate_limit\":\"1/min,8\""))
                    .anySatisfy(row -> assertThat(row).startsWith("cli:").contains("\"rate_limit\":\"off\""));
        }
    }

    private static TestingHttp.Response patch(TestingHttp http, String path, String json) {
        return http.send(http.request(path).header("Content-Type", "application/json")
                .method("PATCH", HttpRequest.BodyPublishers.ofString(json)).build());
    }

    private static java.util.List<String> platformAudit(Tenant tenant, String action) throws java.sql.SQLException {
        java.util.List<String> rows = new java.util.ArrayList<>();
        try (var connection = shared.catalog().getConnection();
             var select = connection.prepareStatement(
                     "SELECT actor, detail FROM platform_audit WHERE target = ? AND action = ? ORDER BY seq")) {
            select.setString(1, "tenant:" + tenant.slug());
            select.setString(2, action);
            try (var rs = select.executeQuery()) {
                while (rs.next()) {
                    rows.add(rs.getString("actor") + " " + rs.getString("detail"));
                }
            }
        }
        return rows;
    }

    private record Run(int code, String out, String err) {}

    private static Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        String[] full = new String[args.length + 2];
        System.arraycopy(args, 0, full, 0, args.length);
        full[args.length] = "--data-dir";
        full[args.length + 1] = shared.config().dataDir().toString();
        int code = Main.run(full, Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
