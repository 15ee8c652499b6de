package dev.silo.backup.restore;

import dev.silo.app.Silo;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Claims C14/C17 (issue 12, Tests): a real {@code silo serve} JVM and its embedded PostgreSQL are killed with
 * {@code kill -9} about 3 s after the last acknowledged write; a restore from the store on a new data dir has every
 * write acknowledged more than 5 s before the crash.
 */
class CrashRestoreTest {
    private static final Pattern READY = Pattern.compile("Silo is ready at (http://\\S+)");

    @Test
    void afterAKillNineOfTheNodeAndItsPostgresEveryWriteOlderThanFiveSecondsIsRestored() throws Exception {
        String key = RestoreTest.randomKey();
        Path dir = TestingSilo.newDataDir("crash-live");
        Path store = dir.resolveSibling(dir.getFileName() + "-store");
        String storeUrl = store.toUri().toString();
        String javaBin = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        Path log = dir.resolveSibling(dir.getFileName() + ".log");
        ProcessBuilder builder = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"), "dev.silo.app.Main",
                "serve", "--port", "0", "--data-dir", dir.toString()).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("SILO_HOST", "127.0.0.1");
        builder.environment().put("SILO_LOG_FORMAT", "text");
        builder.environment().put("SILO_BCRYPT_COST", "10");
        builder.environment().put("SILO_MASTER_KEY", key);
        builder.environment().put("SILO_BACKUP_URL", storeUrl);
        builder.environment().remove("SILO_BASE_BACKUP_HOURS");
        builder.environment().remove("PORT");
        Process process = builder.start();
        List<Instant> acknowledged = new ArrayList<>();
        String databaseName;
        Instant crash;
        try {
            await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(200))
                    .until(() -> Files.readString(log).contains("Silo is ready at ") || !process.isAlive());
            assertThat(process.isAlive()).as(Files.readString(log)).isTrue();
            Matcher ready = READY.matcher(Files.readString(log));
            assertThat(ready.find()).isTrue();
            TestingHttp http = new TestingHttp(URI.create(ready.group(1)));
            TestingHttp operator = http.withBearer(Files.readString(dir.resolve(Silo.BOOTSTRAP_KEY_FILE)).strip());
            // The node takes its first base backup by itself (SILO_BASE_BACKUP_HOURS default).
            await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofSeconds(1))
                    .until(() -> !operator.get("/admin/backups").json().path("base_backups").path("last").isMissingNode()
                            && !operator.get("/admin/backups").json().path("base_backups").path("last").isNull());

            String slug = "crash-" + UUID.randomUUID().toString().substring(0, 8);
            var tenant = operator.post("/admin/tenants", "{\"slug\":\"" + slug + "\"}");
            assertThat(tenant.status()).as(tenant.body()).isEqualTo(201);
            databaseName = "t_" + tenant.json().get("id").asText().replace("-", "");
            var admin = operator.post("/admin/tenants/" + slug + "/admins",
                    "{\"email\":\"admin@example.com\",\"password\":\"" + RestoreTest.PASSWORD + "\"}");
            assertThat(admin.status()).as(admin.body()).isEqualTo(201);
            var login = http.post("/t/" + slug + "/auth/login",
                    "{\"email\":\"admin@example.com\",\"password\":\"" + RestoreTest.PASSWORD + "\"}");
            assertThat(login.status()).as(login.body()).isEqualTo(200);
            TestingHttp user = http.withBearer(login.json().get("access_token").asText());
            var created = user.send(user.request("/t/" + slug + "/collections/notes")
                    .header("Content-Type", "application/json").PUT(java.net.http.HttpRequest.BodyPublishers.ofString("")).build());
            assertThat(created.status()).as(created.body()).isEqualTo(201);

            // Paced under the per-user rate limit (20/s): about 10 s of writes, so many are older than 5 s at the crash.
            for (int n = 0; n < 100; n++) {
                Thread.sleep(100);
                var record = user.post("/t/" + slug + "/collections/notes/records", "{\"n\": " + n + "}");
                assertThat(record.status()).as(record.body()).isEqualTo(201);
                acknowledged.add(Instant.now());
            }
            Thread.sleep(3000);
            long postmaster = Long.parseLong(Files.readAllLines(dir.resolve("postgres/data/postmaster.pid")).get(0).strip());
            crash = Instant.now();
            process.destroyForcibly();
            ProcessHandle.of(postmaster).ifPresent(ProcessHandle::destroyForcibly);
            process.waitFor();
            await().atMost(Duration.ofSeconds(30)).until(() -> ProcessHandle.of(postmaster).isEmpty());
        } finally {
            process.destroyForcibly();
            Path pid = dir.resolve("postgres/data/postmaster.pid");
            if (Files.exists(pid)) { // an orphan PostgreSQL if the test failed before the crash
                ProcessHandle.of(Long.parseLong(Files.readAllLines(pid).get(0).strip())).ifPresent(ProcessHandle::destroyForcibly);
            }
        }

        Path restored = TestingSilo.newDataDir("crash-copy").resolve("new");
        Map<String, String> env = new HashMap<>(Map.of("SILO_MASTER_KEY", key));
        RestoreTest.Run run = RestoreTest.cli(env, "restore", "--from", storeUrl, "--data-dir", restored.toString());
        assertThat(run.code()).as(run.err()).isZero();

        Set<Integer> present = new HashSet<>();
        try (Silo copy = TestingSilo.startNew(restored, env)) {
            DatabaseUrl url = copy.embedded().orElseThrow().adminUrl(databaseName);
            try (Connection connection = DriverManager.getConnection(url.jdbcUrl(), url.properties());
                 Statement statement = connection.createStatement();
                 ResultSet rs = statement.executeQuery("SELECT (data->>'n')::int FROM records")) {
                while (rs.next()) {
                    present.add(rs.getInt(1));
                }
            }
        }
        Instant cutoff = crash.minusSeconds(5);
        int old = 0;
        int recent = 0;
        int recentPresent = 0;
        List<Integer> missing = new ArrayList<>();
        for (int n = 0; n < acknowledged.size(); n++) {
            if (acknowledged.get(n).isBefore(cutoff)) {
                old++;
                if (!present.contains(n)) {
                    missing.add(n);
                }
            } else {
                recent++;
                if (present.contains(n)) {
                    recentPresent++;
                }
            }
        }
        System.out.printf("crash test: %d writes acknowledged > 5 s before the crash, %d restored; %d later, %d of them restored%n",
                old, old - missing.size(), recent, recentPresent);
        assertThat(old).as("writes older than 5 s at the crash").isPositive();
        assertThat(missing).as("acknowledged > 5 s before the crash but not restored").isEmpty();
    }
}
