package dev.silo.app;

import dev.silo.audit.Actor;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingLogs;
import dev.silo.testing.TestingSilo;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Claim C8 across nodes: with {@code SILO_REDIS_URL}, the rate limits and the login throttle are shared by every
 * node, through the machine's Redis (127.0.0.1:6379; required when {@code SILO_TEST_REQUIRE_REDIS=true}, which
 * {@code .ci/run} sets when it answers). Each test sends its own client address through a trusted proxy
 * ({@code X-Forwarded-For}), so counters in the shared Redis never carry over from another test or run.
 */
class SharedRateLimitTest {
    private static final String REDIS = "redis://127.0.0.1:6379";
    private static final String PASSWORD = "correct horse battery staple";
    private static final String WARNING = "Redis (SILO_REDIS_URL) unreachable";
    private static Silo shared;
    private static RedisClient client;
    private static StatefulRedisConnection<String, String> redis;

    @BeforeAll
    static void redisAnswers() {
        boolean available = machineRedis();
        if ("true".equals(System.getenv("SILO_TEST_REQUIRE_REDIS"))) {
            assertThat(available).as("the machine's Redis must answer on 127.0.0.1:6379 (.ci/run starts it)").isTrue();
        }
        Assumptions.assumeTrue(available, "no Redis on 127.0.0.1:6379: the shared rate-limit tests are skipped");
        shared = TestingSilo.shared();
        client = RedisClient.create(REDIS);
        redis = client.connect();
    }

    @AfterAll
    static void closeRedis() {
        if (redis != null) {
            redis.close();
            client.shutdown();
        }
    }

