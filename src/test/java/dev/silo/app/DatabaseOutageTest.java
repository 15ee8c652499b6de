package dev.silo.app;

import dev.silo.platform.db.EmbeddedPostgresServer;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingLogs;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Claim C17 (issue 11.5): the embedded PostgreSQL is supervised. When it dies, requests get a 503
 * {@code database-unavailable} with {@code Retry-After} (never a 500, never "busy"), it is started again by
 * itself (crash recovery), readiness comes back without touching Silo, and nothing acknowledged is lost.
 */
class DatabaseOutageTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static final String UNAVAILABLE = "https://silo.dev/problems/database-unavailable";

    /** One answer to one write of the load: its status, its problem type (if any), the record id (if created). */
    private record Outcome(int status, String type, String retryAfter, String recordId, String body) {}

    @Test
    void aKilledPostgresIsRestartedUnderWriteLoadWithNo500AndNoAcknowledgedWriteLost() throws Exception {
        try (Silo silo = TestingSilo.startNew(TestingSilo.newDataDir("crash"), Map.of())) {
            TestingHttp http = new TestingHttp(silo.baseUri());
            TestingHttp writer = tenantAdmin(silo, http, "crash");
            String records = "/t/crash/collections/notes/records";
            EmbeddedPostgresServer postgres = silo.embedded().orElseThrow();

            ConcurrentLinkedQueue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
            AtomicInteger acknowledged = new AtomicInteger();
            AtomicBoolean stop = new AtomicBoolean();
            List<Future<?>> writers = new ArrayList<>();
            try (ExecutorService load = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < 4; i++) {
                    int thread = i;
                    writers.add(load.submit(() -> {
                        for (int n = 0; !stop.get(); n++) {
                            var response = writer.post(records, "{\"text\":\"writer " + thread + " note " + n + "\"}");
                            Outcome outcome = outcome(response);
                            outcomes.add(outcome);
                            if (response.status() == 201) {
                                acknowledged.incrementAndGet();
                            }
                        }
                        return null;
                    }));
                }
                await().atMost(Duration.ofSeconds(60)).until(() -> acknowledged.get() >= 20);

                long pid = postgres.postmaster().orElseThrow().pid();
                assertThat(ProcessHandle.of(pid).orElseThrow().destroyForcibly()).isTrue(); // SIGKILL

                // Readiness comes back without anybody touching Silo: the supervisor started PostgreSQL again.
                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                        .until(() -> postgres.restarts() >= 1 && http.get("/health/ready").status() == 200);
                assertThat(postgres.postmaster().orElseThrow().pid()).isNotEqualTo(pid);
                int afterRestart = acknowledged.get();
                await().atMost(Duration.ofSeconds(60)).until(() -> acknowledged.get() >= afterRestart + 20);
                stop.set(true);
                for (Future<?> future : writers) {
                    future.get(60, TimeUnit.SECONDS);
                }
            }

            List<Outcome> all = List.copyOf(outcomes);
            assertThat(all).noneMatch(outcome -> outcome.status() >= 500 && outcome.status() != 503);
            // 503s name the outage; a request whose wait for a connection ended while the new server's pool was
            // still filling (a loaded machine) is answered busy instead: both retryable, both with Retry-After.
            assertThat(all).filteredOn(outcome -> outcome.status() == 503).allSatisfy(outcome -> {
                assertThat(outcome.type()).as(outcome.body()).isIn(UNAVAILABLE, "https://silo.dev/problems/busy");
                assertThat(outcome.retryAfter()).isNotNull();
            });
            assertThat(all).allMatch(outcome -> outcome.status() == 201 || outcome.status() == 503);

            // Every write that was acknowledged survived the crash (fsync and synchronous_commit are on).
            List<String> written = all.stream().filter(outcome -> outcome.status() == 201).map(Outcome::recordId).toList();
            assertThat(written).hasSizeGreaterThanOrEqualTo(40);
            for (String id : written) {
                var read = writer.get(records + "/" + id);
                assertThat(read.status()).as(id + ": " + read.body()).isEqualTo(200);
            }
        }
    }

    @Test
    void whilePostgresCannotComeBackRequestsGet503DatabaseUnavailableAndShutdownDoesNotWaitForIt() throws Exception {
        Silo silo = TestingSilo.startNew(TestingSilo.newDataDir("outage"), Map.of());
        boolean closed = false;
        try {
            TestingHttp http = new TestingHttp(silo.baseUri());
            TestingHttp writer = tenantAdmin(silo, http, "outage");
            String records = "/t/outage/collections/notes/records";
            assertThat(writer.post(records, "{\"text\":\"before\"}").status()).isEqualTo(201);
            EmbeddedPostgresServer postgres = silo.embedded().orElseThrow();

            // Kill PostgreSQL and take its port, so that the supervisor's restarts fail until the port is free again.
            try (ServerSocket squatter = takePortAfterKilling(postgres)) {
                var ready = http.get("/health/ready");
                assertThat(ready.status()).isEqualTo(503);
                assertThat(ready.header("Retry-After")).isNotNull();
                assertThat(http.get("/health/live").status()).isEqualTo(200);

                var write = writer.post(records, "{\"text\":\"during\"}");
                assertThat(write.status()).as(write.body()).isEqualTo(503);
                assertThat(write.contentType()).isEqualTo("application/problem+json");
                assertThat(write.json().get("type").asText()).isEqualTo(UNAVAILABLE);
                assertThat(write.header("Retry-After")).isNotNull();
                var read = writer.get(records);
                assertThat(read.status()).as(read.body()).isEqualTo(503);
                assertThat(read.json().get("type").asText()).isEqualTo(UNAVAILABLE);
                assertThat(squatter.isBound()).isTrue(); // all of this was answered while PostgreSQL could not be back
            }

            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                    .until(() -> http.get("/health/ready").status() == 200);
            // Readiness checks the catalog; a tenant connection opened during the outage may still be found dead by
            // the first write after it, which then answers 503 database-unavailable (retryable), never anything else.
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> {
                var after = writer.post(records, "{\"text\":\"after\"}");
                if (after.status() == 201) {
                    return true;
                }
                assertThat(after.status()).as(after.body()).isEqualTo(503);
                assertThat(after.json().get("type").asText()).isEqualTo(UNAVAILABLE);
                return false;
            });

            // Dead again, and the port taken again: a shutdown now has no server to stop and does not wait for one.
            try (ServerSocket squatter = takePortAfterKilling(postgres)) {
                await().atMost(Duration.ofSeconds(30)).until(() -> postgres.availability().isDown()); // the crash is logged
                int before = TestingLogs.lines().size();
                silo.close();
                closed = true;
                List<String> logs = TestingLogs.lines().subList(before, TestingLogs.lines().size());
                assertThat(logs).anyMatch(line -> line.contains("is not running; nothing to stop"));
                assertThat(logs).noneMatch(line -> line.contains("\"level\":\"ERROR\""));
                assertThat(squatter.isBound()).isTrue();
            }
        } finally {
            if (!closed) {
                silo.close();
            }
        }
    }

    /**
     * Kills the postmaster and binds its port before the supervisor's restart does (if the restart wins the race,
     * kills the restarted one too and tries again).
     */
    private static ServerSocket takePortAfterKilling(EmbeddedPostgresServer postgres) throws Exception {
        for (int attempt = 0; attempt < 20; attempt++) {
            ProcessHandle postmaster = postgres.postmaster().orElseThrow();
            postmaster.destroyForcibly();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < deadline) {
                try {
                    ServerSocket squatter = new ServerSocket(postgres.port(), 1, InetAddress.getLoopbackAddress());
                    // A squatter that never accepts makes connection attempts hang rather than fail, unlike a dead
                    // server's closed port: wait until the supervisor has seen the death, which is what answers
                    // database-unavailable at once.
                    await().atMost(Duration.ofSeconds(60)).until(() -> postgres.availability().isDown());
                    return squatter;
                } catch (IOException stillInUse) {
                    if (postgres.postmaster().orElseThrow().pid() != postmaster.pid()) {
                        break; // restarted before the port could be taken
                    }
                    Thread.onSpinWait();
                }
            }
            await().atMost(Duration.ofSeconds(60)).until(() -> postgres.availability().isDown() == false);
        }
        throw new AssertionError("could not take the port of the killed PostgreSQL");
    }

    private static Outcome outcome(TestingHttp.Response response) {
        String type = null;
        String id = null;
        if (response.status() == 201) {
            id = response.json().get("id").asText();
        } else if ("application/problem+json".equals(response.contentType())) {
            type = response.json().get("type").asText();
        }
        return new Outcome(response.status(), type, response.header("Retry-After"), id, response.body());
    }

    /** A tenant {@code slug} with an admin and a collection "notes"; returns the admin's client. */
    private static TestingHttp tenantAdmin(Silo silo, TestingHttp http, String slug) {
        TestingHttp operator = http.withBearer(TestingSilo.operatorKey(silo));
        var tenant = operator.post("/admin/tenants", "{\"slug\":\"" + slug + "\",\"name\":\"Outage\"}");
        assertThat(tenant.status()).as(tenant.body()).isEqualTo(201);
        var admin = operator.post("/admin/tenants/" + slug + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(admin.status()).as(admin.body()).isEqualTo(201);
        var login = http.post("/t/" + slug + "/auth/login", "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        TestingHttp client = http.withBearer(login.json().get("access_token").asText());
        var collection = client.send(client.request("/t/" + slug + "/collections/notes").header("Content-Type", "application/json")
                .PUT(java.net.http.HttpRequest.BodyPublishers.ofString("{\"fields\": {\"text\": {\"type\": \"string\"}}}")).build());
        assertThat(collection.status()).as(collection.body()).isEqualTo(201);
        return client;
    }
}
