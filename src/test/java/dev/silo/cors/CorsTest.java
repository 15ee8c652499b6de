package dev.silo.cors;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Main;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.platform.db.CatalogEvents;
import dev.silo.platform.problem.BadRequest;
import dev.silo.tenant.CorsOrigins;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Issue 10.11: browser apps on other origins call a tenant's API when an operator or the tenant's admin allows
 * their origin; preflights are answered before authentication, from the tenant cache.
 */
class CorsTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static final String APP = "https://app.example.com";
    private static final String EVIL = "https://evil.example.net";
    private static Silo silo;
    private static TestingHttp http;
    private static TestingHttp operator;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        http = new TestingHttp(silo.baseUri());
        operator = http.withBearer(TestingSilo.operatorKey(silo));
    }

    private static Tenant newTenant(String prefix) {
        return silo.tenants().create(prefix + "-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(),
                Actor.SYSTEM);
    }

    private static TestingHttp.Response putOrigins(TestingHttp client, String path, String json) {
        return client.send(client.request(path).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(json)).build());
    }

    private static void allowAsOperator(Tenant tenant, String... origins) {
        var response = putOrigins(operator, "/admin/tenants/" + tenant.slug() + "/cors-origins",
                "{\"cors_origins\":" + jsonList(origins) + "}");
        assertThat(response.status()).as(response.body()).isEqualTo(200);
    }

    private static String jsonList(String... values) {
        List<String> quoted = new ArrayList<>();
        for (String value : values) {
            quoted.add("\"" + value + "\"");
        }
        return "[" + String.join(",", quoted) + "]";
    }

    /** What a browser sends before a POST with a bearer token and a JSON body: no Authorization. */
    private static TestingHttp.Response preflight(String path, String origin) {
        return http.send(http.request(path).header("Origin", origin).header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "authorization,content-type")
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).build());
    }

    private static TestingHttp.Response getFrom(TestingHttp client, String path, String origin) {
        return client.send(client.request(path).header("Origin", origin).GET().build());
    }

    private static TestingHttp adminOf(Tenant tenant) {
        return as(tenant, "admin");
    }

    private static TestingHttp as(Tenant tenant, String role) {
        String email = role + "-" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        if (role.equals("admin")) {
            var created = operator.post("/admin/tenants/" + tenant.slug() + "/admins",
                    "{\"email\":\"" + email + "\",\"password\":\"" + PASSWORD + "\"}");
            assertThat(created.status()).as(created.body()).isEqualTo(201);
        } else {
            var created = adminOf(tenant).post("/t/" + tenant.slug() + "/users",
                    "{\"email\":\"" + email + "\",\"role\":\"" + role + "\",\"password\":\"" + PASSWORD + "\"}");
            assertThat(created.status()).as(created.body()).isEqualTo(201);
        }
        var login = http.post("/t/" + tenant.slug() + "/auth/login", "{\"email\":\"" + email + "\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        return http.withBearer(login.json().get("access_token").asText());
    }

    private static void assertProblem(TestingHttp.Response response, int status, String type) {
        assertThat(response.status()).as(response.body()).isEqualTo(status);
        assertThat(response.contentType()).isEqualTo("application/problem+json");
        assertThat(response.json().get("type").asText()).isEqualTo("https://silo.dev/problems/" + type);
        assertThat(response.json().get("detail").asText()).isNotBlank();
        assertThat(response.json().get("request_id").asText()).isNotBlank();
    }

    private static void assertNoCors(TestingHttp.Response response) {
        assertThat(response.header("Access-Control-Allow-Origin")).isNull();
        assertThat(response.header("Access-Control-Allow-Methods")).isNull();
        assertThat(response.header("Access-Control-Expose-Headers")).isNull();
        assertThat(response.header("Access-Control-Allow-Credentials")).isNull();
    }

    private static void assertAllowsReadingFrom(TestingHttp.Response response, String origin) {
        assertThat(response.header("Access-Control-Allow-Origin")).isEqualTo(origin);
        assertThat(response.header("Vary")).isEqualTo("Origin");
        assertThat(response.header("Access-Control-Expose-Headers")).contains("ETag", "X-Request-Id", "Retry-After", "Location");
        assertThat(response.header("Access-Control-Allow-Credentials")).isNull();
    }

    private record Run(int code, String out, String err) {}

    private static Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        String[] full = new String[args.length + 2];
        System.arraycopy(args, 0, full, 0, args.length);
        full[args.length] = "--data-dir";
        full[args.length + 1] = silo.config().dataDir().toString();
        int code = Main.run(full, Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static List<String> platformAudit(Tenant tenant, String action) throws SQLException {
        List<String> rows = new ArrayList<>();
        try (Connection connection = silo.catalog().getConnection();
             PreparedStatement select = connection.prepareStatement(
                     "SELECT actor, detail FROM platform_audit WHERE target = ? AND action = ? ORDER BY seq")) {
            select.setString(1, "tenant:" + tenant.slug());
            select.setString(2, action);
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    rows.add(rs.getString("actor") + " " + rs.getString("detail"));
                }
            }
        }
        return rows;
    }

    @Test
    void aPreflightFromAnAllowedOriginIsAnswered204WithoutAuthorization() {
        Tenant tenant = newTenant("cors");
        allowAsOperator(tenant, APP, "http://localhost:3000");

        var response = preflight("/t/" + tenant.slug() + "/collections/notes/records", APP);
        assertThat(response.status()).as(response.body()).isEqualTo(204);
        assertThat(response.header("Access-Control-Allow-Origin")).isEqualTo(APP);
        assertThat(response.header("Access-Control-Allow-Methods")).contains("GET", "POST", "PUT", "PATCH", "DELETE");
        assertThat(response.header("Access-Control-Allow-Headers")).contains("Authorization", "Content-Type", "If-Match",
                "X-Request-Id");
        assertThat(response.header("Access-Control-Max-Age")).isEqualTo("600");
        assertThat(response.header("Vary")).isEqualTo("Origin");
        assertThat(response.header("Access-Control-Allow-Credentials")).isNull();
        assertThat(response.header("X-Request-Id")).isNotBlank();
        assertThat(response.body()).isEmpty();

        // The other listed origin too, each echoed as itself; a route that needs no token, and the login itself.
        assertThat(preflight("/t/" + tenant.slug() + "/me", "http://localhost:3000").header("Access-Control-Allow-Origin"))
                .isEqualTo("http://localhost:3000");
        assertThat(preflight("/t/" + tenant.slug() + "/auth/login", APP).status()).isEqualTo(204);
    }

    @Test
    void aPreflightFromADisallowedOriginIsA403ProblemWithoutAllowHeaders() {
        Tenant tenant = newTenant("cors");
        String path = "/t/" + tenant.slug() + "/collections/notes/records";

        // A new tenant allows no origin.
        var none = preflight(path, APP);
        assertProblem(none, 403, "cors-origin-not-allowed");
        assertNoCors(none);

        allowAsOperator(tenant, APP);
        var evil = preflight(path, EVIL);
        assertProblem(evil, 403, "cors-origin-not-allowed");
        assertThat(evil.json().get("detail").asText()).contains(EVIL).contains(tenant.slug());
        assertNoCors(evil);
        // The same host on another scheme or port is another origin.
        assertProblem(preflight(path, "http://app.example.com"), 403, "cors-origin-not-allowed");
        assertProblem(preflight(path, APP + ":8443"), 403, "cors-origin-not-allowed");
        // The browser's "null" origin (sandboxed frames, files) is never listed.
        assertProblem(preflight(path, "null"), 403, "cors-origin-not-allowed");

        assertProblem(preflight("/t/no-such-tenant-" + UUID.randomUUID().toString().substring(0, 8) + "/me", APP), 404,
                "tenant-not-found");
        // An OPTIONS that is not a preflight is still a wrong method.
        var plain = http.send(http.request(path).method("OPTIONS", HttpRequest.BodyPublishers.noBody()).build());
        assertProblem(plain, 405, "method-not-allowed");
    }

    @Test
    void actualRequestsFromAnAllowedOriginCarryTheHeadersOnSuccessAndOnEveryProblem() {
        Tenant tenant = newTenant("cors");
        TestingHttp admin = adminOf(tenant);
        allowAsOperator(tenant, APP);
        String me = "/t/" + tenant.slug() + "/me";

        var ok = getFrom(admin, me, APP);
        assertThat(ok.status()).isEqualTo(200);
        assertAllowsReadingFrom(ok, APP);

        var unauthorized = getFrom(http, me, APP);
        assertProblem(unauthorized, 401, "unauthorized");
        assertAllowsReadingFrom(unauthorized, APP);
        assertThat(unauthorized.header("WWW-Authenticate")).startsWith("Bearer");
        assertAllowsReadingFrom(getFrom(admin, "/t/" + tenant.slug() + "/no/such/route", APP), APP);

        // Another origin gets the answer without the headers, so its browser does not let it read it.
        var evil = getFrom(admin, me, EVIL);
        assertThat(evil.status()).isEqualTo(200);
        assertNoCors(evil);
        assertThat(evil.header("Vary")).isEqualTo("Origin");
        assertNoCors(getFrom(http, me, EVIL));
        // Without Origin (not a browser, or same origin): nothing to add.
        assertNoCors(admin.get(me));

        // A suspended tenant's 403 is readable by its app, which can then tell its user why.
        silo.tenants().suspend(tenant.slug(), Actor.SYSTEM);
        var suspended = getFrom(admin, me, APP);
        assertProblem(suspended, 403, "tenant-suspended");
        assertAllowsReadingFrom(suspended, APP);
    }

    @Test
    void adminAndHealthRoutesNeverAnswerCrossOrigin() {
        Tenant tenant = newTenant("cors");
        allowAsOperator(tenant, "*");

        var list = getFrom(operator, "/admin/tenants/" + tenant.slug(), APP);
        assertThat(list.status()).isEqualTo(200);
        assertNoCors(list);
        assertThat(list.header("Vary")).isNull();
        var adminPreflight = preflight("/admin/tenants", APP);
        assertThat(adminPreflight.status()).isEqualTo(405);
        assertNoCors(adminPreflight);
        assertNoCors(getFrom(http, "/health/ready", APP));
        assertNoCors(preflight("/health/ready", APP));
    }

    @Test
    void aStarAllowsEveryOriginAndNeverCredentials() {
        Tenant tenant = newTenant("cors");
        allowAsOperator(tenant, "*");

        var response = preflight("/t/" + tenant.slug() + "/me", EVIL);
        assertThat(response.status()).isEqualTo(204);
        assertThat(response.header("Access-Control-Allow-Origin")).isEqualTo("*");
        assertThat(response.header("Access-Control-Allow-Credentials")).isNull();
        var actual = getFrom(http, "/t/" + tenant.slug() + "/me", "null");
        assertThat(actual.status()).isEqualTo(401);
        assertThat(actual.header("Access-Control-Allow-Origin")).isEqualTo("*");
        assertThat(actual.header("Access-Control-Allow-Credentials")).isNull();
    }

    @Test
    void invalidOriginsAre400ProblemsAndChangeNothing() {
        Tenant tenant = newTenant("cors");
        allowAsOperator(tenant, APP);
        TestingHttp admin = adminOf(tenant);
        List<String> invalid = List.of("app.example.com", "https://app.example.com/", "https://app.example.com/path",
                "https://*.example.com", "https://app.example.com?x=1", "https://user@app.example.com", "null",
                "https://app.example.com:99999", "https://", "ftp:/x", " ", "https://exa mple.com");
        for (String origin : invalid) {
            var byOperator = putOrigins(operator, "/admin/tenants/" + tenant.slug() + "/cors-origins",
                    "{\"cors_origins\":[\"https://ok.example.com\",\"" + origin + "\"]}");
            assertProblem(byOperator, 400, "invalid-cors-origin");
            assertThat(byOperator.json().get("field").asText()).as(origin).isEqualTo("cors_origins[1]");
            var byAdmin = putOrigins(admin, "/t/" + tenant.slug() + "/settings/cors", "{\"cors_origins\":[\"" + origin + "\"]}");
            assertProblem(byAdmin, 400, "invalid-cors-origin");
        }
        assertProblem(putOrigins(operator, "/admin/tenants/" + tenant.slug() + "/cors-origins",
                "{\"cors_origins\":[\"*\",\"" + APP + "\"]}"), 400, "invalid-cors-origin");
        assertProblem(putOrigins(operator, "/admin/tenants/" + tenant.slug() + "/cors-origins", "{}"), 400, "invalid-request");
        assertProblem(putOrigins(operator, "/admin/tenants/" + tenant.slug() + "/cors-origins",
                "{\"cors_origins\":\"" + APP + "\"}"), 400, "invalid-request");
        assertProblem(putOrigins(operator, "/admin/tenants/" + tenant.slug() + "/cors-origins",
                "{\"cors_origins\":[],\"extra\":1}"), 400, "invalid-request");
        assertProblem(putOrigins(admin, "/t/" + tenant.slug() + "/settings/cors", "{\"cors_origins\":[{}]}"), 400,
                "invalid-request");
        String many = jsonList(java.util.stream.IntStream.rangeClosed(1, CorsOrigins.MAX_ORIGINS + 1)
                .mapToObj(i -> "https://app" + i + ".example.com").toArray(String[]::new));
        assertProblem(putOrigins(operator, "/admin/tenants/" + tenant.slug() + "/cors-origins", "{\"cors_origins\":" + many + "}"),
                400, "invalid-cors-origin");

        // Nothing was changed by any of them.
        assertThat(operator.get("/admin/tenants/" + tenant.slug() + "/cors-origins").json().get("cors_origins").toString())
                .isEqualTo("[\"" + APP + "\"]");
        assertThat(preflight("/t/" + tenant.slug() + "/me", APP).status()).isEqualTo(204);
    }

    @Test
    void originsAreNormalisedToWhatBrowsersSend() {
        CorsOrigins parsed = CorsOrigins.parse(List.of(" HTTPS://App.Example.COM:443 ", "http://localhost:80",
                "http://localhost:3000", "http://[::1]:8080", "capacitor://localhost", "https://app.example.com"));
        assertThat(parsed.origins()).containsExactly("https://app.example.com", "http://localhost", "http://localhost:3000",
                "http://[::1]:8080", "capacitor://localhost");
        assertThat(parsed.allows("https://app.example.com")).isTrue();
        assertThat(parsed.allows("https://app.example.com.evil.net")).isFalse();
        assertThat(parsed.allows(null)).isFalse();
        assertThat(CorsOrigins.parse(List.of()).origins()).isEmpty();
        assertThat(CorsOrigins.parse(List.of("*")).any()).isTrue();
        assertThatThrownBy(() -> CorsOrigins.parse(null)).isInstanceOf(BadRequest.class);
        assertThatThrownBy(() -> CorsOrigins.parse(java.util.Arrays.asList("https://a.example.com", null)))
                .isInstanceOf(BadRequest.class).hasMessageContaining("cors_origins[1]");
    }

    @Test
    void aChangeTakesEffectAtOnceOnTheNodeAndThroughCatalogEventsFromTheCommandLine() {
        Tenant tenant = newTenant("cors");
        String path = "/t/" + tenant.slug() + "/me";
        // Warm the cache with the empty list, so that what follows depends on the change reaching it.
        assertThat(preflight(path, APP).status()).isEqualTo(403);

        allowAsOperator(tenant, APP);
        assertThat(preflight(path, APP).status()).isEqualTo(204);

        TestingHttp admin = adminOf(tenant);
        var changed = putOrigins(admin, "/t/" + tenant.slug() + "/settings/cors", "{\"cors_origins\":[\"" + EVIL + "\"]}");
        assertThat(changed.status()).as(changed.body()).isEqualTo(200);
        assertThat(changed.json().get("cors_origins").toString()).isEqualTo("[\"" + EVIL + "\"]");
        assertThat(preflight(path, APP).status()).isEqualTo(403);
        assertThat(preflight(path, EVIL).status()).isEqualTo(204);

        // The command line writes the catalog directly; the running node learns of it by LISTEN/NOTIFY only.
        Run run = cli("tenants", "set-cors", tenant.slug(), "--origin", APP, "--origin", "http://localhost:5173");
        assertThat(run.code()).as(run.err()).isZero();
        assertThat(run.out()).contains(APP).contains("http://localhost:5173");
        await().atMost(Duration.ofSeconds(30)).until(() -> preflight(path, APP).status() == 204);
        assertThat(preflight(path, EVIL).status()).isEqualTo(403);

        assertThat(cli("tenants", "set-cors", tenant.slug(), "--none").code()).isZero();
        await().atMost(Duration.ofSeconds(30)).until(() -> preflight(path, APP).status() == 403);
        assertThat(cli("tenants", "set-cors", tenant.slug()).code()).isEqualTo(2);
        assertThat(cli("tenants", "set-cors", tenant.slug(), "--origin", "https://*.example.com").code()).isEqualTo(1);
    }

    @Test
    void aPreflightIsAnsweredFromTheTenantCacheWithoutReadingTheCatalog() throws SQLException {
        Tenant tenant = newTenant("cors");
        allowAsOperator(tenant, APP);
        // The node also hears its own change back through LISTEN, a moment later; wait for that echo to pass (a
        // marker sent after it arrives after it) so that it cannot drop the entry warmed below.
        String marker = "test-marker:" + UUID.randomUUID();
        java.util.Set<String> heard = java.util.concurrent.ConcurrentHashMap.newKeySet();
        silo.core().events().subscribe(heard::add);
        CatalogEvents.publishNow(silo.catalog(), marker);
        await().atMost(Duration.ofSeconds(30)).until(() -> heard.contains(marker));
        String path = "/t/" + tenant.slug() + "/me";
        assertThat(preflight(path, APP).status()).isEqualTo(204);

        // Emptied behind Silo's back (no catalog event): a preflight that read the catalog would now be refused.
        try (Connection connection = silo.catalog().getConnection();
             PreparedStatement update = connection.prepareStatement("UPDATE tenants SET cors_origins = '{}' WHERE id = ?")) {
            update.setObject(1, tenant.id());
            assertThat(update.executeUpdate()).isEqualTo(1);
        }
        assertThat(preflight(path, APP).status()).isEqualTo(204);
        // The event a real change sends drops the entry, and the next preflight sees the catalog.
        silo.directory().onEvent("tenant-settings:" + tenant.id() + ":" + tenant.slug());
        assertThat(preflight(path, APP).status()).isEqualTo(403);
    }

    @Test
    void changesAreAuditedInThePlatformAuditAndTheTenantAudit() throws SQLException {
        Tenant tenant = newTenant("cors");
        allowAsOperator(tenant, APP);
        assertThat(platformAudit(tenant, "tenant.cors-origins.set")).singleElement().asString()
                .startsWith("operator:bootstrap ").contains(APP);

        TestingHttp admin = adminOf(tenant);
        var changed = putOrigins(admin, "/t/" + tenant.slug() + "/settings/cors", "{\"cors_origins\":[\"http://localhost:3000\"]}");
        assertThat(changed.status()).as(changed.body()).isEqualTo(200);
        JsonNode entries = admin.get("/t/" + tenant.slug() + "/audit?type=settings.cors.update").json().get("entries");
        assertThat(entries).hasSize(1);
        assertThat(entries.get(0).get("actor").asText()).startsWith("user:");
        assertThat(entries.get(0).get("detail").asText()).contains("http://localhost:3000");
        assertThat(platformAudit(tenant, "tenant.cors-origins.set")).hasSize(2).last().asString()
                .startsWith("tenant-admin:" + tenant.slug() + "/user:").contains("http://localhost:3000").contains(APP);

        // Reading is not a change; a refused change leaves no entry anywhere.
        assertThat(admin.get("/t/" + tenant.slug() + "/settings/cors").json().get("cors_origins").toString())
                .isEqualTo("[\"http://localhost:3000\"]");
        assertThat(putOrigins(admin, "/t/" + tenant.slug() + "/settings/cors", "{\"cors_origins\":[\"nope\"]}").status())
                .isEqualTo(400);
        assertThat(admin.get("/t/" + tenant.slug() + "/audit?type=settings.cors.update").json().get("entries")).hasSize(1);
        assertThat(platformAudit(tenant, "tenant.cors-origins.set")).hasSize(2);
    }

    @Test
    void onlyAdminsAndOperatorsManageTheOrigins() {
        Tenant tenant = newTenant("cors");
        TestingHttp member = as(tenant, "member");
        assertProblem(member.get("/t/" + tenant.slug() + "/settings/cors"), 403, "forbidden");
        assertProblem(putOrigins(member, "/t/" + tenant.slug() + "/settings/cors", "{\"cors_origins\":[\"" + EVIL + "\"]}"), 403,
                "forbidden");
        assertProblem(putOrigins(http, "/t/" + tenant.slug() + "/settings/cors", "{\"cors_origins\":[\"" + EVIL + "\"]}"), 401,
                "unauthorized");
        assertThat(putOrigins(http, "/admin/tenants/" + tenant.slug() + "/cors-origins", "{\"cors_origins\":[\"" + EVIL + "\"]}")
                .status()).isEqualTo(401);
        // Another tenant's admin cannot reach this tenant's settings with its token.
        TestingHttp otherAdmin = adminOf(newTenant("cors"));
        assertThat(putOrigins(otherAdmin, "/t/" + tenant.slug() + "/settings/cors", "{\"cors_origins\":[\"" + EVIL + "\"]}")
                .status()).isEqualTo(401);
        assertThat(preflight("/t/" + tenant.slug() + "/me", EVIL).status()).isEqualTo(403);
        assertProblem(operator.get("/admin/tenants/no-such-tenant/cors-origins"), 404, "tenant-not-found");
    }
}
