package dev.silo.backup.restore;

import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.backup.BackupStore;
import dev.silo.backup.TestingS3;
import dev.silo.backup.base.BaseBackup;
import dev.silo.backup.base.BaseBackups;
import dev.silo.backup.wal.WalReceiver;
import dev.silo.backup.wal.WalSegments;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.db.EmbeddedPostgresServer;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
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
 * Claims C14/C17 (issue 12, last test): the WAL receiver survives a store outage (the S3 server stopped for 20 s
 * while records keep being written) and a PostgreSQL restart (the postmaster killed, the supervisor starts it again)
 * without a gap: afterwards {@code silo restore} from the bucket to the latest point holds every record whose write
 * was acknowledged (201), before, during and after both.
 */
class OutageRestoreTest {
    private static final Duration GUARD = Duration.ofMinutes(3);
    private static final String PASSWORD = "correct horse battery staple";
    private static TestingS3.Outageable s3;

    @BeforeAll
    static void server() {
        s3 = TestingS3.newOutageableServer();
        var credentials = TestingS3.credentials().resolveCredentials();
        // The store takes credentials from the SDK's default chain, as in production.
        System.setProperty("aws.accessKeyId", credentials.accessKeyId());
        System.setProperty("aws.secretAccessKey", credentials.secretAccessKey());
    }

    @AfterAll
    static void stop() {
        System.clearProperty("aws.accessKeyId");
        System.clearProperty("aws.secretAccessKey");
        if (s3 != null) {
            s3.close();
        }
    }

