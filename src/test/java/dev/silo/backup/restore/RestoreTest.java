package dev.silo.backup.restore;

import dev.silo.app.Main;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.backup.base.BaseBackup;
import dev.silo.backup.base.BaseBackupManifest;
import dev.silo.backup.wal.WalSegments;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Claim C17 (issue 12.5): {@code silo restore} rebuilds a whole Silo from the store of a running one and the master
 * key alone, to the latest point or to a time between two batches of writes, and refuses a tampered object, a
 * missing WAL segment and a wrong master key, leaving nothing behind.
 */
class RestoreTest {
    static final String PASSWORD = "correct horse battery staple";
    static final String MASTER_KEY = randomKey();
    /** Tokens name their issuer: the live node and its copy answer at the same public URL, as after a real recovery. */
    static final String PUBLIC_URL = "https://api.restore.example";
    static Path dataDir;
    static Silo live;
    static Tenant tenant;
    static String collection;
    static String accessToken;
    static Instant betweenBatches;
    static List<Instant> firstBatch = new ArrayList<>();
    static List<Instant> secondBatch = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        dataDir = TestingSilo.newDataDir("restore-live");
        live = TestingSilo.startNew(dataDir, Map.of("SILO_MASTER_KEY", MASTER_KEY, "SILO_PUBLIC_URL", PUBLIC_URL));
        tenant = live.tenants().create("rs-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(), Actor.SYSTEM);
        TestingHttp http = new TestingHttp(live.baseUri());
        var admin = http.withBearer(TestingSilo.operatorKey(live)).post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(admin.status()).as(admin.body()).isEqualTo(201);
        accessToken = login(http).json().get("access_token").asText();
        TestingHttp user = http.withBearer(accessToken);
        collection = "notes";
        var created = user.send(user.request("/t/" + tenant.slug() + "/collections/" + collection)
                .header("Content-Type", "application/json").PUT(java.net.http.HttpRequest.BodyPublishers.ofString("")).build());
        assertThat(created.status()).as(created.body()).isEqualTo(201);

        write(user, 1, 20, firstBatch); // before the base backup: in its copy
        BaseBackupManifest backup = live.baseBackups().orElseThrow().runNow(Actor.SYSTEM, BaseBackup.Progress.NONE);
        assertThat(backup.id()).isNotBlank();
        write(user, 1, 20, firstBatch); // after it: only in the WAL
        switchWal(); // several whole segments after the backup, so one can go missing in the middle
        switchWal();
        Thread.sleep(1500);
        betweenBatches = Instant.now();
        Thread.sleep(1500);
        write(user, 2, 20, secondBatch);
        // The acknowledged writes are older than 5 s when the restores start.
        Thread.sleep(6000);
    }

    @AfterAll
    static void stop() {
        if (live != null) {
            live.close();
        }
    }

    @Test
    void aWholeSiloComesBackFromTheStoreOfARunningOneWithEveryAcknowledgedWrite() throws Exception {
        Path restored = TestingSilo.newDataDir("restore-latest").resolve("new");
        Run run = cli(Map.of("SILO_MASTER_KEY", MASTER_KEY), "restore", "--from", storeUrl(), "--data-dir", restored.toString());
        assertThat(run.code()).as(run.err()).isZero();
        assertThat(run.err()).contains("restoring base backup").contains("WAL segments").contains("promoted");
        assertThat(run.out()).contains("timeline").contains("restored-");
        assertThat(Files.readString(restored.resolve("backup-store.url"))).startsWith(storeUrl() + "/restored-");
        assertThat(restored.resolve(RestoreEngine.SPOOL)).doesNotExist();

        try (Silo copy = TestingSilo.startNew(restored, Map.of("SILO_MASTER_KEY", MASTER_KEY, "SILO_PUBLIC_URL", PUBLIC_URL))) {
            assertThat(count(copy, 1)).isEqualTo(firstBatch.size());
            assertThat(count(copy, 2)).isEqualTo(secondBatch.size());
            TestingHttp http = new TestingHttp(copy.baseUri());
            // A token issued by the live Silo verifies on the copy: same signing keys, same tenant.
            var listed = http.withBearer(accessToken).get("/t/" + tenant.slug() + "/collections/" + collection + "/records?limit=5");
            assertThat(listed.status()).as(listed.body()).isEqualTo(200);
            assertThat(login(http).status()).isEqualTo(200);
            // The copy streams its own WAL into the new prefix, on its new timeline, never into the live store.
            await().atMost(Duration.ofMinutes(2)).until(() -> copy.walReceiver().orElseThrow().status().storedUpTo() != null);
            assertThat(copy.walReceiver().orElseThrow().store().describe()).contains("restored-");
            assertThat(copy.walReceiver().orElseThrow().status().timeline()).isGreaterThan(1);
            Run verify = cli(Map.of("SILO_MASTER_KEY", MASTER_KEY), "audit", "verify", "--data-dir", restored.toString());
            assertThat(verify.code()).as(verify.out() + verify.err()).isZero();
            assertThat(verify.out()).contains("intact");
        }
        assertThat(WalSegments.read(liveStore()).complete()).noneMatch(segment -> segment.timeline() != 1);
    }

