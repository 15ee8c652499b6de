package dev.silo.app;

import dev.silo.audit.Actor;
import dev.silo.audit.TenantAudit;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingLogs;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Behind a trusted proxy (here: every request arrives from 127.0.0.1, as from a router) the client is the address
 * the proxy forwarded for, for the login throttle, the audit log, sessions and the api line; from an untrusted peer the
 * forwarding headers are ignored (issue 14.1).
 */
class ClientAddressTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static Silo behindProxy;
    private static TestingHttp http;
    private static Tenant tenant;

    @BeforeAll
    static void start() {
        TestingLogs.install();
        behindProxy = TestingSilo.startNew(TestingSilo.newDataDir("proxied"), Map.of("SILO_TRUSTED_PROXIES", "127.0.0.1/32"));
        http = new TestingHttp(behindProxy.baseUri());
        tenant = behindProxy.tenants().create("proxied-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(),
                Actor.SYSTEM);
        behindProxy.core().users().create(tenant, "ada@example.com", "admin", PASSWORD, TenantAudit.Context.SYSTEM);
    }

    @AfterAll
    static void stop() {
        behindProxy.close();
    }

    private static TestingHttp.Response login(String from, String email, String password, String requestId) {
        return http.send(http.request("/t/" + tenant.slug() + "/auth/login")
                .header("Content-Type", "application/json")
                .header("X-Forwarded-For", "6.6.6.6, " + from)
                .header("X-Request-Id", requestId)
                .POST(HttpRequest.BodyPublishers.ofString("{\"email\":\"" + email + "\",\"password\":\"" + password + "\"}"))
                .build());
    }

    @Test
    void aClientLockedOutByItsFailuresDoesNotLockOutAnotherBehindTheSameProxy() {
        String attacker = "203.0.113.7";
        int refused = 0;
        // Different unknown accounts each time: only the per-address count can lock.
        for (int i = 0; i < 60 && refused == 0; i++) {
            var response = login(attacker, "nobody" + i + "@example.com", "wrong password " + i, "spray-" + i);
            if (response.status() == 429) {
                refused++;
                assertThat(response.json().get("type").asText()).endsWith("/login-throttled");
            } else {
                assertThat(response.status()).as(response.body()).isEqualTo(401);
            }
        }
        assertThat(refused).as("the attacker's address is locked out").isEqualTo(1);
        assertThat(login(attacker, "ada@example.com", PASSWORD, "attacker-right-password").status()).isEqualTo(429);

        var other = login("198.51.100.9", "ada@example.com", PASSWORD, "other-client-login");
        assertThat(other.status()).as("another client behind the same proxy: %s", other.body()).isEqualTo(200);
        // The api line is written once the response is sent.
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(TestingLogs.lines()).anySatisfy(line -> assertThat(line)
                .contains("\"request_id\":\"other-client-login\"").contains("\"client_ip\":\"198.51.100.9\"")));
        var audit = http.withBearer(other.json().get("access_token").asText())
                .get("/t/" + tenant.slug() + "/audit?type=login.success");
        assertThat(audit.body()).contains("198.51.100.9").doesNotContain("6.6.6.6");
    }

    @Test
    void aSessionShowsTheAddressTheProxyForwardedFor() {
        var login = login("198.51.100.20", "ada@example.com", PASSWORD, "session-address-login");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        var sessions = http.withBearer(login.json().get("access_token").asText()).get("/t/" + tenant.slug() + "/me/sessions");
        assertThat(sessions.status()).as(sessions.body()).isEqualTo(200);
        var current = java.util.stream.StreamSupport.stream(sessions.json().get("sessions").spliterator(), false)
                .filter(s -> s.get("current").asBoolean()).findFirst().orElseThrow();
        assertThat(current.get("client_address").asText()).isEqualTo("198.51.100.20");
    }

    @Test
    void anUntrustedPeerCannotChooseItsAddress() {
        // The shared node trusts no proxy: the header is ignored and the TCP peer is the client.
        TestingHttp shared = new TestingHttp(TestingSilo.shared().baseUri());
        var response = shared.send(shared.request("/health/live").header("X-Forwarded-For", "203.0.113.99")
                .header("X-Request-Id", "spoofed-forwarded-for").GET().build());
        assertThat(response.status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(TestingLogs.lines()).anySatisfy(line -> assertThat(line)
                .contains("\"request_id\":\"spoofed-forwarded-for\"").contains("\"client_ip\":\"127.0.0.1\"")));
    }
}
