package dev.silo.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.platform.problem.NotFound;
import dev.silo.tenant.TenantStatus;
import dev.silo.testing.TestingClock;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Issue 18.3: two fully separate Silo nodes in this JVM (each its own HTTP server, port, pools, caches and job
 * scheduler) on one fresh catalog database ({@link ClusterCatalog}: the machine's PostgreSQL when it answers over
 * TLS), whose server is also their placement, and on the machine's Redis. The Redis part runs when Redis answers
 * (required with {@code SILO_TEST_REQUIRE_REDIS}). {@link KilledNodeTest} kills a node process.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TwoNodesTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static final String REDIS = ClusterCatalog.REDIS;
    private static final Duration PROPAGATION = Duration.ofSeconds(1);

    private static ClusterCatalog catalog;
    private static boolean redisAvailable;
    private static final TestingClock CLOCK_A = new TestingClock();
    private static final TestingClock CLOCK_B = new TestingClock();
    private static Silo nodeA;
    private static Silo nodeB;
    private static TestingHttp operatorA;
    private static TestingHttp operatorB;
    private static final List<String> slugs = new ArrayList<>();
    private static Map<String, String> commandEnv;

    @BeforeAll
    static void startTwoNodes() throws Exception {
        redisAvailable = ClusterCatalog.machineRedis();
        catalog = ClusterCatalog.create("silo_cluster");
        String catalogUrl = catalog.catalogUrl();
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        Map<String, String> env = new HashMap<>();
        env.put("SILO_DATABASE_URL", catalogUrl);
        env.put("SILO_MASTER_KEY", Base64.getEncoder().encodeToString(key));
        // Behind one load balancer both nodes are one issuer: a token of either is good on the other.
        env.put("SILO_PUBLIC_URL", "https://silo.example.com");
        // The tenant limit high for every tenant but the one the Redis test lowers.
        env.put("SILO_RATE_LIMIT_TENANT", "1000/s,1000");
        if (redisAvailable) {
            env.put("SILO_REDIS_URL", REDIS);
        }
        commandEnv = Map.of("SILO_DATABASE_URL", catalogUrl, "SILO_MASTER_KEY", env.get("SILO_MASTER_KEY"),
                "SILO_DATA_DIR", TestingSilo.newDataDir("cluster-cli").toString());
        nodeA = TestingSilo.startNew(TestingSilo.newDataDir("cluster-a"), env, CLOCK_A);
        nodeB = TestingSilo.startNew(TestingSilo.newDataDir("cluster-b"), env, CLOCK_B);
        String operatorKey = nodeA.core().operators().create("cluster-test", Actor.SYSTEM).key();
        operatorA = new TestingHttp(nodeA.baseUri()).withBearer(operatorKey);
        operatorB = new TestingHttp(nodeB.baseUri()).withBearer(operatorKey);
        nodeA.core().placements().add("shared", catalog.placementUrl(), catalog.placementCa(), Actor.SYSTEM);
    }

    @AfterAll
    static void stopAndDrop() throws SQLException {
        CLOCK_A.reset();
        CLOCK_B.reset();
        try {
            if (nodeB != null) {
                for (String slug : slugs) {
                    try {
                        nodeB.tenants().purge(slug, true, Actor.SYSTEM);
                    } catch (RuntimeException e) {
                        // already purged
                    }
                }
            }
        } finally {
            if (nodeA != null) {
                nodeA.close();
            }
            if (nodeB != null) {
                nodeB.close();
            }
            if (catalog != null) {
                catalog.drop();
            }
        }
    }

    @Test
    @Order(1)
    void aTenantCreatedOnNodeAIsServedByNodeBAtOnce() {
        String slug = createTenantOnA("made-on-a");
        TestingHttp anonymousB = new TestingHttp(nodeB.baseUri());
        assertThat(anonymousB.get("/t/" + slug + "/health").status()).isEqualTo(200);
        var login = login(nodeB, slug);
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        var me = new TestingHttp(nodeB.baseUri()).withBearer(login.json().get("access_token").asText()).get("/t/" + slug + "/me");
        assertThat(me.status()).as(me.body()).isEqualTo(200);
        // And the operator API of B lists it.
        assertThat(operatorB.get("/admin/tenants/" + slug).json().get("status").asText()).isEqualTo("active");
    }

    @Test
    @Order(2)
    void aLogoutOnNodeAEndsTheSessionOnNodeB() {
        String slug = createTenantOnA("logout");
        JsonNode tokens = login(nodeA, slug).json();
        TestingHttp onB = new TestingHttp(nodeB.baseUri()).withBearer(tokens.get("access_token").asText());
        assertThat(onB.get("/t/" + slug + "/me").status()).isEqualTo(200);
        var logout = new TestingHttp(nodeA.baseUri()).withBearer(tokens.get("access_token").asText())
                .post("/t/" + slug + "/auth/logout", "{\"refresh_token\":\"" + tokens.get("refresh_token").asText() + "\"}");
        assertThat(logout.status()).as(logout.body()).isEqualTo(204);
        await().atMost(PROPAGATION).pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> assertThat(onB.get("/t/" + slug + "/me").status()).isEqualTo(401));
    }

    @Test
    @Order(2)
    void aServiceCredentialRevokedOnNodeAIsRefusedOnNodeB() {
        String slug = createTenantOnA("service-credential");
        JsonNode tokens = login(nodeA, slug).json();
        TestingHttp adminA = new TestingHttp(nodeA.baseUri()).withBearer(tokens.get("access_token").asText());
        var created = adminA.post("/t/" + slug + "/service-credentials", "{\"name\":\"billing\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        String credential = created.json().get("credential").asText();
        TestingHttp introspectB = new TestingHttp(nodeB.baseUri());
        java.util.function.Supplier<TestingHttp.Response> introspect = () -> introspectB.send(
                introspectB.request("/t/" + slug + "/auth/introspect")
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .header("Authorization", "Bearer " + credential)
                        .POST(java.net.http.HttpRequest.BodyPublishers.ofString("token=" + tokens.get("access_token").asText()))
                        .build());
        // B has seen the credential live (and remembers it) before A revokes it.
        var before = introspect.get();
        assertThat(before.status()).as(before.body()).isEqualTo(200);
        assertThat(before.json().get("active").asBoolean()).isTrue();
        var revoked = adminA.delete("/t/" + slug + "/service-credentials/" + created.json().get("id").asText());
        assertThat(revoked.status()).as(revoked.body()).isEqualTo(204);
        await().atMost(PROPAGATION).pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> assertThat(introspect.get().status()).isEqualTo(401));
    }

    @Test
    @Order(3)
    void aSuspensionOnNodeAStopsTheTenantOnNodeBAndAResumeBringsItBack() {
        String slug = createTenantOnA("suspend");
        JsonNode tokens = login(nodeA, slug).json();
        TestingHttp onB = new TestingHttp(nodeB.baseUri()).withBearer(tokens.get("access_token").asText());
        assertThat(onB.get("/t/" + slug + "/me").status()).isEqualTo(200);
        assertThat(operatorA.post("/admin/tenants/" + slug + "/suspend", "{}").status()).isEqualTo(200);
        await().atMost(PROPAGATION).pollInterval(Duration.ofMillis(50)).untilAsserted(() -> {
            var refused = onB.get("/t/" + slug + "/me");
            assertThat(refused.status()).isEqualTo(403);
            assertThat(refused.json().get("type").asText()).endsWith("/tenant-suspended");
        });
        assertThat(operatorA.post("/admin/tenants/" + slug + "/resume", "{}").status()).isEqualTo(200);
        await().atMost(PROPAGATION).pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> assertThat(onB.get("/t/" + slug + "/me").status()).isEqualTo(200));
    }

    @Test
    @Order(3)
    void aSecretRotationOnNodeAReachesNodeB() {
        String slug = createTenantOnA("rotate");
        JsonNode before = login(nodeA, slug).json();
        TestingHttp oldOnB = new TestingHttp(nodeB.baseUri()).withBearer(before.get("access_token").asText());
        assertThat(oldOnB.get("/t/" + slug + "/me").status()).isEqualTo(200);
        var rotated = operatorA.post("/admin/tenants/" + slug + "/rotate-secret", "{\"revoke_previous\": true}");
        assertThat(rotated.status()).as(rotated.body()).isEqualTo(200);
        assertThat(rotated.body()).contains("revoked");
        // B stops accepting the revoked key, and accepts tokens signed with the new one.
        await().atMost(PROPAGATION).pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> assertThat(oldOnB.get("/t/" + slug + "/me").status()).isEqualTo(401));
        JsonNode after = login(nodeA, slug).json();
        var newOnB = new TestingHttp(nodeB.baseUri()).withBearer(after.get("access_token").asText()).get("/t/" + slug + "/me");
        assertThat(newOnB.status()).as(newOnB.body()).isEqualTo(200);
    }

    @Test
    @Order(4)
    void aTenantsRateLimitIsOneBucketAcrossBothNodesThroughRedis() {
        Assumptions.assumeTrue(redisAvailable, "no Redis on 127.0.0.1:6379");
        RedisClient client = RedisClient.create(REDIS);
        try (StatefulRedisConnection<String, String> redis = client.connect()) {
            // Each node connects to Redis in the background: wait until both keep their buckets there.
            for (Silo node : List.of(nodeA, nodeB)) {
                await().atMost(Duration.ofSeconds(30)).until(() -> {
                    String probe = "probe-" + UUID.randomUUID().toString().substring(0, 8);
                    new TestingHttp(node.baseUri()).get("/t/" + probe + "/health");
                    return !redis.sync().keys("silo:rl:tenant:" + probe + ":*").isEmpty();
                });
            }
            String slug = createTenantOnA("limited");
            var patched = operatorA.send(operatorA.request("/admin/tenants/" + slug).header("Content-Type", "application/json")
                    .method("PATCH", java.net.http.HttpRequest.BodyPublishers.ofString("{\"rate_limit\":\"1/h,4\"}")).build());
            assertThat(patched.status()).as(patched.body()).isEqualTo(200);
            // Four tokens in all: two on A, two on B, and then neither node has any left.
            await().atMost(PROPAGATION).until(() -> nodeB.directory().rateLimit(slug).isPresent()
                    && nodeA.directory().rateLimit(slug).isPresent());
            TestingHttp a = new TestingHttp(nodeA.baseUri());
            TestingHttp b = new TestingHttp(nodeB.baseUri());
            int served = 0;
            int limited = 0;
            for (int i = 0; i < 8; i++) {
                int status = (i % 2 == 0 ? a : b).get("/t/" + slug + "/health").status();
                if (status == 200) {
                    served++;
                } else if (status == 429) {
                    limited++;
                }
            }
            assertThat(served).as("one bucket of 4 across both nodes (each alone would serve 4 of its own)").isEqualTo(4);
            assertThat(limited).isEqualTo(4);
        } finally {
            client.shutdown();
        }
    }

    @Test
    @Order(5)
    void theClusterApiNeedsAnOperatorKey() {
        assertThat(new TestingHttp(nodeA.baseUri()).get("/admin/cluster").status()).isEqualTo(401);
        assertThat(new TestingHttp(nodeA.baseUri()).withBearer("not-a-key").get("/admin/cluster").status()).isEqualTo(401);
    }

    /** Last: it halts node A's cluster session, as the death of its process would, and advances B's clock. */
    @Test
    @Order(6)
    void eachJobRunsOnOneNodeAndTheOtherTakesOverWhenTheHolderDies() throws IOException {
        // Both nodes live, each cluster job held by exactly one of them.
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            JsonNode cluster = operatorB.get("/admin/cluster").json();
            assertThat(cluster.get("node").asText()).isEqualTo(nodeB.cluster().nodeId().toString());
            assertThat(liveNodes(cluster)).containsExactlyInAnyOrder(nodeA.cluster().nodeId().toString(),
                    nodeB.cluster().nodeId().toString());
            for (ClusterJob job : ClusterJob.values()) {
                assertThat(cluster.get("jobs").get(job.jobName()).isNull()).as(job.jobName()).isFalse();
            }
        });
        JsonNode cluster = operatorA.get("/admin/cluster").json();
        String holderId = cluster.get("jobs").get(ClusterJob.TENANT_LIFECYCLE.jobName()).asText();
        Silo holder = holderId.equals(nodeA.cluster().nodeId().toString()) ? nodeA : nodeB;
        Silo other = holder == nodeA ? nodeB : nodeA;
        TestingClock otherClock = other == nodeA ? CLOCK_A : CLOCK_B;
        for (JsonNode node : cluster.get("nodes")) {
            assertThat(node.get("version").asText()).isNotBlank();
            assertThat(node.get("host").asText()).isNotBlank();
            assertThat(node.get("node_jobs").toString()).contains("audit-checkpoints");
        }
        // The command line reads the same from the catalog.
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        int code = dev.silo.app.Main.run(new String[] {"cluster", "--json"}, commandEnv,
                new java.io.PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertThat(code).isZero();
        JsonNode listed = dev.silo.platform.http.Json.MAPPER.readTree(out.toString(StandardCharsets.UTF_8));
        assertThat(liveNodes(listed)).containsExactlyInAnyOrder(nodeA.cluster().nodeId().toString(),
                nodeB.cluster().nodeId().toString());
        assertThat(listed.get("jobs").get(ClusterJob.TENANT_LIFECYCLE.jobName()).asText()).isEqualTo(holderId);
        assertThat(other.cluster().runIfHeld(ClusterJob.TENANT_LIFECYCLE)).as("the round is the holder's").isFalse();
        assertThat(holder.cluster().runIfHeld(ClusterJob.TENANT_LIFECYCLE)).isTrue();

        // A tenant past its retention window on the other node's clock: only the job's next round purges it.
        String slug = createTenantOnA("purged");
        holder.tenants().deprovision(slug, Actor.SYSTEM);
        otherClock.advance(Duration.ofDays(8));
        assertThat(other.cluster().runIfHeld(ClusterJob.TENANT_LIFECYCLE)).isFalse();
        assertThat(other.tenants().get(slug).status()).isEqualTo(TenantStatus.DEPROVISIONED);

        holder.cluster().halt(); // its session ends without an unlock, as when the process is killed
        String otherId = other.cluster().nodeId().toString();
        await().atMost(Duration.ofMinutes(1)).untilAsserted(() -> {
            JsonNode now = operatorB.get("/admin/cluster").json();
            for (ClusterJob job : ClusterJob.values()) {
                assertThat(now.get("jobs").get(job.jobName()).asText()).as(job.jobName()).isEqualTo(otherId);
            }
        });
        assertThat(other.cluster().runIfHeld(ClusterJob.TENANT_LIFECYCLE)).isTrue();
        assertThatThrownBy(() -> other.tenants().get(slug)).as("purged").isInstanceOf(NotFound.class);
        // The dead node drops out of the live list once unseen for 30 s.
        await().atMost(ClusterMembership.LIVE.plusSeconds(30)).untilAsserted(() ->
                assertThat(liveNodes(operatorB.get("/admin/cluster").json())).containsExactly(otherId));
    }

    private static List<String> liveNodes(JsonNode cluster) {
        List<String> ids = new ArrayList<>();
        cluster.get("nodes").forEach(node -> ids.add(node.get("id").asText()));
        return ids;
    }

    private static String createTenantOnA(String prefix) {
        String slug = prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
        var created = operatorA.post("/admin/tenants", "{\"slug\":\"" + slug + "\",\"name\":\"Tenant " + slug + "\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        slugs.add(slug);
        var admin = operatorA.post("/admin/tenants/" + slug + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(admin.status()).as(admin.body()).isEqualTo(201);
        return slug;
    }

    private static TestingHttp.Response login(Silo node, String slug) {
        return new TestingHttp(node.baseUri()).post("/t/" + slug + "/auth/login",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
    }
}
