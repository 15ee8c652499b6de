package dev.silo.platform.errors;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.platform.config.ConfigException;
import dev.silo.platform.config.ErrorReportsConfig;
import dev.silo.platform.http.Json;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingLogs;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Claim C22: unexpected errors reach Rollbar (here a recording HTTP server standing in for its item API) once each,
 * with the request id the client was given, the route template and the tenant id, and without a token, a request
 * body, a password or a header value; client errors are not reported, and without a token nothing is sent.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ErrorReportsTest {
    static final String ROLLBAR_TOKEN = "0123456789abcdef0123456789abcdef";
    static final String PASSWORD = "correct horse battery staple";
    static final String BODY_SECRET = "body-secret-hunter2";
    static final String HEADER_SECRET = "header-value-secret-77";

    record Received(String token, String body) {
        JsonNode json() {
            try {
                return Json.MAPPER.readTree(body);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        String requestId() {
            return json().path("data").path("custom").path("request_id").asText(null);
        }
    }

    static final List<Received> RECEIVED = new CopyOnWriteArrayList<>();
    static HttpServer rollbar;
    static String endpoint;
    static Silo node;

    @BeforeAll
    static void startRecorder() throws IOException {
        rollbar = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        rollbar.createContext("/api/1/item/", exchange -> {
            byte[] body = exchange.getRequestBody().readAllBytes();
            RECEIVED.add(new Received(exchange.getRequestHeaders().getFirst("X-Rollbar-Access-Token"),
                    new String(body, StandardCharsets.UTF_8)));
            byte[] answer = "{\"err\":0,\"result\":{\"uuid\":\"00000000000000000000000000000000\"}}".getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, answer.length);
            exchange.getResponseBody().write(answer);
            exchange.close();
        });
        rollbar.start();
        endpoint = "http://127.0.0.1:" + rollbar.getAddress().getPort() + "/api/1/item/";
    }

    @AfterAll
    static void stop() {
        if (node != null) {
            node.close();
        }
        rollbar.stop(0);
    }

    /** The node reporting to the recorder; started after the test without a token, so that one sees no reporter. */
    static synchronized Silo node() {
        if (node == null) {
            node = TestingSilo.startNew(TestingSilo.newDataDir("rollbar"), Map.of("ROLLBAR_ACCESS_TOKEN", ROLLBAR_TOKEN,
                    "SILO_ROLLBAR_ENDPOINT", endpoint, "SILO_ENVIRONMENT", "test"));
        }
        return node;
    }

    static List<Received> reportsOf(String requestId) {
        return RECEIVED.stream().filter(received -> requestId.equals(received.requestId())).toList();
    }

    static Received awaitReport(String requestId) {
        await().atMost(Duration.ofSeconds(60)).until(() -> !reportsOf(requestId).isEmpty());
        return reportsOf(requestId).getFirst();
    }

    /** A 500 from the test-only route that throws; its report arriving means every report queued before it did. */
    static String boom(TestingHttp http) {
        var response = http.get("/test/boom");
        assertThat(response.status()).isEqualTo(500);
        String requestId = response.json().get("request_id").asText();
        awaitReport(requestId);
        return requestId;
    }

    @Test
    @Order(1)
    void withoutATokenNothingIsSent() throws Exception {
        assertThat(ErrorReports.install(ErrorReportsConfig.from(Map.of("SILO_ROLLBAR_ENDPOINT", endpoint)), "test")).isEmpty();
        Silo shared = TestingSilo.shared();
        var response = new TestingHttp(shared.baseUri()).get("/test/boom");
        assertThat(response.status()).isEqualTo(500);
        String requestId = response.json().get("request_id").asText();
        await().atMost(Duration.ofSeconds(30)).until(() -> TestingLogs.lines().stream()
                .anyMatch(line -> line.contains("\"level\":\"ERROR\"") && line.contains(requestId)));
        // Nothing was installed to send it; a second is what a post to a local server would take many times over.
        Thread.sleep(1000);
        assertThat(RECEIVED).isEmpty();
    }

    @Test
    @Order(2)
    void aTenantRouteThatFailsIsReportedOnceWithItsRequestIdRouteTemplateAndTenantIdAndNoSecret() {
        Silo silo = node();
        TestingHttp http = new TestingHttp(silo.baseUri());
        Tenant tenant = silo.tenants().create("rb-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(),
                Actor.SYSTEM);
        var admin = http.withBearer(TestingSilo.operatorKey(silo)).post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(admin.status()).as(admin.body()).isEqualTo(201);
        var login = http.post("/t/" + tenant.slug() + "/auth/login",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        String bearer = login.json().get("access_token").asText();
        TestingHttp client = http.withBearer(bearer);
        var collection = client.send(client.request("/t/" + tenant.slug() + "/collections/notes")
                .header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString("{\"fields\": {\"title\": {\"type\": \"string\"}, "
                        + "\"note\": {\"type\": \"string\"}}}")).build());
        assertThat(collection.status()).as(collection.body()).isEqualTo(201);
        // Broken as a bad migration would leave it: every insert now fails with a PostgreSQL error (check_violation)
        // whose Detail line quotes the whole failing row, that is the request body.
        silo.core().tenantDatabases().inTransaction(tenant, connection -> {
            try (var statement = connection.createStatement()) {
                statement.execute("ALTER TABLE records ADD CONSTRAINT broken_by_test CHECK (false) NOT VALID");
            }
            return null;
        });

        // A 500 on purpose: outside the OpenAPI contract, so this one exchange is not checked against it.
        var failed = client.outsideContract().send(client.request("/t/" + tenant.slug() + "/collections/notes/records")
                .header("Content-Type", "application/json")
                .header("X-Custom-Header", HEADER_SECRET)
                .POST(HttpRequest.BodyPublishers.ofString("{\"title\": \"hello\", \"note\": \"" + BODY_SECRET + "\"}")).build());
        assertThat(failed.status()).as(failed.body()).isEqualTo(500);
        assertThat(failed.json().get("type").asText()).endsWith("/internal-error");
        String requestId = failed.json().get("request_id").asText();

        Received report = awaitReport(requestId);
        boom(http); // every report queued before this one has arrived: a second report of the failure would be here
        assertThat(reportsOf(requestId)).hasSize(1);
        ErrorReports reporter = silo.errorReports().orElseThrow();
        assertThat(reporter.delivered()).isGreaterThanOrEqualTo(2);
        assertThat(reporter.dropped()).isZero();

        assertThat(report.token()).isEqualTo(ROLLBAR_TOKEN);
        JsonNode data = report.json().get("data");
        assertThat(data.path("environment").asText()).isEqualTo("test");
        assertThat(data.path("code_version").asText()).isNotBlank();
        assertThat(data.path("level").asText()).isEqualTo("error");
        assertThat(data.path("context").asText()).isEqualTo("POST /t/{tenant}/collections/{name}/records");
        JsonNode custom = data.get("custom");
        assertThat(custom.path("route").asText()).isEqualTo("/t/{tenant}/collections/{name}/records");
        assertThat(custom.path("method").asText()).isEqualTo("POST");
        assertThat(custom.path("tenant_id").asText()).isEqualTo(tenant.id().toString());
        // the exception classes and frames are there: an operator can tell what failed where
        assertThat(report.body()).contains("org.postgresql.util.PSQLException").contains("dev.silo.records");
        assertThat(report.body())
                .doesNotContain(bearer)
                .doesNotContain(BODY_SECRET)
                .doesNotContain("hello")
                .doesNotContain(PASSWORD)
                .doesNotContain(HEADER_SECRET)
                .doesNotContain(TestingSilo.operatorKey(silo))
                .doesNotContain("Bearer ")
                .doesNotContain("admin@example.com")
                .doesNotContain(tenant.slug())
                .doesNotContain("Failing row");
    }

    @Test
    @Order(3)
    void aHandlerThatThrowsIsReportedWithItsMessageScrubbed() {
        TestingHttp http = new TestingHttp(node().baseUri());
        Received report = reportsOf(boom(http)).getFirst();
        assertThat(report.body()).contains("java.lang.IllegalStateException").contains("password=[redacted]")
                .doesNotContain("hunter2");
        assertThat(report.json().at("/data/custom/route").asText()).isEqualTo("/test/boom");
        assertThat(report.json().at("/data/custom/tenant_id").isMissingNode()).isTrue();
    }

    @Test
    @Order(4)
    void aClientErrorIsNotReported() {
        TestingHttp http = new TestingHttp(node().baseUri());
        var notFound = http.get("/t/no-such-tenant/collections");
        assertThat(notFound.status()).isEqualTo(404);
        var unauthorized = http.get("/admin/tenants");
        assertThat(unauthorized.status()).isEqualTo(401);
        var badJson = http.post("/test/echo", "{not json");
        assertThat(badJson.status()).isEqualTo(400);
        boom(http);
        for (var response : List.of(notFound, unauthorized, badJson)) {
            assertThat(reportsOf(response.json().get("request_id").asText())).isEmpty();
        }
    }

    @Test
    @Order(5)
    void aRollbarThatNeverAnswersCostsDroppedReportsNotWaitingLoggers() throws Exception {
        try (java.net.ServerSocket hanging = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            List<java.net.Socket> held = new CopyOnWriteArrayList<>();
            Thread acceptor = Thread.ofVirtual().start(() -> {
                try {
                    while (true) {
                        held.add(hanging.accept()); // accepted, never read, never answered
                    }
                } catch (IOException closed) {
                    // the test is over
                }
            });
            ErrorReports reports = ErrorReports.install(ErrorReportsConfig.from(Map.of("ROLLBAR_ACCESS_TOKEN", ROLLBAR_TOKEN,
                    "SILO_ROLLBAR_ENDPOINT", "http://127.0.0.1:" + hanging.getLocalPort() + "/api/1/item/")), "test").orElseThrow();
            try {
                org.slf4j.Logger logger = org.slf4j.LoggerFactory.getLogger("dev.silo.test.ErrorStorm");
                int storm = ErrorReports.QUEUE_SIZE + 100;
                for (int i = 0; i < storm; i++) {
                    logger.error("storm {}", i); // returns whether or not the report fits: nothing here waits for Rollbar
                }
                // one report in the worker's hands at most, QUEUE_SIZE waiting, the rest dropped and counted
                assertThat(reports.dropped()).isGreaterThanOrEqualTo(storm - ErrorReports.QUEUE_SIZE - 1);
                assertThat(reports.delivered()).isZero();
            } finally {
                reports.close(Duration.ofMillis(100));
                for (java.net.Socket socket : held) {
                    socket.close();
                }
            }
            hanging.close();
            acceptor.join();
        }
    }

    @Test
    void theSettingsAreValidatedWithoutEchoingTheToken() {
        assertThatThrownBy(() -> ErrorReportsConfig.from(Map.of("ROLLBAR_ACCESS_TOKEN", "not a token!secret-value")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("ROLLBAR_ACCESS_TOKEN")
                .hasMessageNotContaining("secret-value");
        assertThatThrownBy(() -> ErrorReportsConfig.from(Map.of("ROLLBAR_ACCESS_TOKEN", ROLLBAR_TOKEN,
                "SILO_ROLLBAR_ENDPOINT", "http://rollbar.example.com/api/1/item/")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("SILO_ROLLBAR_ENDPOINT");
        assertThatThrownBy(() -> ErrorReportsConfig.from(Map.of("SILO_ENVIRONMENT", "pro duction")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("SILO_ENVIRONMENT");
        ErrorReportsConfig defaults = ErrorReportsConfig.from(Map.of("ROLLBAR_ACCESS_TOKEN", ROLLBAR_TOKEN));
        assertThat(defaults.environment()).isEqualTo("production");
        assertThat(defaults.endpoint()).isEqualTo(ErrorReportsConfig.DEFAULT_ENDPOINT);
        assertThat(defaults.toString()).doesNotContain(ROLLBAR_TOKEN);
    }

    @Test
    void messagesKeepTheirShapeAndLoseTheirValues() {
        String jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlc2lnbmF0dXJl";
        assertThat(ErrorText.scrub("ERROR: duplicate key value violates unique constraint \"users_email_key\"\n"
                + "  Detail: Key (email)=(ada@example.com) already exists."))
                .isEqualTo("ERROR: duplicate key value violates unique constraint \"[redacted]\" …");
        assertThat(ErrorText.scrub("Key (email)=(ada@example.com) already exists")).isEqualTo("Key (email)=([redacted]) already exists");
        assertThat(ErrorText.scrub("token " + jwt + " rejected")).doesNotContain("eyJ").doesNotContain("c2ln");
        assertThat(ErrorText.scrub("Authorization: Bearer abc.def")).doesNotContain("abc.def");
        assertThat(ErrorText.scrub("connect to postgres://silo:s3cret@db:5432/x failed")).doesNotContain("s3cret");
        assertThat(ErrorText.scrub("password=hunter2; secret: 'x y'; api_key=k1")).doesNotContain("hunter2")
                .doesNotContain("x y").doesNotContain("k1");
        assertThat(ErrorText.scrub("invalid input syntax for type uuid: \"not-a-uuid\"")).doesNotContain("not-a-uuid");
        assertThat(ErrorText.scrub("key AAAABBBBCCCCDDDDEEEEFFFF1234== unwrapped")).doesNotContain("AAAABBBB");
        assertThat(ErrorText.scrub("x".repeat(5000))).hasSizeLessThan(ErrorText.MAX_LENGTH + 5);
        assertThat(ErrorText.scrub(null)).isNull();
    }
}
