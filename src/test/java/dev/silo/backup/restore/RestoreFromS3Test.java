package dev.silo.backup.restore;

import dev.silo.app.Silo;
import dev.silo.backup.S3BackupStore;
import dev.silo.backup.TestingS3;
import dev.silo.backup.base.BaseBackups;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Claims C14/C17 (issue 12.2, 12.5): a node on an empty S3 store takes its first base backup by itself, and the same
 * disaster recovery works from the bucket (a real S3 server in-process).
 */
class RestoreFromS3Test {
    static S3BackupStore.Location bucket;

    @BeforeAll
    static void credentials() {
        bucket = TestingS3.newBucket("silo");
        var credentials = TestingS3.credentials().resolveCredentials();
        // The store takes credentials from the SDK's default chain, as in production.
        System.setProperty("aws.accessKeyId", credentials.accessKeyId());
        System.setProperty("aws.secretAccessKey", credentials.secretAccessKey());
    }

    @AfterAll
    static void clear() {
        System.clearProperty("aws.accessKeyId");
        System.clearProperty("aws.secretAccessKey");
    }

    @Test
    void aSiloWhoseStoreIsInS3ComesBackFromTheBucket() throws Exception {
        String key = RestoreTest.randomKey();
        String url = "s3://" + bucket.bucket() + "/silo";
        Map<String, String> env = new HashMap<>(Map.of("SILO_MASTER_KEY", key, "SILO_BACKUP_URL", url,
                "SILO_BACKUP_S3_ENDPOINT", TestingS3.endpoint().toString(), "SILO_BACKUP_S3_REGION", "us-east-1",
                "SILO_BASE_BACKUP_HOURS", "24"));
        Path live = TestingSilo.newDataDir("restore-s3-live");
        try (Silo silo = TestingSilo.startNew(live, env)) {
            // A node whose store holds no base backup takes one by itself soon after it starts.
            await().atMost(Duration.ofMinutes(3)).until(() -> !BaseBackups.list(silo.walReceiver().orElseThrow().store()).isEmpty());
            execute(silo, "CREATE TABLE after_backup (n int)", "INSERT INTO after_backup SELECT generate_series(1, 500)");
            Thread.sleep(6000); // older than 5 s when the restore starts
            Path restored = TestingSilo.newDataDir("restore-s3-copy").resolve("new");
            Map<String, String> restoreEnv = new HashMap<>(env);
            restoreEnv.remove("SILO_BACKUP_URL");
            RestoreTest.Run run = RestoreTest.cli(restoreEnv, "restore", "--from", url, "--data-dir", restored.toString());
            assertThat(run.code()).as(run.err()).isZero();
            assertThat(run.out()).contains(url + "/restored-");

            try (Silo copy = TestingSilo.startNew(restored, restoreEnv)) {
                assertThat(copy.walReceiver().orElseThrow().store().describe()).contains("/silo/restored-");
                DatabaseUrl admin = copy.embedded().orElseThrow().adminUrl(Silo.CATALOG_DATABASE);
                try (Connection connection = DriverManager.getConnection(admin.jdbcUrl(), admin.properties());
                     Statement statement = connection.createStatement();
                     ResultSet rs = statement.executeQuery("SELECT count(*) FROM after_backup")) {
                    rs.next();
                    assertThat(rs.getLong(1)).isEqualTo(500);
                }
            }
        }
    }

    private static void execute(Silo silo, String... statements) throws Exception {
        DatabaseUrl admin = silo.embedded().orElseThrow().adminUrl(Silo.CATALOG_DATABASE);
        try (Connection connection = DriverManager.getConnection(admin.jdbcUrl(), admin.properties());
             Statement statement = connection.createStatement()) {
            for (String sql : statements) {
                statement.execute(sql);
            }
        }
    }
}
