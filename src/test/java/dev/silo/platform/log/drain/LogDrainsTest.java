package dev.silo.platform.log.drain;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.silo.app.Silo;
import dev.silo.platform.db.TlsMaterial;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingLogs;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Log drains on a real node (claim C21, issue 16.3): a TLS syslog collector (a certificate of a private CA, trusted
 * through {@code SILO_LOG_DRAINS_CA}), a plain TCP one and an HTTPS (Logplex) endpoint get octet-counted RFC 5424
 * lines of all three streams; a drain that never reads and one that refuses connections cost lines (counted),
 * never requests; no password or token reaches a drain.
 */
class LogDrainsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String DRAIN_PASSWORD = "drain-pass-6d1f0c";
    private static final String DRAIN_QUERY_TOKEN = "qtok-91b2e7";
    /** {@code <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG}, RFC 5424 §6, as Silo fills it. */
    static final Pattern RFC5424 = Pattern.compile("<(\\d{1,3})>1 (\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z) "
            + "(\\S{1,255}) silo (api|app|system) - (-|\\[silo@32473 request_id=\"((?:[^\"\\\\\\]]|\\\\[\"\\\\\\]])*)\"\\]) "
            + "(\\{.*})", Pattern.DOTALL);

    private static TlsMaterial material;
    private static TestingSyslogReceiver tls;
    private static TestingSyslogReceiver tcp;
    private static TestingSyslogReceiver stuck;
    private static TestingLogplexReceiver https;
    private static int deadPort;
    private static Silo silo;
    private static TestingHttp http;

    @BeforeAll
    static void start() throws Exception {
        TestingLogs.install();
        Path dir = TestingSilo.newDataDir("drain-tls");
        material = TlsMaterial.ensure(dir, "Log drain test CA", List.of());
        tls = TestingSyslogReceiver.tls(material, "127.0.0.1");
        tcp = TestingSyslogReceiver.tcp();
        stuck = TestingSyslogReceiver.neverReading();
        https = new TestingLogplexReceiver(material);
        try (ServerSocket free = new ServerSocket(0)) {
            deadPort = free.getLocalPort(); // closed again: connections to it are refused
        }
        Map<String, String> env = new HashMap<>();
        env.put("SILO_LOG_DRAINS", String.join(", ",
                "syslog+tls://localhost:" + tls.port(),
                "syslog://127.0.0.1:" + tcp.port(),
                "https://silo:" + DRAIN_PASSWORD + "@localhost:" + https.port() + "/logs?token=" + DRAIN_QUERY_TOKEN,
                "syslog://127.0.0.1:" + stuck.port(),
                "syslog://127.0.0.1:" + deadPort));
        env.put("SILO_LOG_DRAINS_CA", material.caCertificate().toString());
        env.put("SILO_LOG_DRAINS_QUEUE", "500");
        env.put("SILO_HOSTNAME", "drain-test-node");
        // The "made" line of spares and a create from a spare are app lines; three, so each test that creates a
        // tenant takes a spare whatever the order the tests run in.
        env.put("SILO_TENANT_SPARES", "3");
        silo = TestingSilo.startNew(TestingSilo.newDataDir("drains"), env);
        http = new TestingHttp(silo.baseUri());
    }

    @AfterAll
    static void stop() throws Exception {
        if (silo != null) {
            silo.close();
        }
        for (AutoCloseable receiver : new AutoCloseable[] {tls, tcp, stuck, https}) {
            if (receiver != null) {
                receiver.close();
            }
        }
    }

    private static LogDrainAppender drain(String display) {
        return silo.logDrains().drains().stream().filter(drain -> drain.display().equals(display)).findFirst().orElseThrow();
    }

    record Line(int pri, Instant time, String host, String stream, String requestId, JsonNode json, String raw) {}

    static Line parse(String message) {
        Matcher matcher = RFC5424.matcher(message);
        assertThat(matcher.matches()).as("an RFC 5424 line: %s", message).isTrue();
        try {
            return new Line(Integer.parseInt(matcher.group(1)), Instant.parse(matcher.group(2)), matcher.group(3),
                    matcher.group(4), matcher.group(6) == null ? null : matcher.group(6).replaceAll("\\\\(.)", "$1"),
                    JSON.readTree(matcher.group(7)), message);
        } catch (Exception e) {
            throw new AssertionError("MSG is not one JSON object: " + message, e);
        }
    }

    private static int severity(String level) {
        return switch (level) {
            case "ERROR" -> 3;
            case "WARN" -> 4;
            case "INFO" -> 6;
            default -> 7;
        };
    }

    /** Every message of {@code receiver} is a well-formed line whose header agrees with its JSON. */
    private static List<Line> wellFormed(List<String> messages) {
        List<Line> lines = new ArrayList<>();
        for (String message : messages) {
            Line line = parse(message);
            assertThat(line.host()).isEqualTo("drain-test-node");
            assertThat(line.pri()).as(message).isEqualTo(16 * 8 + severity(line.json().get("level").asText()));
            assertThat(line.json().get("stream").asText()).as(message).isEqualTo(line.stream());
            assertThat(java.time.OffsetDateTime.parse(line.json().get("time").asText()).toInstant()
                    .truncatedTo(java.time.temporal.ChronoUnit.MILLIS)).isEqualTo(line.time());
            if (line.requestId() != null) {
                assertThat(line.json().get("request_id").asText()).isEqualTo(line.requestId());
            } else {
                assertThat(line.json().has("request_id")).as(message).isFalse();
            }
            lines.add(line);
        }
        return lines;
    }

    private static String uniqueRequestId() {
        return "drain-" + UUID.randomUUID();
    }

    private static TestingHttp.Response getWithRequestId(String path, String requestId) {
        return http.send(http.request(path).header("X-Request-Id", requestId).GET().build());
    }

    private static void awaitSpare() {
        await().atMost(Duration.ofSeconds(60)).until(() -> tls.messages().stream()
                .anyMatch(message -> message.contains(" silo app ") && message.contains("Spare tenant databases")));
    }

    @Test
    void theTlsDrainGetsOctetCountedRfc5424LinesOfAllThreeStreams() throws Exception {
        String requestId = uniqueRequestId();
        assertThat(getWithRequestId("/health/live", requestId).status()).isEqualTo(200);
        awaitSpare();
        String createId = uniqueRequestId();
        String slug = "drains-" + UUID.randomUUID().toString().substring(0, 8);
        var created = http.withBearer(TestingSilo.operatorKey(silo)).send(http.request("/admin/tenants")
                .header("X-Request-Id", createId).header("Authorization", "Bearer " + TestingSilo.operatorKey(silo))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"slug\":\"" + slug + "\"}")).build());
        assertThat(created.status()).as(created.body()).isEqualTo(201);

        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            List<Line> lines = wellFormed(tls.messages());
            assertThat(lines).anySatisfy(line -> {
                assertThat(line.stream()).isEqualTo("system");
                assertThat(line.json().get("message").asText()).contains("ready at");
            });
            assertThat(lines).anySatisfy(line -> {
                assertThat(line.stream()).isEqualTo("api");
                assertThat(line.requestId()).isEqualTo(requestId);
                assertThat(line.json().get("route").asText()).isEqualTo("/health/live");
                assertThat(line.pri()).isEqualTo(134); // local0.info
            });
            assertThat(lines).anySatisfy(line -> {
                assertThat(line.stream()).isEqualTo("app");
                assertThat(line.requestId()).isEqualTo(createId);
                assertThat(line.json().get("message").asText()).contains("Created tenant").contains(slug);
            });
        });
        assertThat(tls.framingErrors()).isEmpty();
        assertThat(drain("syslog+tls://localhost:" + tls.port()).connections()).isEqualTo(1);
    }

    @Test
    void thePlainTcpDrainGetsTheSameLines() {
        String requestId = uniqueRequestId();
        assertThat(getWithRequestId("/health/ready", requestId).status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(wellFormed(tcp.messages()))
                .anySatisfy(line -> assertThat(line.requestId()).isEqualTo(requestId))
                .anySatisfy(line -> assertThat(line.stream()).isEqualTo("system")));
        assertThat(tcp.framingErrors()).isEmpty();
    }

    @Test
    void theHttpsDrainPostsLogplexBatchesWithBasicAuthorization() {
        String requestId = uniqueRequestId();
        assertThat(getWithRequestId("/health/live", requestId).status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(30)).until(() -> https.posts().stream()
                .anyMatch(post -> new String(post.body(), StandardCharsets.UTF_8).contains(requestId)));
        Set<String> frameIds = new HashSet<>();
        String token = null;
        for (TestingLogplexReceiver.Post post : https.posts()) {
            assertThat(post.method()).isEqualTo("POST");
            assertThat(post.path()).isEqualTo("/logs");
            assertThat(post.query()).isEqualTo("token=" + DRAIN_QUERY_TOKEN);
            assertThat(post.header("Content-Type")).isEqualTo("application/logplex-1");
            assertThat(post.header("Authorization")).isEqualTo("Basic " + Base64.getEncoder()
                    .encodeToString(("silo:" + DRAIN_PASSWORD).getBytes(StandardCharsets.UTF_8)));
            assertThat(post.header("Logplex-Frame-Id")).matches("[0-9A-F]{32}");
            assertThat(frameIds.add(post.header("Logplex-Frame-Id"))).as("frame ids are unique").isTrue();
            assertThat(post.header("Logplex-Drain-Token")).matches("d\\.[0-9a-f-]{36}");
            token = token == null ? post.header("Logplex-Drain-Token") : token;
            assertThat(post.header("Logplex-Drain-Token")).isEqualTo(token);
            List<String> frames = frames(post.body());
            assertThat(frames).hasSize(Integer.parseInt(post.header("Logplex-Msg-Count")));
            wellFormed(frames);
        }
    }

    /** Splits an {@code application/logplex-1} body by its octet counts; fails on anything else. */
    private static List<String> frames(byte[] body) {
        List<String> frames = new ArrayList<>();
        int at = 0;
        while (at < body.length) {
            int space = at;
            while (space < body.length && body[space] >= '0' && body[space] <= '9') {
                space++;
            }
            assertThat(space).as("a count at byte %d", at).isGreaterThan(at);
            assertThat(body[space]).isEqualTo((byte) ' ');
            int length = Integer.parseInt(new String(body, at, space - at, StandardCharsets.US_ASCII));
            assertThat(space + 1 + length).as("the frame fits the body").isLessThanOrEqualTo(body.length);
            frames.add(new String(body, space + 1, length, StandardCharsets.UTF_8));
            at = space + 1 + length;
        }
        return frames;
    }

    @Test
    void aLoginPasswordAndBearerTokensNeverReachADrain() throws Exception {
        awaitSpare();
        String slug = "drains-" + UUID.randomUUID().toString().substring(0, 8);
        TestingHttp operator = http.withBearer(TestingSilo.operatorKey(silo));
        assertThat(operator.post("/admin/tenants", "{\"slug\":\"" + slug + "\"}").status()).isEqualTo(201);
        String password = "pw-" + UUID.randomUUID();
        assertThat(operator.post("/admin/tenants/" + slug + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + password + "\"}").status()).isEqualTo(201);
        var login = http.post("/t/" + slug + "/auth/login",
                "{\"email\":\"admin@example.com\",\"password\":\"" + password + "\"}");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        String access = login.json().get("access_token").asText();
        String refresh = login.json().get("refresh_token").asText();
        String meId = uniqueRequestId();
        var me = http.withBearer(access).send(http.withBearer(access).request("/t/" + slug + "/me")
                .header("X-Request-Id", meId).GET().build());
        assertThat(me.status()).as(me.body()).isEqualTo(200);
        var bad = http.post("/t/" + slug + "/auth/login", "{\"email\":\"admin@example.com\",\"password\":\"" + password + "x\"}");
        assertThat(bad.status()).isEqualTo(401);

        await().atMost(Duration.ofSeconds(30)).until(() -> tls.messages().stream().anyMatch(m -> m.contains(meId))
                && https.posts().stream().anyMatch(post -> new String(post.body(), StandardCharsets.UTF_8).contains(meId)));
        List<String> everything = new ArrayList<>(tls.messages());
        everything.addAll(tcp.messages());
        https.posts().forEach(post -> everything.add(new String(post.body(), StandardCharsets.UTF_8)));
        assertThat(everything).isNotEmpty().noneSatisfy(text -> assertThat(text)
                .containsAnyOf(password, access, refresh, access.substring(access.lastIndexOf('.') + 1)));
        // Nor do the drains' own credentials reach the logs (stdout) or the drains.
        List<String> console = TestingLogs.lines();
        assertThat(console).anySatisfy(line -> assertThat(line).contains("Log drains:"));
        assertThat(console).noneSatisfy(line -> assertThat(line).containsAnyOf(DRAIN_PASSWORD, DRAIN_QUERY_TOKEN));
        assertThat(everything).noneSatisfy(text -> assertThat(text).containsAnyOf(DRAIN_PASSWORD, DRAIN_QUERY_TOKEN));
    }

    @Test
    void aDrainThatNeverReadsSlowsNoRequestAndItsDropsAreCounted() throws Exception {
        LogDrainAppender never = drain("syslog://127.0.0.1:" + stuck.port());
        await().atMost(Duration.ofSeconds(30)).until(() -> stuck.accepted() >= 1);
        int requests = 3000;
        List<Future<Integer>> statuses = new ArrayList<>();
        try (ExecutorService clients = Executors.newFixedThreadPool(4)) {
            for (int i = 0; i < requests; i++) {
                statuses.add(clients.submit(() -> http.get("/health/live").status()));
            }
        }
        for (Future<Integer> status : statuses) {
            assertThat(status.get()).isEqualTo(200);
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> never.dropped() > 0);
        // The drains that read are not held back by the one that does not: the last request's line arrives.
        String last = uniqueRequestId();
        assertThat(getWithRequestId("/health/live", last).status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(30)).until(() -> tls.messages().stream().anyMatch(m -> m.contains(last)));
        await().atMost(Duration.ofSeconds(30)).until(() -> tcp.messages().stream().anyMatch(m -> m.contains(last)));
    }

    @Test
    void aDeadDrainIsRetriedAndItsDropsAreCounted() throws Exception {
        LogDrainAppender dead = drain("syslog://127.0.0.1:" + deadPort);
        for (int i = 0; i < 600; i++) {
            assertThat(http.get("/health/live").status()).isEqualTo(200);
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> dead.connectAttempts() >= 2 && dead.dropped() > 0);
        assertThat(dead.connections()).isZero();
        assertThat(dead.sent()).isZero();
        assertThat(dead.problem()).contains("ConnectException");
    }
}