    private static boolean machineRedis() {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", 6379), 2000);
            socket.setSoTimeout(2000);
            socket.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            byte[] answer = socket.getInputStream().readNBytes(7);
            return new String(answer, StandardCharsets.US_ASCII).startsWith("+PONG");
        } catch (IOException e) {
            return false;
        }
    }

    /** A client address of this test's own, so no counter of an earlier run in the shared Redis applies. */
    private static String newClientAddress() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        return "10." + random.nextInt(256) + "." + random.nextInt(256) + "." + (1 + random.nextInt(254));
    }

    private static Silo node(String name, String redisUrl, Map<String, String> limits) {
        Map<String, String> env = new java.util.HashMap<>(limits);
        env.put("SILO_REDIS_URL", redisUrl);
        env.put("SILO_TRUSTED_PROXIES", "127.0.0.1/32");
        return TestingSilo.startOnSharedCatalog(name, env);
    }

    private static TestingHttp.Response get(Silo node, String client, String path) {
        TestingHttp http = new TestingHttp(node.baseUri());
        return http.send(http.request(path).header("X-Forwarded-For", client).GET().build());
    }

    private static TestingHttp.Response login(Silo node, String client, Tenant tenant, String email, String password) {
        TestingHttp http = new TestingHttp(node.baseUri());
        return http.send(http.request("/t/" + tenant.slug() + "/auth/login").header("X-Forwarded-For", client)
                .header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                        "{\"email\":\"" + email + "\",\"password\":\"" + password + "\"}")).build());
    }

    /** Waits until the node uses Redis (it connects in the background): a bucket of a probe address appears there. */
    private static void awaitShared(Silo node) {
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            String probe = newClientAddress();
            get(node, probe, "/health/live");
            return !redis.sync().keys("silo:rl:ip:" + probe + ":*").isEmpty();
        });
    }

    @Test
    void fiveFailedLoginsSpreadOverTwoNodesLockTheAccountOnBoth() {
        Tenant tenant = shared.tenants().create("shared-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(),
                Actor.SYSTEM);
        TestingHttp operator = new TestingHttp(shared.baseUri(), TestingSilo.operatorKey(shared));
        assertThat(operator.post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}").status()).isEqualTo(201);
        Map<String, String> limits = Map.of("SILO_RATE_LIMIT_IP", "1/min,1000");
        try (Silo a = node("redis-login-a", REDIS, limits); Silo b = node("redis-login-b", REDIS, limits)) {
            awaitShared(a);
            awaitShared(b);
            String attacker = newClientAddress();
            for (int i = 0; i < 5; i++) {
                var failed = login(i % 2 == 0 ? a : b, attacker, tenant, "admin@example.com", "not the password " + i);
                assertThat(failed.status()).as(failed.body()).isEqualTo(401);
            }
            // The right password, from another address, on either node: the account is locked everywhere.
            for (Silo node : List.of(a, b)) {
                var locked = login(node, newClientAddress(), tenant, "admin@example.com", PASSWORD);
                assertThat(locked.status()).as(locked.body()).isEqualTo(429);
                assertThat(locked.json().get("type").asText()).endsWith("/login-throttled");
                assertThat(locked.header("Retry-After")).isNotNull();
            }
        }
    }

    @Test
    void theAddressBudgetIsSharedByBothNodes() {
        Map<String, String> limits = Map.of("SILO_RATE_LIMIT_IP", "1/min,4");
        try (Silo a = node("redis-ip-a", REDIS, limits); Silo b = node("redis-ip-b", REDIS, limits)) {
            awaitShared(a);
            awaitShared(b);
            String client = newClientAddress();
            for (int i = 0; i < 4; i++) {
                assertThat(get(i % 2 == 0 ? a : b, client, "/health/live").status()).isEqualTo(200);
            }
            for (Silo node : List.of(a, b)) {
                var refused = get(node, client, "/health/live");
                assertThat(refused.status()).isEqualTo(429);
                assertThat(refused.json().get("type").asText()).endsWith("/rate-limited");
                assertThat(refused.header("RateLimit")).startsWith("\"ip\";r=0;");
            }
            // Another client still has its whole budget.
            assertThat(get(b, newClientAddress(), "/health/live").status()).isEqualTo(200);
        }
    }

    @Test
    void whenRedisStopsAnsweringRequestsAreServedFromMemoryWithOneWarningAndRedisIsUsedAgainWhenItAnswers() throws IOException {
        Tenant tenant = shared.tenants().create("outage-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(),
                Actor.SYSTEM);
        try (RedisProxy proxy = new RedisProxy();
             Silo node = node("redis-outage", "redis://127.0.0.1:" + proxy.port(), Map.of("SILO_RATE_LIMIT_IP", "1/min,1000",
                     "SILO_RATE_LIMIT_TENANT", "1/min,1000"))) {
            awaitShared(node);
            long warningsBefore = warnings();
            proxy.stop();
            String client = newClientAddress();
            for (int i = 0; i < 15; i++) {
                assertThat(get(node, client, "/health/live").status()).isEqualTo(200);
                assertThat(get(node, client, "/t/" + tenant.slug() + "/health").status()).isEqualTo(200);
                var failed = login(node, client, tenant, "nobody@example.com", "wrong password " + i);
                assertThat(failed.status()).as(failed.body()).isIn(401, 429);
            }
            // Limits still hold, per node, from memory.
            var limited = get(node, client, "/health/live");
            assertThat(limited.header("RateLimit")).contains("\"ip\";r=");
            assertThat(warnings() - warningsBefore).isEqualTo(1);
            assertThat(TestingLogs.lines().stream().filter(line -> line.contains(WARNING))
                    .allMatch(line -> line.contains("\"stream\":\"system\"") && line.contains("\"level\":\"WARN\""))).isTrue();

            proxy.start();
            awaitShared(node);
        }
    }

    @Test
    void aNodeWhoseRedisNeverAnswersServesEveryRequest() {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        try (Silo node = node("redis-closed", "redis://127.0.0.1:" + closedPort, Map.of("SILO_RATE_LIMIT_IP", "1/min,3"))) {
            String client = newClientAddress();
            for (int i = 0; i < 3; i++) {
                assertThat(get(node, client, "/health/live").status()).isEqualTo(200);
            }
            assertThat(get(node, client, "/health/live").status()).isEqualTo(429);
        }
    }

    private static long warnings() {
        return TestingLogs.lines().stream().filter(line -> line.contains(WARNING)).count();
    }

    /** A TCP proxy to the machine's Redis that the test can stop and start again on the same port. */
    private static final class RedisProxy implements AutoCloseable {
        private final List<Socket> sockets = new CopyOnWriteArrayList<>();
        private final int port;
        private volatile ServerSocket server;

        RedisProxy() throws IOException {
            ServerSocket first = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
            port = first.getLocalPort();
            listen(first);
        }

        int port() {
            return port;
        }

        void start() throws IOException {
            ServerSocket again = new ServerSocket();
            again.setReuseAddress(true);
            again.bind(new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), port));
            listen(again);
        }

        private void listen(ServerSocket socket) {
            server = socket;
            Thread.ofPlatform().daemon().name("redis-proxy").start(() -> {
                while (!socket.isClosed()) {
                    try {
                        Socket client = socket.accept();
                        Socket upstream = new Socket("127.0.0.1", 6379);
                        sockets.add(client);
                        sockets.add(upstream);
                        pump(client, upstream);
                        pump(upstream, client);
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        private static void pump(Socket from, Socket to) {
            Thread.ofPlatform().daemon().name("redis-proxy-pump").start(() -> {
                try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                    in.transferTo(out);
                } catch (IOException e) {
                    // one side closed
                } finally {
                    closeQuietly(from);
                    closeQuietly(to);
                }
            });
        }

        /** Closes the listener and every connection through it: Redis is gone for the node. */
        void stop() {
            closeQuietly(server);
            for (Socket socket : sockets) {
                closeQuietly(socket);
            }
            sockets.clear();
        }

        private static void closeQuietly(AutoCloseable closeable) {
            try {
                closeable.close();
            } catch (Exception e) {
                // already closed
            }
        }

        @Override
        public void close() {
            stop();
        }
    }
}
