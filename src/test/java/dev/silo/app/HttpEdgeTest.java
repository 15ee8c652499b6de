package dev.silo.app;

import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingLogs;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpRequest;

import static org.assertj.core.api.Assertions.assertThat;

/** The HTTP edge: health, problems for every failure, request ids, security headers, the api log. */
class HttpEdgeTest {
    private static TestingHttp http;

    @BeforeAll
    static void start() {
        http = new TestingHttp(TestingSilo.shared().baseUri());
    }

    private static void assertProblem(TestingHttp.Response response, int status, String type) {
        assertThat(response.status()).isEqualTo(status);
        assertThat(response.contentType()).isEqualTo("application/problem+json");
        assertThat(response.json().get("type").asText()).isEqualTo("https://silo.dev/problems/" + type);
        assertThat(response.json().get("status").asInt()).isEqualTo(status);
        assertThat(response.json().get("title").asText()).isNotBlank();
        assertThat(response.json().get("detail").asText()).isNotBlank();
        assertThat(response.body()).doesNotContain("at dev.silo").doesNotContain("Exception");
    }

    @Test
    void readyAndLiveAnswer200() {
        var ready = http.get("/health/ready");
        assertThat(ready.status()).isEqualTo(200);
        assertThat(ready.json().get("status").asText()).isEqualTo("ready");
        assertThat(http.get("/health/live").status()).isEqualTo(200);
    }

    @Test
    void unknownRouteIsA404Problem() {
        var response = http.get("/no/such/route");
        assertProblem(response, 404, "not-found");
        assertThat(response.json().get("instance").asText()).isEqualTo("/no/such/route");
    }

    @Test
    void wrongMethodIsA405ProblemWithAllow() {
        var response = http.send(http.request("/health/live").DELETE().build());
        assertProblem(response, 405, "method-not-allowed");
        assertThat(response.header("Allow")).contains("GET");
    }

    @Test
    void malformedJsonIsA400Problem() {
        var response = http.post("/test/echo", "{\"a\": ");
        assertProblem(response, 400, "malformed-json");
    }

    @Test
    void jsonThatIsNotAnObjectIsA400Problem() {
        assertProblem(http.post("/test/echo", "[1,2,3]"), 400, "invalid-request");
        assertProblem(http.post("/test/echo", ""), 400, "malformed-json");
    }

    @Test
    void deeplyNestedJsonIsA400Problem() {
        String deep = "{\"a\":".repeat(100) + "1" + "}".repeat(100);
        assertProblem(http.post("/test/echo", deep), 400, "malformed-json");
    }

    @Test
    void oversizedBodyIsA413Problem() throws Exception {
        // Announced size over the limit: refused before the body is read. A raw socket, because a client still
        // streaming 2 MiB may see the connection closed under it before it reads the answer.
        try (var socket = new java.net.Socket("127.0.0.1", TestingSilo.shared().port())) {
            socket.getOutputStream().write(("POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + (2 * 1024 * 1024) + "\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            socket.setSoTimeout(5000);
            String answer = new String(socket.getInputStream().readNBytes(4000), java.nio.charset.StandardCharsets.UTF_8);
            assertThat(answer).startsWith("HTTP/1.1 413").contains("application/problem+json").contains("payload-too-large");
        }
    }

    @Test
    void wellFormedJsonIsEchoed() {
        var response = http.post("/test/echo", "{\"a\": [1, {\"b\": null}]}");
        assertThat(response.status()).isEqualTo(200);
        assertThat(response.json().get("a").get(0).asInt()).isEqualTo(1);
    }

    @Test
    void aHandlerThatThrowsGivesAnOpaque500LoggedWithTheRequestId() {
        var response = http.send(http.request("/test/boom").header("X-Request-Id", "boom-request-0001").GET().build());
        assertProblem(response, 500, "internal-error");
        assertThat(response.body()).doesNotContain("hunter2").doesNotContain("db.internal").doesNotContain("IllegalState");
        assertThat(response.json().get("request_id").asText()).isEqualTo("boom-request-0001");
        assertThat(TestingLogs.lines()).anySatisfy(line -> assertThat(line)
                .contains("\"level\":\"ERROR\"").contains("\"request_id\":\"boom-request-0001\"").contains("IllegalStateException"));
    }

    @Test
    void wellFormedRequestIdIsEchoedAndABadOneReplaced() {
        var echoed = http.send(http.request("/health/live").header("X-Request-Id", "client-id-12345678").GET().build());
        assertThat(echoed.header("X-Request-Id")).isEqualTo("client-id-12345678");
        var replaced = http.send(http.request("/health/live").header("X-Request-Id", "bad id\twith spaces").GET().build());
        assertThat(replaced.header("X-Request-Id")).matches("[0-9a-f]{24}");
        var generated = http.get("/health/live");
        assertThat(generated.header("X-Request-Id")).matches("[0-9a-f]{24}");
    }

    @Test
    void securityHeadersAreOnEveryResponse() {
        for (var response : new TestingHttp.Response[] {http.get("/health/live"), http.get("/missing")}) {
            assertThat(response.header("X-Content-Type-Options")).isEqualTo("nosniff");
            assertThat(response.header("Cache-Control")).isEqualTo("no-store");
            assertThat(response.header("X-Frame-Options")).isEqualTo("DENY");
            assertThat(response.header("Content-Security-Policy")).contains("default-src 'none'");
        }
    }

    @Test
    void everyRequestWritesOneApiLineWithRouteTemplateStatusAndDuration() {
        http.send(http.request("/health/ready").header("X-Request-Id", "api-line-check-01").GET().build());
        // The line is written once the response has left, so it may trail the response a little.
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(() ->
                TestingLogs.lines().stream().anyMatch(l -> l.contains("\"request_id\":\"api-line-check-01\"")));
        var lines = TestingLogs.lines().stream().filter(l -> l.contains("\"request_id\":\"api-line-check-01\"")).toList();
        assertThat(lines).hasSize(1);
        assertThat(lines.getFirst()).contains("\"stream\":\"api\"").contains("\"method\":\"GET\"")
                .contains("\"route\":\"/health/ready\"").contains("\"status\":200").contains("\"duration_ms\":");
    }

    @Test
    void everyLogLineIsJsonWithAStream() {
        http.get("/health/live");
        assertThat(TestingLogs.lines()).isNotEmpty().allSatisfy(line -> assertThat(line)
                .startsWith("{").endsWith("}").containsPattern("\"stream\":\"(system|app|api)\""));
    }

    @Test
    void malformedHttpIsAProblemToo() throws Exception {
        try (var socket = new java.net.Socket("127.0.0.1", TestingSilo.shared().port())) {
            socket.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n"
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            socket.setSoTimeout(5000);
            String answer = new String(socket.getInputStream().readNBytes(2000), java.nio.charset.StandardCharsets.UTF_8);
            assertThat(answer).startsWith("HTTP/1.1 400").contains("application/problem+json");
        }
    }

    @Test
    void headIsAnsweredForGetRoutes() {
        var response = http.send(http.request("/health/live").method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
        assertThat(response.status()).isEqualTo(200);
    }
}
