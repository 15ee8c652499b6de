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
        assertThat(ready.json().has("degraded")).as("nothing degraded on a healthy node: %s", ready.body()).isFalse();
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
    void theListenerSendsWithoutNagleDelay() {
        // With Nagle on, every response over one TCP segment waited ~40 ms for the client's delayed ACK.
        var response = http.get("/test/listener");
        assertThat(response.status()).isEqualTo(200);
        assertThat(response.json().get("tcp_no_delay").asBoolean()).isTrue();
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

    /** Sends raw bytes and reads the answer until the server closes the connection or {@code limit} bytes came. */
    private static String raw(String request, int limit) throws Exception {
        try (var socket = new java.net.Socket("127.0.0.1", TestingSilo.shared().port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            return new String(socket.getInputStream().readNBytes(limit), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    private static String headerOf(String answer, String name) {
        return answer.lines().takeWhile(line -> !line.isEmpty())
                .filter(line -> line.toLowerCase(java.util.Locale.ROOT).startsWith(name.toLowerCase(java.util.Locale.ROOT) + ":"))
                .map(line -> line.substring(name.length() + 1).strip()).findFirst().orElse(null);
    }

    private static com.fasterxml.jackson.databind.JsonNode bodyOf(String answer) throws Exception {
        return dev.silo.platform.http.Json.MAPPER.readTree(answer.substring(answer.indexOf("\r\n\r\n") + 4));
    }

    @Test
    void errorsOfTheHttpLayerCarryARequestIdTheSecurityHeadersAndOneApiLine() throws Exception {
        String tooLarge = "POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                + (2 * 1024 * 1024) + "\r\n\r\n";
        String longUri = "GET /health/live?q=" + "a".repeat(10_000) + " HTTP/1.1\r\nHost: x\r\n\r\n";
        String hugeHeader = "GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(40_000) + "\r\n\r\n";
        String badHeader = "GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n";
        for (String request : new String[] {tooLarge, longUri, hugeHeader, badHeader}) {
            String answer = raw(request, 8000);
            assertThat(answer).startsWith("HTTP/1.1 4").contains("application/problem+json");
            String requestId = headerOf(answer, "X-Request-Id");
            assertThat(requestId).as(answer).matches("[0-9a-f]{24}");
            assertThat(headerOf(answer, "X-Content-Type-Options")).isEqualTo("nosniff");
            assertThat(headerOf(answer, "Cache-Control")).isEqualTo("no-store");
            assertThat(headerOf(answer, "X-Frame-Options")).isEqualTo("DENY");
            assertThat(headerOf(answer, "Referrer-Policy")).isEqualTo("no-referrer");
            assertThat(headerOf(answer, "Content-Security-Policy")).contains("default-src 'none'");
            var body = bodyOf(answer);
            assertThat(body.get("request_id").asText()).isEqualTo(requestId);
            assertThat(body.get("title").asText()).matches("[A-Z][a-z]+( [a-z]+)*|URI too long");
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() ->
                    TestingLogs.lines().stream().anyMatch(l -> l.contains("\"request_id\":\"" + requestId + "\"")));
            assertThat(TestingLogs.lines().stream().filter(l -> l.contains(requestId)).toList()).singleElement()
                    .satisfies(line -> assertThat(line).contains("\"stream\":\"api\"").contains("\"status\":4"));
        }
        assertThat(raw(tooLarge, 8000)).contains("payload-too-large").contains("\"title\":\"Payload too large\"");
        assertThat(raw(longUri, 8000)).startsWith("HTTP/1.1 414").contains("uri-too-long");
    }

    @Test
    void rawBracketsInAQueryAreAccepted() throws Exception {
        // What browsers and `curl -g` send for the README's records example.
        String answer = raw("GET /health/live?filter[name]=Ada&sort=-created_at HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 8000);
        assertThat(answer).startsWith("HTTP/1.1 200");
        assertThat(http.get("/health/live?filter%5Bname%5D=Ada").status()).isEqualTo(200);
    }

    @Test
    void aMalformedQueryIsAProblemNamingTheParameter() throws Exception {
        String answer = raw("GET /health/live?limit=5&filter[name]=%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 8000);
        assertThat(answer).startsWith("HTTP/1.1 400").contains("invalid-query");
        var body = bodyOf(answer);
        assertThat(body.get("parameter").asText()).isEqualTo("filter[name]");
        assertThat(body.get("detail").asText()).contains("filter[name]");
        assertThat(raw("GET /health/live?a=\"x\" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 8000))
                .startsWith("HTTP/1.1 400").contains("invalid-query");
    }

    private static TestingHttp.Response postWithType(String contentType, String body) {
        var request = http.request("/test/echo").POST(HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        return http.send(request.build());
    }

    @Test
    void aBodyThatIsNotJsonByItsContentTypeIs415NamingTheTypes() {
        for (String type : new String[] {"text/plain", "application/xml", "multipart/form-data; boundary=x"}) {
            var response = postWithType(type, "{\"a\":1}");
            assertProblem(response, 415, "unsupported-media-type");
            assertThat(response.json().get("received").asText()).isEqualTo(type.split(";")[0]);
            assertThat(response.json().get("accepted").toString()).contains("application/json");
            assertThat(response.json().get("detail").asText()).contains(type.split(";")[0]).contains("application/json");
        }
        // A real form body is no JSON either.
        assertProblem(postWithType("application/x-www-form-urlencoded", "a=1&b=2"), 415, "unsupported-media-type");
    }

    @Test
    void jsonMediaTypesAndCurlsDefaultAreAccepted() {
        for (String type : new String[] {"application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                "application/merge-patch+json", "application/vnd.acme+json", null,
                "application/x-www-form-urlencoded"}) { // curl -d '{...}' says form-urlencoded and sends JSON
            var response = postWithType(type, " {\"a\":1}");
            assertThat(response.status()).as(String.valueOf(type)).isEqualTo(200);
        }
    }

    @Test
    void aDuplicateFieldIsNamedAndJsonErrorsNameNoJacksonClass() {
        var duplicate = postWithType("application/json", "{\"email\":\"a\",\"email\":\"b\"}");
        assertProblem(duplicate, 400, "malformed-json");
        assertThat(duplicate.json().get("detail").asText()).contains("duplicate field 'email'");
        String deep = "{\"a\":".repeat(100) + "1" + "}".repeat(100);
        var nested = postWithType("application/json", deep);
        assertThat(nested.json().get("detail").asText()).isEqualTo("the JSON document is nested deeper than 32 levels");
        for (var response : new TestingHttp.Response[] {duplicate, nested, postWithType(null, "{\"a\": tru}")}) {
            assertThat(response.body()).doesNotContain("jackson").doesNotContain("StreamReadConstraints").doesNotContain("`");
        }
    }

    @Test
    void problemTitlesAreInSentenceCase() throws Exception {
        assertThat(http.get("/no/such/route").json().get("title").asText()).isEqualTo("Not found");
        assertThat(http.send(http.request("/health/live").DELETE().build()).json().get("title").asText())
                .isEqualTo("Method not allowed");
        assertThat(bodyOf(raw("GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 8000)).get("title").asText())
                .isEqualTo("Bad request");
    }

    @Test
    void twoAuthorizationHeadersAreA400OnEveryRoute() {
        for (String path : new String[] {"/health/live", "/admin/tenants", "/t/acme/me"}) {
            var response = http.send(http.request(path).header("Authorization", "Bearer one")
                    .header("Authorization", "Bearer two").GET().build());
            assertProblem(response, 400, "duplicate-header");
            assertThat(response.json().get("header").asText()).isEqualTo("Authorization");
        }
    }

    @Test
    void anHttp10RequestIsAClear505Problem() throws Exception {
        String answer = raw("GET /health/live HTTP/1.0\r\n\r\n", 8000);
        assertThat(answer).startsWith("HTTP/1.1 505").contains("application/problem+json").contains("http-version-not-supported");
        var body = bodyOf(answer);
        assertThat(body.get("detail").asText()).contains("HTTP/1.1").contains("HTTP/1.0");
        assertThat(body.get("request_id").asText()).isEqualTo(headerOf(answer, "X-Request-Id"));
    }

    @Test
    void connectionCloseIsHonoured() throws Exception {
        // readNBytes returns only at end of stream: the server closed the connection after the answer.
        String answer = raw("GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 1_000_000);
        assertThat(answer).startsWith("HTTP/1.1 200").contains("\"status\"");
    }

    @Test
    void aClientThatClosesMidRequestIsOneQuietLineAndCounted() throws Exception {
        long before = dev.silo.platform.http.HttpServer.clientDisconnects();
        int linesBefore = TestingLogs.lines().size();
        for (int i = 0; i < 20; i++) {
            try (var socket = new java.net.Socket("127.0.0.1", TestingSilo.shared().port())) {
                socket.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: x\r\nX-Half: ab"
                        .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                socket.getOutputStream().flush();
                socket.shutdownOutput(); // the rest of the request never comes
                socket.setSoTimeout(10_000);
                socket.getInputStream().readAllBytes();
            }
        }
        // A body cut short: Content-Length 100, 10 bytes, then the client is gone.
        try (var socket = new java.net.Socket("127.0.0.1", TestingSilo.shared().port())) {
            socket.getOutputStream().write(("POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 100\r\n\r\n{\"a\":\"1234").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            socket.shutdownOutput();
            socket.setSoTimeout(10_000);
            socket.getInputStream().readAllBytes();
        }
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20))
                .until(() -> dev.silo.platform.http.HttpServer.clientDisconnects() >= before + 21);
        var newLines = TestingLogs.lines().subList(linesBefore, TestingLogs.lines().size());
        assertThat(newLines).noneSatisfy(line -> assertThat(line).containsAnyOf("\"level\":\"WARN\"", "\"level\":\"ERROR\""));
        assertThat(newLines).noneSatisfy(line -> assertThat(line).containsAnyOf("stack_trace", "Internal server error", "Unhandled"));
    }
}
