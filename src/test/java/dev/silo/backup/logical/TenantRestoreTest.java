package dev.silo.backup.logical;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Main;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.backup.base.BaseBackup;
import dev.silo.backup.base.BaseBackupManifest;
import dev.silo.platform.http.Json;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Issue 13.1, claim C14: one tenant restored to a point in time, in place and as a new tenant, while the others keep
 * working; {@code --undo}; a logical backup restored in place; the refusals. Reads only the tenant's own files.
 */
class TenantRestoreTest {
    static final String PASSWORD = "correct horse battery staple";
    static final String MASTER_KEY = randomKey();
    static final String SCHEMA = """
            {"fields": {"n": {"type": "integer", "required": true}, "batch": {"type": "integer"},
             "secret": {"type": "string", "encrypted": true}}}
            """;
    static Silo live;
    static Tenant a;
    static Tenant b;
    static TestingHttp adminA;
    static TestingHttp adminB;
    static BaseBackupManifest backup;
    static Instant pointInTime;
    static final List<String> fillers = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        live = TestingSilo.startNew(TestingSilo.newDataDir("tenant-restore"), Map.of("SILO_MASTER_KEY", MASTER_KEY));
        a = tenant("ra");
        b = tenant("rb");
        adminA = admin(a);
        adminB = admin(b);
        // Other tenants with data of their own, in the base backup: a restore of A must not read their files.
        for (int i = 0; i < 4; i++) {
            Tenant filler = tenant("rf");
            write(admin(filler), filler, 0, 30);
            fillers.add(filler.id().toString());
        }
        write(adminA, a, 1, 10); // in the base backup
        write(adminB, b, 1, 3);
        backup = live.baseBackups().orElseThrow().runNow(Actor.SYSTEM, BaseBackup.Progress.NONE);
        write(adminA, a, 2, 5); // after it: only in the WAL
        Thread.sleep(1200);
        pointInTime = Instant.now();
        Thread.sleep(1200);
        // The customer's mistake: most of A's records deleted after T.
        JsonNode records = adminA.get("/t/" + a.slug() + "/collections/notes/records?limit=100").json().get("records");
        for (int i = 0; i < 7; i++) {
            var deleted = adminA.send(adminA.request("/t/" + a.slug() + "/collections/notes/records/" + records.get(i).get("id").asText())
                    .header("If-Match", "\"" + records.get(i).get("version").asText() + "\"").DELETE().build());
            assertThat(deleted.status()).as(deleted.body()).isIn(200, 204);
        }
        write(adminB, b, 2, 4); // B works on after T
    }

    @AfterAll
    static void stop() {
        if (live != null) {
            live.close();
        }
    }

    @Test
    void aTenantRestoredInPlaceToTGetsItsRecordsBackWhileAnotherTenantIsServedThroughoutAndUndoReturnsThePresent()
            throws Exception {
        assertThat(count(adminA, a)).isEqualTo(8);
        AtomicBoolean running = new AtomicBoolean(true);
        Map<Integer, AtomicInteger> bStatuses = new ConcurrentHashMap<>();
        Map<Integer, AtomicInteger> aStatuses = new ConcurrentHashMap<>();
        AtomicInteger bWrites = new AtomicInteger();
        Thread bClient = Thread.ofVirtual().start(() -> {
            int n = 0;
            while (running.get()) {
                var read = adminB.get("/t/" + b.slug() + "/collections/notes/records?limit=5");
                bStatuses.computeIfAbsent(read.status(), k -> new AtomicInteger()).incrementAndGet();
                var wrote = adminB.post("/t/" + b.slug() + "/collections/notes/records", "{\"n\": " + (n++) + ", \"batch\": 3}");
                bStatuses.computeIfAbsent(wrote.status(), k -> new AtomicInteger()).incrementAndGet();
                if (wrote.status() == 201) {
                    bWrites.incrementAndGet();
                }
                var probe = adminA.get("/t/" + a.slug() + "/collections/notes/records?limit=1");
                aStatuses.computeIfAbsent(probe.status(), k -> new AtomicInteger()).incrementAndGet();
            }
        });
        var started = operator().post("/admin/tenants/" + a.slug() + "/restore-to", "{\"time\": \"" + pointInTime + "\"}");
        assertThat(started.status()).as(started.body()).isEqualTo(202);
        String job = started.json().get("job").asText();
        assertThat(started.header("Location")).contains("/admin/jobs/" + job);
        JsonNode done = awaitJob(job);
        running.set(false);
        bClient.join();
        assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("succeeded");

        // A is as it was at T: the 15 records written before it, none deleted.
        assertThat(count(adminA, a)).isEqualTo(15);
        // B: every request answered, every write kept (its own 7 and those made during the restore).
        assertThat(bStatuses.keySet()).as(bStatuses.toString()).allMatch(status -> status == 200 || status == 201);
        assertThat(bWrites.get()).isPositive();
        assertThat(count(adminB, b)).isEqualTo(3 + 4 + bWrites.get());
        // A answered or said it was restoring, never an error.
        assertThat(aStatuses.keySet()).as(aStatuses.toString()).allMatch(status -> status == 200 || status == 503);
        // A's token from before T still works (its session existed then); its encrypted fields read.
        assertThat(adminA.get("/t/" + a.slug() + "/collections/notes/records?limit=100").body()).contains("secret-1-9");

        // Only A's own files were read: not the other tenants' databases, however many there are.
        JsonNode result = done.get("result");
        java.util.function.Predicate<BaseBackupManifest.Database> unread = d -> !a.id().toString().equals(d.tenantId())
                && !d.name().equals("postgres");
        long others = backup.databases().stream().filter(unread)
                .map(BaseBackupManifest.Database::object).distinct()
                .mapToLong(object -> backup.objects().stream().filter(o -> o.name().equals(object))
                        .mapToLong(BaseBackupManifest.StoredPart::size).sum()).sum();
        assertThat(backup.databases().stream().filter(d -> fillers.contains(d.tenantId()))).hasSize(4);
        assertThat(result.get("bytes_read").asLong()).isEqualTo(backup.bytes() - others);
        assertThat(result.get("objects_read").asInt()).isEqualTo(backup.objects().size()
                - (int) backup.databases().stream().filter(unread).count());
        // What was read: the cluster's files, postgres, A's database; not the catalog, the templates, other tenants.
        assertThat(result.get("objects_read").asInt()).isEqualTo(backup.objects().size() - backup.databases().size() + 2);
        // The platform audit and the tenant's (kept) audit log record the restore.
        var audit = operator().get("/admin/audit?limit=20");
        assertThat(audit.body()).contains("tenant.restore-to").contains(job);

        // --undo (from the command line) brings back the data the restore replaced.
        Run undo = cli("tenants", "restore-to", a.slug(), "--undo", "--json");
        assertThat(undo.code()).as(undo.err()).isZero();
        assertThat(undo.err()).contains("restore job").contains("swapping");
        assertThat(count(adminA, a)).isEqualTo(8);
        var jobs = operator().get("/admin/jobs?tenant=" + a.slug());
        assertThat(jobs.status()).as(jobs.body()).isEqualTo(200);
        assertThat(jobs.json().get("jobs")).hasSizeGreaterThanOrEqualTo(2);
        assertThat(jobs.json().get("jobs").get(0).get("kind").asText()).isEqualTo("tenant.restore-undo");
    }

    @Test
    void restoredAsANewTenantTheCopyHoldsTheDataAsOfTWithEncryptedFieldsAndTheOriginalIsUntouched() throws Exception {
        String copy = "rcopy-" + UUID.randomUUID().toString().substring(0, 8);
        long before = count(adminA, a);
        Run run = cli("tenants", "restore-to", a.slug(), "--time", pointInTime.toString(), "--as", copy, "--json");
        assertThat(run.code()).as(run.err()).isZero();
        assertThat(run.err()).contains("recovering").contains("promoted");
        JsonNode out = Json.MAPPER.readTree(run.out());
        assertThat(out.get("tenant").asText()).isEqualTo(copy);
        assertThat(out.get("rows").get("records").asLong()).isEqualTo(15);

        TestingHttp http = new TestingHttp(live.baseUri());
        // The original's token does not open the copy (its own secret); the original's users log in with their passwords.
        assertThat(adminA.get("/t/" + copy + "/collections/notes/records").status()).isEqualTo(401);
        TestingHttp copyAdmin = login(http, copy);
        assertThat(count(copyAdmin, live.tenants().findLive(copy).orElseThrow())).isEqualTo(15);
        assertThat(copyAdmin.get("/t/" + copy + "/collections/notes/records?limit=100").body()).contains("secret-2-4");
        assertThat(count(adminA, a)).isEqualTo(before);
    }

    @Test
    void aTenantCreatedAfterTheBaseBackupAndALogicalBackupRestoreInPlaceAndEveryBadRequestIsRefusedClearly() throws Exception {
        Tenant d = tenant("rd");
        TestingHttp adminD = admin(d);
        write(adminD, d, 1, 6);
        Thread.sleep(1200);
        Instant t = Instant.now();
        Thread.sleep(1200);
        TenantBackups.BackupInfo taken = live.logicalBackups().tenantBackups().take(d);
        write(adminD, d, 2, 4);
        assertThat(count(adminD, d)).isEqualTo(10);
        // D was created after the base backup: its database comes back from the WAL alone.
        Run toTime = cli("tenants", "restore-to", d.slug(), "--time", t.toString());
        assertThat(toTime.code()).as(toTime.err()).isZero();
        assertThat(count(adminD, d)).isEqualTo(6);
        write(adminD, d, 3, 3);
        Run restored = cli("tenants", "restore-backup", d.slug(), "--backup", taken.id(), "--json");
        assertThat(restored.code()).as(restored.err()).isZero();
        assertThat(count(adminD, d)).isEqualTo(6);
        assertThat(adminD.get("/t/" + d.slug() + "/collections/notes/records?limit=100").body()).contains("secret-1-5");

        TestingHttp operator = operator();
        var future = operator.post("/admin/tenants/" + d.slug() + "/restore-to", "{\"time\": \"" + Instant.now().plusSeconds(3600) + "\"}");
        assertThat(future.status()).as(future.body()).isEqualTo(400);
        assertThat(future.body()).contains("in the future");
        var beforeItExisted = operator.post("/admin/tenants/" + d.slug() + "/restore-to",
                "{\"time\": \"" + d.createdAt().minusSeconds(5) + "\"}");
        assertThat(beforeItExisted.status()).as(beforeItExisted.body()).isEqualTo(400);
        assertThat(beforeItExisted.body()).contains("did not exist");
        var malformed = operator.post("/admin/tenants/" + d.slug() + "/restore-to", "{\"time\": \"yesterday\"}");
        assertThat(malformed.status()).isEqualTo(400);
        var neither = operator.post("/admin/tenants/" + d.slug() + "/restore-to", "{}");
        assertThat(neither.status()).isEqualTo(400);
        var unknown = operator.post("/admin/tenants/no-such-tenant/restore-to", "{\"time\": \"" + pointInTime + "\"}");
        assertThat(unknown.status()).isEqualTo(404);
        var noJob = operator.get("/admin/jobs/" + UUID.randomUUID());
        assertThat(noJob.status()).isEqualTo(404);
        assertThat(new TestingHttp(live.baseUri()).get("/admin/jobs/" + UUID.randomUUID()).status()).isEqualTo(401);

        // Purged: its keys are gone, so nothing restores it.
        live.tenants().deprovision(d.slug(), Actor.SYSTEM);
        live.tenants().purge(d.slug(), true, Actor.SYSTEM);
        var purged = operator.post("/admin/tenants/" + d.slug() + "/restore-to", "{\"time\": \"" + Instant.now().minusSeconds(2) + "\"}");
        assertThat(purged.status()).as(purged.body()).isEqualTo(409);
        assertThat(purged.body()).contains("tenant-purged");
        var purgedBackup = operator.post("/admin/tenants/" + d.slug() + "/restore-backup", "{\"backup\": \"" + taken.id() + "\"}");
        assertThat(purgedBackup.status()).as(purgedBackup.body()).isEqualTo(409);
    }

    // ---- helpers

    static Tenant tenant(String prefix) {
        return live.tenants().create(prefix + "-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(),
                Actor.SYSTEM);
    }

    static TestingHttp operator() {
        return new TestingHttp(live.baseUri()).withBearer(TestingSilo.operatorKey(live));
    }

    static TestingHttp admin(Tenant tenant) {
        var created = operator().post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        TestingHttp admin = login(new TestingHttp(live.baseUri()), tenant.slug());
        var collection = admin.send(admin.request("/t/" + tenant.slug() + "/collections/notes")
                .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(SCHEMA)).build());
        assertThat(collection.status()).as(collection.body()).isEqualTo(201);
        return admin;
    }

    static TestingHttp login(TestingHttp http, String slug) {
        var login = http.post("/t/" + slug + "/auth/login", "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        return http.withBearer(login.json().get("access_token").asText());
    }

    static void write(TestingHttp admin, Tenant tenant, int batch, int count) {
        for (int i = 0; i < count; i++) {
            var created = admin.post("/t/" + tenant.slug() + "/collections/notes/records",
                    "{\"n\": " + i + ", \"batch\": " + batch + ", \"secret\": \"secret-" + batch + "-" + i + "\"}");
            assertThat(created.status()).as(created.body()).isEqualTo(201);
        }
    }

    /** The tenant's records, counted in its database (the API answers for the same token, checked separately). */
    static long count(TestingHttp admin, Tenant tenant) throws java.sql.SQLException {
        var listed = admin.get("/t/" + tenant.slug() + "/collections/notes/records?limit=1");
        assertThat(listed.status()).as(listed.body()).isEqualTo(200);
        var url = live.embedded().orElseThrow().adminUrl(tenant.databaseName());
        try (var connection = java.sql.DriverManager.getConnection(url.jdbcUrl(), url.properties());
             var statement = connection.createStatement();
             var rs = statement.executeQuery("SELECT count(*) FROM records WHERE collection = 'notes'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    static JsonNode awaitJob(String job) {
        TestingHttp operator = operator();
        JsonNode[] last = new JsonNode[1];
        await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofMillis(500)).until(() -> {
            var got = operator.get("/admin/jobs/" + job);
            assertThat(got.status()).as(got.body()).isEqualTo(200);
            last[0] = got.json();
            return !last[0].get("state").asText().equals("running");
        });
        return last[0];
    }

    record Run(int code, String out, String err) {}

    static Run cli(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--data-dir", live.config().dataDir().toString()));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream originalErr = System.err;
        PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
        System.setErr(errStream); // the restore's progress lines go to System.err
        try {
            Map<String, String> env = new HashMap<>(Map.of("SILO_MASTER_KEY", MASTER_KEY));
            int code = Main.run(all.toArray(String[]::new), env, new PrintStream(out, true, StandardCharsets.UTF_8), errStream);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(originalErr);
        }
    }

    static String randomKey() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return Base64.getEncoder().encodeToString(key);
    }

    static final Set<Integer> OK = Set.of(200, 201);
}
