package dev.silo.logs;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Main;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.platform.http.Json;
import dev.silo.platform.log.tail.LogTail;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Claim C21's live tail: {@code silo logs [--tail]} against a running node, over the admin API. */
class LiveTailTest {
    static Silo silo;
    static TestingHttp http;
    static Map<String, String> env;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        http = new TestingHttp(silo.baseUri());
        env = Map.of("SILO_OPERATOR_KEY", TestingSilo.operatorKey(silo));
    }

    /** A command run in-process, its output captured as it is printed. */
    static final class Command {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        volatile int exit = -1;

        String out() {
            synchronized (out) {
                return out.toString(StandardCharsets.UTF_8);
            }
        }

        String err() {
            synchronized (err) {
                return err.toString(StandardCharsets.UTF_8);
            }
        }

        int run(String... args) {
            String[] full = new String[args.length + 3];
            full[0] = "logs";
            full[1] = "--url";
            full[2] = silo.baseUri().toString();
            System.arraycopy(args, 0, full, 3, args.length);
            exit = Main.run(full, env, new PrintStream(synced(out), true, StandardCharsets.UTF_8),
                    new PrintStream(synced(err), true, StandardCharsets.UTF_8));
            return exit;
        }
    }

    /** Writes under the buffer's lock, so the test reads whole lines while the command prints. */
    static java.io.OutputStream synced(ByteArrayOutputStream target) {
        return new java.io.OutputStream() {
            @Override
            public void write(int b) {
                synchronized (target) {
                    target.write(b);
                }
            }

            @Override
            public void write(byte[] bytes, int offset, int length) {
                synchronized (target) {
                    target.write(bytes, offset, length);
                }
            }
        };
    }

    static String requestWithId(String path, String requestId) {
        var response = http.send(http.request(path).header("X-Request-Id", requestId).GET().build());
        return response.header("X-Request-Id");
    }

    static List<JsonNode> jsonLines(String output) {
        return Arrays.stream(output.split("\n")).filter(line -> !line.isBlank()).map(line -> {
            try {
                return Json.MAPPER.readTree(line);
            } catch (IOException e) {
                throw new UncheckedIOException(line, e);
            }
        }).toList();
    }

    @Test
    void tailShowsARequestMadeAfterItStarted() throws Exception {
        String requestId = "tail-after-start-" + UUID.randomUUID().toString().substring(0, 8);
        int before = LogTail.global().subscribers();
        Command tail = new Command();
        Thread running = Thread.ofPlatform().daemon().start(() -> tail.run("--tail", "--stream", "api"));
        try {
            await().atMost(Duration.ofSeconds(30)).until(() -> LogTail.global().subscribers() > before);
            assertThat(tail.out()).doesNotContain(requestId);
            assertThat(requestWithId("/health/live", requestId)).isEqualTo(requestId);
            await().atMost(Duration.ofSeconds(30)).until(() -> tail.out().contains("request_id=" + requestId));
            String line = Arrays.stream(tail.out().split("\n")).filter(l -> l.contains(requestId)).findFirst().orElseThrow();
            assertThat(line).contains(" api ").contains("GET /health/live 200");
            assertThat(tail.err()).isEmpty();
        } finally {
            running.interrupt();
            running.join(Duration.ofSeconds(30).toMillis());
        }
        assertThat(running.isAlive()).as("silo logs --tail stops when interrupted").isFalse();
        assertThat(tail.exit).isZero();
    }

    @Test
    void withoutTailTheBufferedLinesArePrintedFilteredByStreamAndTenant() {
        Tenant mine = silo.tenants().create("tail-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(),
                Actor.SYSTEM);
        Tenant other = silo.tenants().create("tail-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(),
                Actor.SYSTEM);
        String mineId = "tail-mine-" + UUID.randomUUID().toString().substring(0, 8);
        String otherId = "tail-other-" + UUID.randomUUID().toString().substring(0, 8);
        requestWithId("/t/" + mine.slug() + "/collections", mineId); // a 401, logged with its tenant
        requestWithId("/t/" + other.slug() + "/collections", otherId);
        // the api stream is written asynchronously: wait until both lines are in the buffer
        await().atMost(Duration.ofSeconds(30)).until(() -> LogTail.global().buffered(line -> line.mdc() != null
                && otherId.equals(line.mdc().get("request_id")) && "api".equals(line.stream())).size() == 1);

        Command byTenant = new Command();
        assertThat(byTenant.run("--tenant", mine.slug(), "--json")).as(byTenant.err()).isZero();
        List<JsonNode> lines = jsonLines(byTenant.out());
        assertThat(lines).isNotEmpty().allSatisfy(line -> assertThat(line.path("tenant").asText()).isEqualTo(mine.slug()));
        assertThat(lines).anySatisfy(line -> assertThat(line.path("request_id").asText()).isEqualTo(mineId));
        assertThat(byTenant.out()).doesNotContain(otherId);

        Command app = new Command();
        assertThat(app.run("--stream", "app", "--json")).as(app.err()).isZero();
        assertThat(jsonLines(app.out())).isNotEmpty().allSatisfy(line -> assertThat(line.path("stream").asText()).isEqualTo("app"));

        Command api = new Command();
        assertThat(api.run("--stream", "api")).as(api.err()).isZero();
        assertThat(api.out()).contains("request_id=" + mineId).contains("request_id=" + otherId)
                .contains("tenant=" + mine.slug());

        Command bad = new Command();
        assertThat(bad.run("--stream", "nonsense")).isEqualTo(Main.EXIT_CONFIG);
        assertThat(bad.err()).contains("--stream");
    }

    @Test
    void theApiRefusesABadFilterWithAProblem() {
        var response = http.withBearer(TestingSilo.operatorKey(silo)).get("/admin/logs?stream=secrets");
        assertThat(response.status()).isEqualTo(400);
        assertThat(response.contentType()).isEqualTo("application/problem+json");
        assertThat(response.json().path("parameter").asText()).isEqualTo("stream");
    }

    @Test
    void anUnauthenticatedTailIsRefusedWithTheOperator401() {
        for (TestingHttp client : List.of(http, http.withBearer("silo_op_not-a-key"))) {
            var response = client.send(client.request("/admin/logs/tail").header("Accept", "text/event-stream").GET().build());
            assertThat(response.status()).isEqualTo(401);
            assertThat(response.contentType()).isEqualTo("application/problem+json");
            assertThat(response.json().path("type").asText()).isEqualTo("https://silo.dev/problems/unauthorized");
            assertThat(response.header("WWW-Authenticate")).isEqualTo("Bearer realm=\"silo-admin\"");
        }
        Command withoutKey = new Command();
        var saved = env;
        env = Map.of("SILO_OPERATOR_KEY", "silo_op_not-a-key");
        try {
            assertThat(withoutKey.run("--tail")).isEqualTo(Main.EXIT_FAILURE);
        } finally {
            env = saved;
        }
        assertThat(withoutKey.err()).contains("HTTP 401").doesNotContain("silo_op_not-a-key");
    }
}