    @Test
    void aStoreOutageAndAPostgresRestartLeaveNoGapInWhatARestoreToLatestHolds() throws Exception {
        String key = RestoreTest.randomKey();
        String url = "s3://" + s3.newBucket("silo").bucket() + "/silo";
        Map<String, String> env = new HashMap<>(Map.of("SILO_MASTER_KEY", key, "SILO_BACKUP_URL", url,
                "SILO_BACKUP_S3_ENDPOINT", s3.endpoint().toString(), "SILO_BACKUP_S3_REGION", "us-east-1"));
        Path dataDir = TestingSilo.newDataDir("outage-live");
        Set<Integer> acknowledged = ConcurrentHashMap.newKeySet();
        Tenant tenant;
        try (Silo silo = TestingSilo.startNew(dataDir, env)) {
            EmbeddedPostgresServer postgres = silo.embedded().orElseThrow();
            WalReceiver receiver = silo.walReceiver().orElseThrow();
            BackupStore store = receiver.store();
            tenant = silo.tenants().create("out-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(), Actor.SYSTEM);
            TestingHttp http = new TestingHttp(silo.baseUri());
            var admin = http.withBearer(TestingSilo.operatorKey(silo)).post("/admin/tenants/" + tenant.slug() + "/admins",
                    "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
            assertThat(admin.status()).as(admin.body()).isEqualTo(201);
            var login = http.post("/t/" + tenant.slug() + "/auth/login",
                    "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
            assertThat(login.status()).as(login.body()).isEqualTo(200);
            TestingHttp user = http.withBearer(login.json().get("access_token").asText());
            String records = "/t/" + tenant.slug() + "/collections/notes/records";
            var created = user.send(user.request("/t/" + tenant.slug() + "/collections/notes")
                    .header("Content-Type", "application/json").PUT(java.net.http.HttpRequest.BodyPublishers.ofString("")).build());
            assertThat(created.status()).as(created.body()).isEqualTo(201);
            silo.baseBackups().orElseThrow().runNow(Actor.SYSTEM, BaseBackup.Progress.NONE);
            assertThat(BaseBackups.list(store)).hasSize(1);

            AtomicBoolean writing = new AtomicBoolean(true);
            AtomicInteger attempted = new AtomicInteger();
            Thread writer = Thread.ofPlatform().name("outage-writer").start(() -> {
                while (writing.get()) {
                    int n = attempted.incrementAndGet();
                    try {
                        if (user.post(records, "{\"n\": " + n + "}").status() == 201) {
                            acknowledged.add(n);
                        }
                    } catch (RuntimeException refused) {
                        // not acknowledged: the restore need not hold it
                    }
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            try {
                await().atMost(GUARD).until(() -> acknowledged.size() >= 50);

                // The store goes away for 20 s while writes go on (and are acknowledged: the receiver is asynchronous).
                s3.stop();
                Instant outageStart = Instant.now();
                int beforeOutage = acknowledged.size();
                await().atMost(GUARD).until(() -> receiver.status().lastError() != null
                        && receiver.status().lastError().startsWith("backup store"));
                // The outage lasts 20 s whatever the machine's speed (a scenario length, not an assertion).
                Duration left = Duration.ofSeconds(20).minus(Duration.between(outageStart, Instant.now()));
                if (left.isPositive()) {
                    Thread.sleep(left);
                }
                assertThat(acknowledged.size()).as("writes acknowledged during the outage").isGreaterThan(beforeOutage);
                s3.start();
                long flushedAfterOutage = flushLsn(postgres);
                await().atMost(GUARD).ignoreExceptions().until(() -> storeCovers(store, flushedAfterOutage));

                // PostgreSQL restarts under the receiver (and under the writes).
                int beforeRestart = acknowledged.size();
                assertThat(postgres.postmaster().orElseThrow().destroyForcibly()).isTrue();
                await().atMost(GUARD).until(() -> postgres.restarts() >= 1 && canConnect(postgres));
                await().atMost(GUARD).until(() -> acknowledged.size() >= beforeRestart + 50);
            } finally {
                writing.set(false);
                writer.join(Duration.ofMinutes(1));
            }
            assertThat(writer.isAlive()).isFalse();
            long flushed = flushLsn(postgres);
            await().atMost(GUARD).until(() -> storeCovers(store, flushed));
            assertThat(WalSegments.read(store).firstGap()).isEmpty();
        }

        Path restored = TestingSilo.newDataDir("outage-copy").resolve("new");
        Map<String, String> restoreEnv = new HashMap<>(env);
        restoreEnv.remove("SILO_BACKUP_URL");
        RestoreTest.Run run = RestoreTest.cli(restoreEnv, "restore", "--from", url, "--data-dir", restored.toString());
        assertThat(run.code()).as(run.err()).isZero();
        try (Silo copy = TestingSilo.startNew(restored, restoreEnv)) {
            Set<Integer> present = new HashSet<>();
            DatabaseUrl database = copy.embedded().orElseThrow().adminUrl(tenant.databaseName());
            try (Connection connection = DriverManager.getConnection(database.jdbcUrl(), database.properties());
                 Statement statement = connection.createStatement();
                 ResultSet rs = statement.executeQuery("SELECT (data->>'n')::int FROM records")) {
                while (rs.next()) {
                    present.add(rs.getInt(1));
                }
            }
            assertThat(acknowledged).hasSizeGreaterThan(100);
            assertThat(present).as("every acknowledged write is in the restored copy").containsAll(acknowledged);
        }
    }

    private static boolean storeCovers(BackupStore store, long lsn) throws Exception {
        return WalSegments.read(store).end().filter(end -> Long.compareUnsigned(end, lsn) >= 0).isPresent();
    }

    private static long flushLsn(EmbeddedPostgresServer postgres) throws SQLException {
        try (Connection connection = connect(postgres); Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn")) {
            rs.next();
            return rs.getBigDecimal(1).longValueExact();
        }
    }

    private static boolean canConnect(EmbeddedPostgresServer postgres) {
        try (Connection ignored = connect(postgres)) {
            return true;
        } catch (SQLException e) {
            return false;
        }
    }

    private static Connection connect(EmbeddedPostgresServer postgres) throws SQLException {
        DatabaseUrl url = postgres.adminUrl(Silo.CATALOG_DATABASE);
        return DriverManager.getConnection(url.jdbcUrl(), url.properties());
    }
}
