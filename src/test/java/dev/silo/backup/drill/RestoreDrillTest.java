package dev.silo.backup.drill;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Main;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.audit.PlatformAudit;
import dev.silo.backup.base.BaseBackup;
import dev.silo.backup.base.BaseBackupManifest;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.http.Json;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingClock;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Claim C17 (issue 12.6): a restore drill restores the newest base backup plus WAL on a scratch port, reads every page
 * of every database, compares the audit chains with the live ones, and is audited and shown in the status; a page
 * damaged on disk before the backup makes it fail, naming the database, relation and block, while readiness stays
 * 200 with the failure in its body. One node for both, in order: the damage stays in that node's files.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RestoreDrillTest {
    static Path dataDir;
    static Silo silo;
    static Tenant tenant;
    static TestingHttp operator;

    @BeforeAll
    static void start() {
        dataDir = TestingSilo.newDataDir("drill");
        silo = TestingSilo.startNew(dataDir, Map.of());
        tenant = silo.tenants().create("dr-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(), Actor.SYSTEM);
        operator = new TestingHttp(silo.baseUri()).withBearer(TestingSilo.operatorKey(silo));
        var admin = operator.post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"correct horse battery staple\"}");
        assertThat(admin.status()).as(admin.body()).isEqualTo(201);
    }

    @AfterAll
    static void stop() {
        if (silo != null) {
            silo.close();
        }
    }

    @Test
    @Order(1)
    void aDrillOfAHealthyNodePassesAndIsAuditedAndShownInTheStatus() throws Exception {
        BaseBackupManifest backup = silo.baseBackups().orElseThrow().runNow(Actor.SYSTEM, BaseBackup.Progress.NONE);

        // As a drill running in another process would: the request and the command are refused.
        try (Connection holder = superuser(Silo.CATALOG_DATABASE); Statement statement = holder.createStatement()) {
            statement.execute("SELECT pg_advisory_lock(" + RestoreDrills.LOCK_KEY + ")");
            var refused = operator.post("/admin/backups/verify", "");
            assertThat(refused.status()).as(refused.body()).isEqualTo(409);
            assertThat(refused.json().path("type").asText()).endsWith("drill-running");
            Run busy = cli("backups", "verify", "--data-dir", dataDir.toString());
            assertThat(busy.code()).isEqualTo(1);
            assertThat(busy.err()).contains("a restore drill is already running");
        }

        // What a drill killed halfway left behind is removed by the next one.
        Path leftover = dataDir.resolve("drill").resolve("20200101T000000Z").resolve("postgres").resolve("data");
        Files.createDirectories(leftover);
        Files.writeString(leftover.resolve("PG_VERSION"), "17\n");

        var accepted = operator.post("/admin/backups/verify", "");
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String id = accepted.json().path("id").asText();
        // Readiness answers 200 while the drill runs (and after).
        assertThat(operator.get("/health/ready").status()).isEqualTo(200);
        JsonNode last = await().atMost(Duration.ofMinutes(5)).pollInterval(Duration.ofSeconds(1))
                .until(() -> operator.get("/admin/backups").json().path("drill").path("last"),
                        node -> id.equals(node.path("id").asText()));

        assertThat(last.path("outcome").asText()).as(last.toString()).isEqualTo("passed");
        assertThat(last.path("reason").isNull()).isTrue();
        assertThat(last.path("backup_id").asText()).isEqualTo(backup.id());
        assertThat(last.path("recovered_lsn").asText()).isNotBlank();
        assertThat(last.path("pages_read").asLong()).isPositive();
        assertThat(last.path("bytes_read").asLong()).isEqualTo(last.path("pages_read").asLong() * 8192);
        assertThat(last.path("duration_ms").isNumber()).isTrue();
        List<JsonNode> databases = Json.MAPPER.convertValue(last.path("databases"),
                Json.MAPPER.getTypeFactory().constructCollectionType(List.class, JsonNode.class));
        assertThat(databases).extracting(database -> database.path("name").asText())
                .contains("postgres", Silo.CATALOG_DATABASE, tenant.databaseName());
        assertThat(databases).filteredOn(database -> database.path("name").asText().equals(tenant.databaseName()))
                .singleElement().satisfies(database -> {
                    assertThat(database.path("tenant_id").asText()).isEqualTo(tenant.id().toString());
                    assertThat(database.path("pages").asLong()).isPositive();
                    assertThat(database.path("indexes_checked").asInt()).isPositive();
                    assertThat(database.path("rows_restored").asLong()).isPositive();
                    assertThat(database.path("rows_live").asLong()).isGreaterThanOrEqualTo(database.path("rows_restored").asLong());
                    assertThat(database.path("audit_seq").asLong()).isPositive();
                    assertThat(database.path("audit_matches").asBoolean()).isTrue();
                });
        assertThat(databases).filteredOn(database -> database.path("name").asText().equals(Silo.CATALOG_DATABASE))
                .singleElement().satisfies(database -> assertThat(database.path("audit_matches").asBoolean()).isTrue());

        try (Connection connection = silo.catalog().getConnection()) {
            List<PlatformAudit.Entry> entries = silo.core().audit().list(connection, 20, Long.MAX_VALUE);
            assertThat(entries).filteredOn(entry -> entry.action().equals(RestoreDrills.ACTION)).first().satisfies(entry -> {
                assertThat(entry.target()).isEqualTo(backup.id());
                assertThat(entry.actor()).isNotEqualTo("system");
                assertThat(Json.MAPPER.readTree(entry.detail()).path("outcome").asText()).isEqualTo("passed");
            });
        }
        Run status = cli("backups", "status", "--json", "--data-dir", dataDir.toString());
        assertThat(status.code()).as(status.err()).isZero();
        JsonNode drill = Json.MAPPER.readTree(status.out()).path("last_drill");
        assertThat(drill.path("id").asText()).isEqualTo(id);
        assertThat(drill.path("outcome").asText()).isEqualTo("passed");
        var ready = operator.get("/health/ready");
        assertThat(ready.status()).isEqualTo(200);
        assertThat(ready.json().path("degraded").path("backups").toString()).doesNotContain("drill");
        assertScratchRemoved();
    }

    @Test
    @Order(2)
    void theDrillDetectsAPageCorruptedOnDiskBeforeTheBackupAndReadinessStays200() throws Exception {
        Path relationFile;
        try (Connection connection = superuser(tenant.databaseName()); Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE drill_canary (id int, body text)");
            statement.execute("INSERT INTO drill_canary SELECT n, repeat('canary ', 20) FROM generate_series(1, 2000) n");
            // Hint bits and the visibility map set now, then written: nothing rewrites these pages (no full-page
            // image in the WAL after the backup that would repair them on replay).
            statement.execute("VACUUM (FREEZE) drill_canary");
            statement.execute("CHECKPOINT");
            try (ResultSet rs = statement.executeQuery("SELECT pg_relation_filepath('drill_canary'), "
                    + "pg_relation_size('drill_canary') / current_setting('block_size')::int")) {
                rs.next();
                relationFile = silo.embedded().orElseThrow().clusterDirectory().resolve(rs.getString(1));
                assertThat(rs.getLong(2)).isGreaterThan(2);
            }
        }
        // Flip bytes in the middle of block 1 on disk; the server's buffer of it is clean, so it is never written back.
        try (RandomAccessFile file = new RandomAccessFile(relationFile.toFile(), "rw")) {
            long offset = 8192 + 4000;
            byte[] bytes = new byte[16];
            file.seek(offset);
            file.readFully(bytes);
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = (byte) ~bytes[i];
            }
            file.seek(offset);
            file.write(bytes);
            file.getFD().sync();
        }
        BaseBackupManifest backup = silo.baseBackups().orElseThrow().runNow(Actor.SYSTEM, BaseBackup.Progress.NONE);

        Run run = cli("backups", "verify", "--json", "--data-dir", dataDir.toString());
        assertThat(run.code()).as(run.out() + run.err()).isEqualTo(1);
        assertThat(run.err()).contains("restoring base backup " + backup.id()).contains("promoted");
        JsonNode result = Json.MAPPER.readTree(run.out());
        assertThat(result.path("outcome").asText()).isEqualTo("failed");
        assertThat(result.path("backup_id").asText()).isEqualTo(backup.id());
        assertThat(result.path("reason").asText()).contains("database " + tenant.databaseName())
                .contains("public.drill_canary").contains("block 1");

        try (Connection connection = silo.catalog().getConnection()) {
            assertThat(silo.core().audit().list(connection, 20, Long.MAX_VALUE))
                    .filteredOn(entry -> entry.action().equals(RestoreDrills.ACTION)).first().satisfies(entry -> {
                        assertThat(entry.target()).isEqualTo(backup.id());
                        assertThat(Json.MAPPER.readTree(entry.detail()).path("outcome").asText()).isEqualTo("failed");
                    });
        }
        // The node learns of it from the audit: readiness stays 200 and names the failed drill.
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
            var ready = operator.get("/health/ready");
            assertThat(ready.status()).isEqualTo(200);
            assertThat(ready.json().path("degraded").path("backups").toString())
                    .contains("the last restore drill").contains("failed").contains("drill_canary");
        });
        JsonNode last = operator.get("/admin/backups").json().path("drill").path("last");
        assertThat(last.path("outcome").asText()).isEqualTo("failed");
        Run status = cli("backups", "status", "--data-dir", dataDir.toString());
        assertThat(status.out()).contains("last_drill").contains("failed");
        assertScratchRemoved();
    }

    @Test
    @Order(3)
    void aDrillRunsByItselfOnceTheLastOneIsOlderThanTheInterval() throws Exception {
        String before = lastDrillId();
        TestingClock clock = new TestingClock();
        clock.advance(Duration.ofDays(8)); // the last drill is 8 days old for this scheduler
        var server = silo.embedded().orElseThrow();
        try (RestoreDrills scheduled = new RestoreDrills(() -> server.adminUrl(Silo.CATALOG_DATABASE), silo.catalog(),
                silo.core().audit(), new RestoreDrill(silo.baseBackups().orElseThrow().store(), silo.core().envelope(),
                dataDir.resolve("drill"), server::adminUrl, Silo.CATALOG_DATABASE, clock), clock)) {
            scheduled.schedule(Duration.ofDays(7), Optional::empty, Duration.ZERO);
            await().atMost(Duration.ofMinutes(5)).pollInterval(Duration.ofSeconds(1))
                    .until(() -> !lastDrillId().equals(before) && scheduled.running().isEmpty());
        }
        try (Connection connection = silo.catalog().getConnection()) {
            assertThat(RestoreDrills.readLast(connection)).get().satisfies(last -> {
                assertThat(last.get("actor")).isEqualTo("system");
                assertThat(last.get("outcome")).isIn("passed", "failed"); // the damaged page of the test before is still there
            });
        }
        assertScratchRemoved();
    }

    @Test
    @Order(4)
    void aDrillWithTooLittleFreeSpaceIsRefusedBeforeRestoringAndRecordedAsFailed() throws Exception {
        BaseBackupManifest newest = dev.silo.backup.base.BaseBackups.list(silo.baseBackups().orElseThrow().store()).getLast();
        List<Path> asked = new java.util.concurrent.CopyOnWriteArrayList<>();
        // The disk holds less than the backup itself: a real probe of a smaller disk, not a mock.
        RestoreDrill.FreeSpace smallDisk = path -> {
            asked.add(path);
            return newest.bytes() / 2;
        };
        var server = silo.embedded().orElseThrow();
        DrillResult result;
        try (RestoreDrills drills = new RestoreDrills(() -> server.adminUrl(Silo.CATALOG_DATABASE), silo.catalog(),
                silo.core().audit(), new RestoreDrill(silo.baseBackups().orElseThrow().store(), silo.core().envelope(),
                dataDir.resolve("drill"), server::adminUrl, Silo.CATALOG_DATABASE, silo.core().clock(), smallDisk), silo.core().clock())) {
            result = drills.runNow(Actor.SYSTEM, line -> {});
        }
        assertThat(asked).containsExactly(dataDir.resolve("drill"));
        assertThat(result.passed()).isFalse();
        assertThat(result.failure()).isEqualTo(RestoreDrill.INSUFFICIENT_SPACE);
        assertThat(result.reason()).contains("not enough disk space").contains(newest.id()).contains("nothing was restored");
        assertThat(result.databases()).isEmpty();
        assertThat(result.pagesRead()).isZero();
        assertScratchRemoved();
        try (Connection connection = silo.catalog().getConnection()) {
            assertThat(RestoreDrills.readLast(connection)).get().satisfies(last -> {
                assertThat(last.get("outcome")).isEqualTo("failed");
                assertThat(last.get("failure")).isEqualTo(RestoreDrill.INSUFFICIENT_SPACE);
                assertThat(String.valueOf(last.get("reason"))).contains("not enough disk space");
            });
        }
        // What silo backups verify prints is the same view.
        assertThat(result.view()).containsEntry("failure", RestoreDrill.INSUFFICIENT_SPACE).containsEntry("outcome", "failed");
    }

    @Test
    void theSpaceADrillNeedsIsTheBackupTwiceItsWalAndAMargin() {
        long mebibyte = 1024 * 1024;
        assertThat(RestoreDrill.requiredSpace(100 * mebibyte, 16 * mebibyte))
                .isEqualTo(132 * mebibyte + RestoreDrill.MIN_MARGIN_BYTES);
        long large = 10_000 * mebibyte;
        assertThat(RestoreDrill.requiredSpace(large, 0)).isEqualTo(large + large / 10);
    }

    static String lastDrillId() throws Exception {
        try (Connection connection = silo.catalog().getConnection()) {
            return RestoreDrills.readLast(connection).map(last -> String.valueOf(last.get("id"))).orElse("");
        }
    }

    static void assertScratchRemoved() throws Exception {
        Path scratch = dataDir.resolve("drill");
        if (Files.exists(scratch)) {
            try (Stream<Path> entries = Files.list(scratch)) {
                assertThat(entries.toList()).isEmpty();
            }
        }
    }

    static Connection superuser(String database) throws Exception {
        DatabaseUrl url = silo.embedded().orElseThrow().adminUrl(database);
        return DriverManager.getConnection(url.jdbcUrl(), url.properties());
    }

    record Run(int code, String out, String err) {}

    static Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream originalErr = System.err;
        PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
        System.setErr(errStream); // the drill's progress lines go to System.err
        try {
            int code = Main.run(args, new HashMap<>(), new PrintStream(out, true, StandardCharsets.UTF_8), errStream);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(originalErr);
        }
    }
}