    @Test
    void aRestoreToATimeBetweenTwoBatchesHasTheFirstAndNotTheSecond() throws Exception {
        Path restored = TestingSilo.newDataDir("restore-pitr").resolve("new");
        Run run = cli(Map.of("SILO_MASTER_KEY", MASTER_KEY), "restore", "--from", storeUrl(), "--to-time",
                betweenBatches.toString(), "--data-dir", restored.toString(), "--json");
        assertThat(run.code()).as(run.err()).isZero();
        try (Silo copy = TestingSilo.startNew(restored, Map.of("SILO_MASTER_KEY", MASTER_KEY, "SILO_PUBLIC_URL", PUBLIC_URL))) {
            assertThat(count(copy, 1)).isEqualTo(firstBatch.size());
            assertThat(count(copy, 2)).isZero();
        }
    }

    @Test
    void aTamperedObjectAMissingWalSegmentAndAWrongMasterKeyAreRefusedAndLeaveNothing() throws Exception {
        Path scratch = TestingSilo.newDataDir("restore-refused");
        // Copies of the live store, damaged; the live store stays as it is.
        Path tampered = copyStore(scratch.resolve("tampered"));
        Path object;
        try (Stream<Path> files = Files.walk(tampered.resolve("base"))) {
            object = files.filter(p -> p.toString().contains("/db/") && Files.isRegularFile(p)).findFirst().orElseThrow();
        }
        byte[] bytes = Files.readAllBytes(object);
        bytes[bytes.length / 2] ^= 0x5a;
        Files.write(object, bytes);
        Path target = scratch.resolve("from-tampered");
        Run refused = cli(Map.of("SILO_MASTER_KEY", MASTER_KEY), "restore", "--from", tampered.toUri().toString(),
                "--data-dir", target.toString());
        assertThat(refused.code()).isEqualTo(1);
        assertThat(refused.err()).contains("backup object 'base/").contains("/db/").contains("integrity");
        assertThat(target).doesNotExist();

        Path holed = copyStore(scratch.resolve("holed"));
        WalSegments.Contents contents = WalSegments.read(liveStore());
        String middle = contents.complete().get(contents.complete().size() - 2).name();
        Files.delete(holed.resolve(middle));
        target = scratch.resolve("from-holed");
        refused = cli(Map.of("SILO_MASTER_KEY", MASTER_KEY), "restore", "--from", holed.toUri().toString(),
                "--data-dir", target.toString());
        assertThat(refused.code()).isEqualTo(1);
        assertThat(refused.err()).contains("WAL segment " + middle + " is missing");
        assertThat(target).doesNotExist();

        target = scratch.resolve("wrong-key");
        refused = cli(Map.of("SILO_MASTER_KEY", randomKey()), "restore", "--from", storeUrl(), "--data-dir", target.toString());
        assertThat(refused.code()).isEqualTo(1);
        assertThat(refused.err()).contains("another master key");
        assertThat(target).doesNotExist();

        Files.createDirectories(target);
        Files.writeString(target.resolve("something"), "here");
        refused = cli(Map.of("SILO_MASTER_KEY", MASTER_KEY), "restore", "--from", storeUrl(), "--data-dir", target.toString());
        assertThat(refused.code()).isEqualTo(1);
        assertThat(refused.err()).contains("is not empty");
        assertThat(target.resolve("something")).exists();

        target = scratch.resolve("from-empty");
        refused = cli(Map.of("SILO_MASTER_KEY", MASTER_KEY), "restore", "--from", scratch.resolve("empty-store").toUri().toString(),
                "--data-dir", target.toString());
        assertThat(refused.code()).isEqualTo(1);
        assertThat(refused.err()).contains("holds no complete base backup");
        assertThat(target).doesNotExist();

        target = scratch.resolve("too-early");
        refused = cli(Map.of("SILO_MASTER_KEY", MASTER_KEY), "restore", "--from", storeUrl(), "--to-time",
                "2020-01-01T00:00:00Z", "--data-dir", target.toString());
        assertThat(refused.code()).isEqualTo(1);
        assertThat(refused.err()).contains("outside the restorable window");
        assertThat(target).doesNotExist();
    }

