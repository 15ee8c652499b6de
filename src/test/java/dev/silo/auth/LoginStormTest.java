package dev.silo.auth;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.audit.TenantAudit;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Claim C8: a login storm is shed at once with login-busy and never stops the rest of the API (issue 11.1). */
class LoginStormTest {
    private static final String PASSWORD = "correct horse battery staple";

    @Test
    void whileEveryHashingPlaceIsTakenLoginsAreShedAtOnceAndOtherRoutesAnswer() throws Exception {
        Silo silo = TestingSilo.shared();
        TestingHttp http = new TestingHttp(silo.baseUri());
        Tenant tenant = silo.tenants().create("storm-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(),
                Actor.SYSTEM);
        silo.core().users().create(tenant, "ann@example.com", "admin", PASSWORD, TenantAudit.Context.SYSTEM);
        String login = "/t/" + tenant.slug() + "/auth/login";
        String body = "{\"email\":\"ann@example.com\",\"password\":\"" + PASSWORD + "\"}";
        var first = http.post(login, body);
        assertThat(first.status()).as(first.body()).isEqualTo(200);
        TestingHttp ann = http.withBearer(first.json().get("access_token").asText());

        HashingGate gate = silo.core().hashingGate();
        int places = gate.threads() + gate.queue();
        CountDownLatch release = new CountDownLatch(1);
        try (ExecutorService holders = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> held = new ArrayList<>();
            for (int i = 0; i < places; i++) {
                held.add(holders.submit(() -> gate.run(() -> {
                    try {
                        return release.await(60, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                })));
            }
            try {
                await().atMost(Duration.ofSeconds(20))
                        .until(() -> gate.running() == gate.threads() && gate.waiting() == gate.queue() && gate.freePlaces() == 0);

                // Every connection of the tenant taken too: a login is shed by the pool, before it would wait for
                // a connection (and answer 503 busy only after SILO_TENANT_CONNECTION_WAIT_MS).
                CountDownLatch connectionsBack = new CountDownLatch(1);
                CountDownLatch connectionsTaken = new CountDownLatch(silo.config().tuning().tenantPoolSize());
                List<Future<?>> connections = new ArrayList<>();
                for (int i = 0; i < silo.config().tuning().tenantPoolSize(); i++) {
                    connections.add(holders.submit(() -> silo.core().tenantDatabases().withConnection(tenant, connection -> {
                        connectionsTaken.countDown();
                        try {
                            return connectionsBack.await(60, TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            throw new IllegalStateException(e);
                        }
                    })));
                }
                try {
                    assertThat(connectionsTaken.await(30, TimeUnit.SECONDS)).isTrue();
                    var shedFirst = http.post(login, body);
                    assertThat(connections).noneMatch(Future::isDone);
                    assertThat(shedFirst.status()).as(shedFirst.body()).isEqualTo(503);
                    assertThat(shedFirst.json().get("type").asText()).endsWith("/login-busy");
                } finally {
                    connectionsBack.countDown();
                }
                for (Future<?> connection : connections) {
                    connection.get(60, TimeUnit.SECONDS);
                }

                var shed = http.post(login, body);
                var unknown = http.post(login, "{\"email\":\"nobody@example.com\",\"password\":\"" + PASSWORD + "\"}");
                var me = ann.get("/t/" + tenant.slug() + "/me");
                var live = http.get("/health/live");
                var users = ann.get("/t/" + tenant.slug() + "/users");
                // all of the above were answered while the hashing pool was still blocked
                assertThat(held).noneMatch(Future::isDone);
                assertThat(gate.freePlaces()).isZero();

                for (var refused : List.of(shed, unknown)) {
                    assertThat(refused.status()).as(refused.body()).isEqualTo(503);
                    assertThat(refused.contentType()).isEqualTo("application/problem+json");
                    assertThat(refused.json().get("type").asText()).endsWith("/login-busy");
                    assertThat(refused.header("Retry-After")).isEqualTo("1");
                }
                assertThat(me.status()).as(me.body()).isEqualTo(200);
                assertThat(me.json().get("email").asText()).isEqualTo("ann@example.com");
                assertThat(live.status()).isEqualTo(200);
                assertThat(users.status()).as(users.body()).isEqualTo(200);
            } finally {
                release.countDown();
            }
            for (Future<?> future : held) {
                future.get(60, TimeUnit.SECONDS);
            }
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> gate.freePlaces() == places);
        var again = http.post(login, body);
        assertThat(again.status()).as(again.body()).isEqualTo(200);
        JsonNode tokens = again.json();
        assertThat(tokens.get("access_token").asText()).isNotBlank();
    }
}
