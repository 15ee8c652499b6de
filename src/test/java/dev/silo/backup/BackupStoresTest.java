package dev.silo.backup;

import dev.silo.app.Main;
import dev.silo.platform.config.BackupUrl;
import dev.silo.platform.config.ConfigException;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.crypto.Envelope;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

import static dev.silo.backup.BackupStoreContractTest.bytes;
import static dev.silo.backup.BackupStoreContractTest.read;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code SILO_BACKUP_URL}: parsing, and {@link BackupStores#open} as Silo calls it. */
class BackupStoresTest {
    private static byte[] newMasterKey() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return key;
    }

    private static SiloConfig config(Path dataDir, Map<String, String> env) {
        return SiloConfig.resolve(new SiloConfig.Flags(null, dataDir.toString(), null, null), env);
    }

    @Test
    void theDefaultStoreIsBesidePostgresqlsPlaintextArchiveNotAroundIt() throws IOException {
        Path dataDir = TestingSilo.newDataDir("stores-default");
        SiloConfig config = config(dataDir, Map.of());
        assertThat(config.backupUrl()).isEqualTo(new BackupUrl.Folder(dataDir.resolve("backups/store")));
        byte[] masterKey = newMasterKey();
        try (EncryptedBackupStore store = BackupStores.open(config, Envelope.fromRawKey(masterKey))) {
            store.put("wal/000000010000000000000001", bytes("segment"));
            assertThat(store.inner()).isInstanceOf(FileBackupStore.class);
            assertThat(((FileBackupStore) store.inner()).root()).isEqualTo(dataDir.resolve("backups/store"));
        }
        assertThat(dataDir.resolve("backups/store/" + EncryptedBackupStore.KEYSET_OBJECT)).isRegularFile();
        assertThat(dataDir.resolve("backups/wal")).doesNotExist();

        // A second Silo (a new process, a rebuilt machine) with the same master key reads what the first wrote.
        try (EncryptedBackupStore again = BackupStores.open(config(dataDir, Map.of()), Envelope.fromRawKey(masterKey.clone()))) {
            assertThat(read(again, "wal/000000010000000000000001")).isEqualTo("segment");
        }
        assertThatThrownBy(() -> BackupStores.open(config, Envelope.fromRawKey(newMasterKey())))
                .isInstanceOf(EncryptedBackupStore.WrongMasterKeyException.class)
                .hasMessageContaining("the backup store at " + dataDir.resolve("backups/store").toUri())
                .hasMessageContaining("was written under another master key");
    }

    @Test
    void aFileUrlNamesAnyFolder() throws IOException {
        Path dataDir = TestingSilo.newDataDir("stores-file");
        Path elsewhere = TestingSilo.newDataDir("stores-elsewhere").resolve("silo-backups");
        SiloConfig config = config(dataDir, Map.of("SILO_BACKUP_URL", elsewhere.toUri().toString()));
        assertThat(config.backupUrl()).isEqualTo(new BackupUrl.Folder(elsewhere));
        try (EncryptedBackupStore store = BackupStores.open(config, Envelope.fromRawKey(newMasterKey()))) {
            store.put("base/b1/manifest.json", bytes("{}"));
        }
        assertThat(elsewhere.resolve("base/b1/manifest.json")).isRegularFile();
    }

    @Test
    void anS3UrlWithAnEndpointReachesAnyS3CompatibleStoreWithTheSdksCredentialChain() throws IOException {
        S3BackupStore.Location bucket = TestingS3.newBucket("unused");
        Map<String, String> env = Map.of("SILO_BACKUP_URL", "s3://" + bucket.bucket() + "/silo/prod/",
                "SILO_BACKUP_S3_ENDPOINT", bucket.endpoint().orElseThrow().toString(),
                "SILO_BACKUP_S3_REGION", "us-east-1");
        SiloConfig config = config(TestingSilo.newDataDir("stores-s3"), env);
        assertThat(config.backupUrl()).isEqualTo(new BackupUrl.S3(bucket.bucket(), "silo/prod", bucket.endpoint(),
                Optional.of("us-east-1")));
        // The SDK's default chain reads these system properties first (as it would AWS_ACCESS_KEY_ID in production).
        var credentials = TestingS3.credentials().resolveCredentials();
        System.setProperty("aws.accessKeyId", credentials.accessKeyId());
        System.setProperty("aws.secretAccessKey", credentials.secretAccessKey());
        try (EncryptedBackupStore store = BackupStores.open(config, Envelope.fromRawKey(newMasterKey()))) {
            store.put("wal/000000010000000000000001", bytes("segment"));
            assertThat(read(store, "wal/000000010000000000000001")).isEqualTo("segment");
            assertThat(store.describe()).startsWith("s3://" + bucket.bucket() + "/silo/prod at http://127.0.0.1:")
                    .doesNotContain(credentials.secretAccessKey()).doesNotContain(credentials.accessKeyId());
        } finally {
            System.clearProperty("aws.accessKeyId");
            System.clearProperty("aws.secretAccessKey");
        }
        try (S3BackupStore raw = new S3BackupStore(new S3BackupStore.Location(bucket.bucket(), "silo/prod",
                bucket.endpoint(), bucket.region(), bucket.credentials()))) {
            assertThat(raw.list("")).extracting(BackupStore.StoredObject::name)
                    .containsExactly(EncryptedBackupStore.KEYSET_OBJECT, "wal/000000010000000000000001");
        }
    }

    @Test
    void badBackupUrlsAreRefusedAtStartNamingTheSetting() {
        Path dataDir = TestingSilo.newDataDir("stores-bad");
        Map<String, String> expected = new HashMap<>();
        expected.put("s3:///prefix-only", "SILO_BACKUP_URL: an s3 URL needs a bucket");
        expected.put("s3://", "SILO_BACKUP_URL: not a URL");
        expected.put("s3://Upper_Case/x", "SILO_BACKUP_URL: 'Upper_Case' is not a valid S3 bucket name");
        expected.put("s3://bucket/a//b", "SILO_BACKUP_URL: the key prefix");
        expected.put("s3://bucket/x?versionId=1", "SILO_BACKUP_URL: expected file:///path or s3://bucket/prefix, without");
        expected.put("gs://bucket/x", "SILO_BACKUP_URL: unsupported scheme 'gs'");
        expected.put("/var/backups", "SILO_BACKUP_URL: unsupported scheme ''");
        expected.put("file:relative/path", "SILO_BACKUP_URL: a file URL needs an absolute path");
        expected.put("file://otherhost/x", "SILO_BACKUP_URL: a file URL needs an absolute path");
        expected.put("not a url", "SILO_BACKUP_URL: not a URL");
        expected.forEach((value, message) -> assertThatThrownBy(() -> config(dataDir, Map.of("SILO_BACKUP_URL", value)))
                .as(value).isInstanceOf(ConfigException.class).hasMessageStartingWith(message));

        assertThatThrownBy(() -> config(dataDir, Map.of("SILO_BACKUP_URL", "s3://bucket/x", "SILO_BACKUP_S3_ENDPOINT", "ftp://x")))
                .hasMessageStartingWith("SILO_BACKUP_S3_ENDPOINT: expected an http(s) URL");
        assertThatThrownBy(() -> config(dataDir, Map.of("SILO_BACKUP_URL", "s3://bucket/x", "SILO_BACKUP_S3_REGION", "EU WEST")))
                .hasMessageStartingWith("SILO_BACKUP_S3_REGION: expected a region name");
        assertThat(config(dataDir, Map.of("SILO_BACKUP_URL", "s3://my-bucket")).backupUrl())
                .isEqualTo(new BackupUrl.S3("my-bucket", "", Optional.empty(), Optional.empty()));
        assertThat(config(dataDir, Map.of("SILO_BACKUP_URL", "s3://my-bucket/a/b", "SILO_BACKUP_S3_ENDPOINT",
                "https://minio.internal:9000")).backupUrl())
                .isEqualTo(new BackupUrl.S3("my-bucket", "a/b", Optional.of(URI.create("https://minio.internal:9000")), Optional.empty()));
    }

    @Test
    void serveExitsTwoWithOneLineForABadBackupUrl() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(new String[] {"serve"}, Map.of("SILO_DATA_DIR", TestingSilo.newDataDir("stores-cli").toString(),
                        "SILO_BACKUP_URL", "ftp://backups.example.com/silo"),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(code).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8).strip().lines()).hasSize(1);
        assertThat(err.toString(StandardCharsets.UTF_8)).startsWith("silo: SILO_BACKUP_URL: unsupported scheme 'ftp'");

        ByteArrayOutputStream help = new ByteArrayOutputStream();
        assertThat(Main.run(new String[] {"serve", "--help"}, Map.of(), new PrintStream(help, true, StandardCharsets.UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8))).isZero();
        assertThat(help.toString(StandardCharsets.UTF_8)).contains("SILO_BACKUP_URL").contains("SILO_BACKUP_S3_ENDPOINT");
    }
}
