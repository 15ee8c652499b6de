package dev.silo.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.SiloCore;
import dev.silo.audit.Actor;
import dev.silo.platform.config.SiloConfig;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Issue 18.3 with real processes: two Silo nodes ({@code dev.silo.app.Main serve} in JVMs of their own, on this
 * build's classes) on one fresh catalog ({@link ClusterCatalog}). Node A, holding every cluster job, is killed with
 * SIGKILL while B's clients call B: none of B's requests fails, and B takes over the jobs. And a rolling restart
 * (A, then B, each SIGTERM then start again) under two writing clients loses no acknowledged write.
 */
class KilledNodeTest {
    private static final Pattern READY = Pattern.compile("ready at (http://127\\.0\\.0\\.1:\\d+)");
    private static final String PASSWORD = "correct horse battery staple";

    private static ClusterCatalog catalog;
    private static Map<String, String> env;
    private static final List<Process> processes = new ArrayList<>();
    private static final List<String> slugs = new ArrayList<>();

    @BeforeAll
    static void freshCatalog() throws IOException, SQLException {
        catalog = ClusterCatalog.create("silo_killed");
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        env = new HashMap<>();
        env.put("SILO_DATABASE_URL", catalog.catalogUrl());
        env.put("SILO_MASTER_KEY", Base64.getEncoder().encodeToString(key));
        env.put("SILO_PUBLIC_URL", "https://silo.example.com");
        env.put("SILO_BCRYPT_COST", "10");
        env.put("SILO_HOST", "127.0.0.1");
        env.put("SILO_PORT", "0");
        env.put("SILO_LOG_FORMAT", "json");
        env.put("SILO_DATA_DIR", TestingSilo.newDataDir("killed-cli").toString()); // the command's; each node has its own
        for (String limit : List.of("SILO_RATE_LIMIT_IP", "SILO_RATE_LIMIT_TENANT", "SILO_RATE_LIMIT_USER_WRITE",
                "SILO_RATE_LIMIT_AUTH", "SILO_RATE_LIMIT_ADMIN")) {
            env.put(limit, "off");
        }
    }

    @AfterAll
    static void cleanUp() throws SQLException, InterruptedException {
        stopAll();
        if (catalog != null) {
            for (String slug : slugs) {
                try (SiloCore core = command()) {
                    core.tenants().deprovision(slug, Actor.SYSTEM);
                    core.tenants().purge(slug, true, Actor.SYSTEM);
                } catch (RuntimeException e) {
                    // best effort: the database of a failed run is left on the test server
                }
            }
            catalog.drop();
        }
    }

    @Test
    void killingTheJobHolderWithSigkillLeavesTheOtherNodeServingAndItTakesTheJobsOver() throws Exception {
        Node a = start("killed-a", TestingSilo.newDataDir("killed-a"));
        String operatorKey = operatorAndPlacement();
        TestingHttp operatorA = new TestingHttp(a.uri()).withBearer(operatorKey);
        // A started first and holds every cluster job.
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(holders(operatorA).values())
                .hasSize(ClusterJob.values().length).allMatch(holder -> holder.equals(nodeId(operatorA))));
        String idA = nodeId(operatorA);

        Node b = start("killed-b", TestingSilo.newDataDir("killed-b"));
        TestingHttp operatorB = new TestingHttp(b.uri()).withBearer(operatorKey);
        String idB = nodeId(operatorB);
        String slug = newTenant(operatorA, "killed");
        TestingHttp userOnB = new TestingHttp(b.uri()).withBearer(accessToken(b, slug));

        // B's clients: two loops reading /me, before, during and after the kill.
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger served = new AtomicInteger();
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        List<Thread> clients = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            clients.add(Thread.ofPlatform().start(() -> {
                while (!stop.get()) {
                    try {
                        var me = userOnB.get("/t/" + slug + "/me");
                        if (me.status() == 200) {
                            served.incrementAndGet();
                        } else {
                            failures.add(me.status() + " " + me.body());
                        }
                    } catch (RuntimeException e) {
                        failures.add(e.toString());
                    }
                }
            }));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> served.get() >= 20);
        a.process().destroyForcibly(); // SIGKILL: no shutdown hook, no unlock, no row deleted
        assertThat(a.process().waitFor(30, TimeUnit.SECONDS)).isTrue();
        int atKill = served.get();
        // B takes over every cluster job within a minute (in practice within a heartbeat).
        await().atMost(Duration.ofMinutes(1)).untilAsserted(() -> assertThat(holders(operatorB).values())
                .hasSize(ClusterJob.values().length).allMatch(holder -> holder.equals(idB)));
        await().atMost(Duration.ofSeconds(30)).until(() -> served.get() >= atKill + 20);
        stop.set(true);
        for (Thread client : clients) {
            client.join();
        }
        assertThat(failures).as("B's clients saw no error").isEmpty();
        // A drops out of the live list once unseen for 30 s.
        await().atMost(ClusterMembership.LIVE.plusSeconds(30)).untilAsserted(() -> {
            List<String> live = new ArrayList<>();
            operatorB.get("/admin/cluster").json().get("nodes").forEach(node -> live.add(node.get("id").asText()));
            assertThat(live).containsExactly(idB).doesNotContain(idA);
        });
        stopAll();
    }

    @Test
    void aRollingRestartUnderLoadLosesNoAcknowledgedWrite() throws Exception {
        Path dirA = TestingSilo.newDataDir("rolling-a");
        Path dirB = TestingSilo.newDataDir("rolling-b");
        Node a = start("rolling-a", dirA);
        String operatorKey = operatorAndPlacement();
        Node b = start("rolling-b", dirB);
        String slug = newTenant(new TestingHttp(a.uri()).withBearer(operatorKey), "rolling");
        String token = accessToken(a, slug);
        String records = "/t/" + slug + "/collections/notes/records";
        var collection = new TestingHttp(a.uri()).withBearer(token).send(new TestingHttp(a.uri()).withBearer(token)
                .request("/t/" + slug + "/collections/notes").header("Content-Type", "application/json")
                .PUT(java.net.http.HttpRequest.BodyPublishers.ofString("{}")).build());
        assertThat(collection.status()).as(collection.body()).isEqualTo(201);

        // The router: every node that is up, in turn; a write that fails on one is tried on the next, as a
        // load balancer with retries does. Only a 201 with an id is an acknowledged write.
        java.util.concurrent.atomic.AtomicReference<List<URI>> upstream = new java.util.concurrent.atomic.AtomicReference<>(
                List.of(a.uri(), b.uri()));
        AtomicBoolean stop = new AtomicBoolean();
        ConcurrentLinkedQueue<String> acknowledged = new ConcurrentLinkedQueue<>();
        AtomicInteger attempt = new AtomicInteger();
        List<Thread> writers = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            writers.add(Thread.ofPlatform().start(() -> {
                while (!stop.get()) {
                    List<URI> nodes = upstream.get();
                    URI node = nodes.get(Math.floorMod(attempt.getAndIncrement(), nodes.size()));
                    try {
                        var created = new TestingHttp(node).withBearer(token).post(records,
                                "{\"text\":\"write " + attempt.get() + "\"}");
                        if (created.status() == 201) {
                            acknowledged.add(created.json().get("id").asText());
                        }
                    } catch (RuntimeException e) {
                        // not acknowledged: the client retries elsewhere
                    }
                }
            }));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> acknowledged.size() >= 20);
        for (String which : List.of("a", "b")) {
            Node old = which.equals("a") ? a : b;
            Node other = which.equals("a") ? b : a;
            upstream.set(List.of(old.uri(), other.uri())); // still routed there while it stops: the retries cover it
            old.process().destroy(); // SIGTERM: drain, finish in-flight requests, stop
            assertThat(old.process().waitFor(90, TimeUnit.SECONDS)).isTrue();
            assertThat(old.process().exitValue()).as("orderly stop").isZero();
            upstream.set(List.of(other.uri()));
            Node restarted = start("rolling-" + which, which.equals("a") ? dirA : dirB);
            if (which.equals("a")) {
                a = restarted;
            } else {
                b = restarted;
            }
            upstream.set(List.of(a.uri(), b.uri()));
            int before = acknowledged.size();
            await().atMost(Duration.ofSeconds(30)).until(() -> acknowledged.size() >= before + 20);
        }
        stop.set(true);
        for (Thread writer : writers) {
            writer.join();
        }
        TestingHttp reader = new TestingHttp(b.uri()).withBearer(token);
        List<String> missing = new ArrayList<>();
        for (String id : acknowledged) {
            if (reader.get(records + "/" + id).status() != 200) {
                missing.add(id);
            }
        }
        assertThat(missing).as("acknowledged writes lost, of " + acknowledged.size()).isEmpty();
        stopAll();
    }

    private static String operatorAndPlacement() {
        try (SiloCore core = command()) {
            if (core.placements().list().stream().noneMatch(placement -> placement.name().equals("shared"))) {
                core.placements().add("shared", catalog.placementUrl(), catalog.placementCa(), Actor.SYSTEM);
            }
            return core.operators().create("cluster-" + UUID.randomUUID().toString().substring(0, 8), Actor.SYSTEM).key();
        }
    }

    private static String newTenant(TestingHttp operator, String prefix) {
        String slug = prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
        var created = operator.post("/admin/tenants", "{\"slug\":\"" + slug + "\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        slugs.add(slug);
        assertThat(operator.post("/admin/tenants/" + slug + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}").status()).isEqualTo(201);
        return slug;
    }

    private static String accessToken(Node node, String slug) {
        var login = new TestingHttp(node.uri()).post("/t/" + slug + "/auth/login",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        return login.json().get("access_token").asText();
    }

    private static void stopAll() throws InterruptedException {
        for (Process process : processes) {
            process.destroy();
        }
        for (Process process : processes) {
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
        processes.clear();
    }

    private record Node(Process process, URI uri, Path log) {}

    private static final AtomicInteger starts = new AtomicInteger();

    private static Node start(String name, Path dataDir) throws IOException, InterruptedException {
        Path log = dataDir.resolve("silo-" + starts.incrementAndGet() + ".log");
        String java = ProcessHandle.current().info().command().orElse("java");
        // This build's classes and dependencies, without the test classes (and their logging configuration).
        String classpath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(entry -> !entry.endsWith("test-classes") && !entry.contains("surefire"))
                .collect(Collectors.joining(File.pathSeparator));
        ProcessBuilder builder = new ProcessBuilder(java, "-Xmx192m", "-XX:+UseSerialGC", "-cp", classpath,
                "dev.silo.app.Main", "serve").redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().keySet().removeIf(key -> key.startsWith("SILO_") || key.equals("DATABASE_URL") || key.equals("PORT"));
        builder.environment().putAll(env);
        builder.environment().put("SILO_DATA_DIR", dataDir.toString());
        Process process = builder.start();
        processes.add(process);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        while (System.nanoTime() < deadline) {
            String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            Matcher ready = READY.matcher(text);
            if (ready.find()) {
                return new Node(process, URI.create(ready.group(1)), log);
            }
            if (!process.isAlive()) {
                throw new AssertionError("node " + name + " exited with " + process.exitValue() + ":\n" + text);
            }
            Thread.sleep(100);
        }
        throw new AssertionError("node " + name + " was not ready within 180 s:\n" + Files.readString(log));
    }

    private static SiloCore command() {
        return SiloCore.open(SiloConfig.resolve(SiloConfig.Flags.none(), env), Clock.systemUTC(), SiloCore.Mode.COMMAND);
    }

    private static String nodeId(TestingHttp operator) {
        var cluster = operator.get("/admin/cluster");
        assertThat(cluster.status()).as(cluster.body()).isEqualTo(200);
        return cluster.json().get("node").asText();
    }

    private static Map<String, String> holders(TestingHttp operator) {
        JsonNode jobs = operator.get("/admin/cluster").json().get("jobs");
        Map<String, String> holders = new HashMap<>();
        jobs.properties().forEach(entry -> Optional.of(entry.getValue()).filter(value -> !value.isNull())
                .ifPresent(value -> holders.put(entry.getKey(), value.asText())));
        return holders;
    }
}