    @Test
    void aTargetAfterTheEndOfTheWalInTheStoreIsRefusedBeforeAnyWorkWithExitCode2() throws Exception {
        Path scratch = TestingSilo.newDataDir("restore-after-wal");
        // A copy of the store, frozen: its objects were all stored before the target (copies take the time of the copy).
        Path frozen = copyStore(scratch.resolve("frozen"));
        Instant newest = WalSegments.newestStoredAt(new dev.silo.backup.FileBackupStore(frozen)).orElseThrow();
        Thread.sleep(50);
        Instant target = Instant.now();
        assertThat(target).isAfter(newest);
        Path newDir = scratch.resolve("new");
        Run refused = cli(Map.of("SILO_MASTER_KEY", MASTER_KEY), "restore", "--from", frozen.toUri().toString(),
                "--to-time", target.toString(), "--data-dir", newDir.toString());
        assertThat(refused.code()).as(refused.err()).isEqualTo(2);
        assertThat(refused.err()).contains("--to-time " + target + " is after the end of the WAL")
                .contains("newest WAL was stored at " + newest).contains("restore to latest instead")
                .doesNotContain("restoring base backup");
        assertThat(refused.err().lines().filter(line -> line.startsWith("silo:"))).hasSize(1);
        assertThat(newDir).doesNotExist();

        // The store says its WAL is newer than the target (clocks apart, say), yet no commit reaches it: PostgreSQL's
        // recovery finds out, and the answer is the same usage error, in one line, with nothing left behind.
        try (Stream<Path> wal = Files.list(frozen.resolve("wal"))) {
            for (Path file : wal.toList()) {
                Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.from(target.plus(Duration.ofHours(1))));
            }
        }
        Run recovered = cli(Map.of("SILO_MASTER_KEY", MASTER_KEY), "restore", "--from", frozen.toUri().toString(),
                "--to-time", target.toString(), "--data-dir", newDir.toString());
        assertThat(recovered.code()).as(recovered.err()).isEqualTo(2);
        assertThat(recovered.err()).contains("is after the end of the WAL in the backup store")
                .contains("restore to latest instead");
        assertThat(newDir).doesNotExist();
    }

    private static Path copyStore(Path target) throws Exception {
        Path source = storeRoot();
        try (Stream<Path> files = Files.walk(source)) {
            for (Path path : files.sorted(Comparator.naturalOrder()).toList()) {
                Path to = target.resolve(source.relativize(path).toString());
                if (Files.isDirectory(path)) {
                    Files.createDirectories(to);
                } else if (!path.getFileName().toString().startsWith(".")) {
                    try {
                        Files.copy(path, to);
                    } catch (java.nio.file.NoSuchFileException vanished) {
                        // a temporary file of a put in progress
                    }
                }
            }
        }
        return target;
    }

    static Path storeRoot() {
        return dataDir.resolve("backups").resolve("store");
    }

    static String storeUrl() {
        String uri = storeRoot().toUri().toString();
        return uri.endsWith("/") ? uri.substring(0, uri.length() - 1) : uri;
    }

    static dev.silo.backup.BackupStore liveStore() {
        return live.walReceiver().orElseThrow().store();
    }

    static TestingHttp.Response login(TestingHttp http) {
        var response = http.post("/t/" + tenant.slug() + "/auth/login",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        return response;
    }

    static void write(TestingHttp user, int batch, int count, List<Instant> acknowledged) {
        for (int i = 0; i < count; i++) {
            var created = user.post("/t/" + tenant.slug() + "/collections/" + collection + "/records",
                    "{\"batch\": " + batch + ", \"n\": " + i + "}");
            assertThat(created.status()).as(created.body()).isEqualTo(201);
            acknowledged.add(Instant.now());
        }
    }

    static void switchWal() throws Exception {
        DatabaseUrl url = live.embedded().orElseThrow().adminUrl("postgres");
        try (Connection connection = DriverManager.getConnection(url.jdbcUrl(), url.properties());
             Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE IF NOT EXISTS filler (body text)");
            statement.execute("INSERT INTO filler SELECT repeat('x', 200) FROM generate_series(1, 2000)");
            statement.execute("SELECT pg_switch_wal()");
        }
    }

    static long count(Silo silo, int batch) throws Exception {
        DatabaseUrl url = silo.embedded().orElseThrow().adminUrl(tenant.databaseName());
        try (Connection connection = DriverManager.getConnection(url.jdbcUrl(), url.properties());
             Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT count(*) FROM records WHERE data->>'batch' = '" + batch + "'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    record Run(int code, String out, String err) {}

    static Run cli(Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream originalErr = System.err;
        PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
        System.setErr(errStream); // the restore's progress lines go to System.err
        try {
            int code = Main.run(args, new HashMap<>(env), new PrintStream(out, true, StandardCharsets.UTF_8), errStream);
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
}
