package dev.silo.backup.base;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Main;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.backup.BackupStore;
import dev.silo.backup.EncryptedBackupStore;
import dev.silo.backup.FileBackupStore;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.crypto.MasterKeys;
import dev.silo.platform.http.Json;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Claim C14 (issue 12.2): a base backup of the running cluster lists every tenant database with its tenant id,
 * stores nothing in clear, and only one runs at a time.
 */
class BaseBackupTest {
    private static final String MARKER = "plaintext-marker-" + UUID.randomUUID();
    static Path dataDir;
    static Silo silo;
    static BackupStore store;
    static List<Tenant> tenants = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        dataDir = TestingSilo.newDataDir("base-backup");
        silo = TestingSilo.startNew(dataDir, Map.of());
        for (int i = 0; i < 2; i++) {
            tenants.add(silo.tenants().create("bb-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(),
                    Actor.SYSTEM));
        }
        try (Connection connection = superuser(); Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE backup_marker (body text)");
            statement.execute("INSERT INTO backup_marker VALUES ('" + MARKER + "')");
            statement.execute("CHECKPOINT"); // the marker is in a data file, not only in the WAL
        }
        SiloConfig config = SiloConfig.resolve(SiloConfig.Flags.none(), Map.of("SILO_DATA_DIR", dataDir.toString()));
        store = EncryptedBackupStore.open(new FileBackupStore(storeRoot()), MasterKeys.load(config));
    }

    @AfterAll
    static void stop() throws Exception {
        store.close();
        silo.close();
    }

    static Path storeRoot() {
        return dataDir.resolve("backups").resolve("store");
    }

    @Test
    void theManifestListsEveryTenantDatabaseWithItsTenantAndTheStoreHoldsNoPlaintext() throws Exception {
        BaseBackupManifest manifest = silo.baseBackups().orElseThrow().runNow(Actor.SYSTEM, BaseBackup.Progress.NONE);

        assertThat(BaseBackups.list(store)).extracting(BaseBackupManifest::id).contains(manifest.id());
        for (Tenant tenant : tenants) {
            assertThat(manifest.databases()).filteredOn(database -> tenant.databaseName().equals(database.name()))
                    .singleElement().satisfies(database -> {
                        assertThat(database.tenantId()).isEqualTo(tenant.id().toString());
                        assertThat(database.object()).isEqualTo("base/" + manifest.id() + "/db/" + database.oid() + ".tar");
                    });
        }
        assertThat(manifest.databases()).filteredOn(database -> Silo.CATALOG_DATABASE.equals(database.name()))
                .singleElement().satisfies(database -> assertThat(database.tenantId()).isNull());
        assertThat(manifest.files()).extracting(BaseBackupManifest.FileEntry::path)
                .contains("PG_VERSION", "global/pg_control", "postgres/superuser.wrapped")
                .noneMatch(path -> path.startsWith("pg_wal/0") || path.equals("postmaster.pid")
                        || path.startsWith("pg_replslot/silo_wal"));
        assertThat(Long.compareUnsigned(manifest.stopLsnValue(), manifest.startLsnValue())).isPositive();
        assertThat(manifest.timeline()).isEqualTo(1);
        assertThat(manifest.postgresVersion()).startsWith("17");
        assertThat(manifest.stopTime()).isAfterOrEqualTo(manifest.startTime());

        // Through the encrypting store the objects are tars whose files match the manifest; behind it, no plaintext.
        boolean markerFound = false;
        Set<String> paths = new HashSet<>();
        for (BaseBackupManifest.StoredPart part : manifest.objects()) {
            if (!part.name().endsWith(".tar")) {
                continue;
            }
            try (InputStream in = store.get(part.name()).orElseThrow(); TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
                TarArchiveEntry entry;
                while ((entry = tar.getNextEntry()) != null) {
                    paths.add(entry.getName());
                    if (entry.isFile()) {
                        byte[] bytes = tar.readAllBytes();
                        markerFound |= new String(bytes, StandardCharsets.ISO_8859_1).contains(MARKER);
                    }
                }
            }
        }
        assertThat(markerFound).as("the marker row is in the backup").isTrue();
        assertThat(paths).containsAll(manifest.files().stream().map(BaseBackupManifest.FileEntry::path).toList());
        try (var files = Files.walk(storeRoot())) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                String raw = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
                assertThat(raw).as(file.toString()).doesNotContain(MARKER).doesNotContain("START WAL LOCATION")
                        .doesNotContain("PG_VERSION");
            }
        }

        TestingHttp operator = new TestingHttp(silo.baseUri()).withBearer(TestingSilo.operatorKey(silo));
        JsonNode status = operator.get("/admin/backups").json();
        assertThat(status.path("base_backups").path("count").asInt()).isGreaterThanOrEqualTo(1);
        assertThat(status.path("base_backups").path("restorable").path("oldest_backup").isTextual()).isTrue();
        var audit = silo.core().audit();
        try (Connection connection = silo.catalog().getConnection()) {
            assertThat(audit.list(connection, 20, Long.MAX_VALUE)).anySatisfy(entry -> {
                assertThat(entry.action()).isEqualTo("backup.base.create");
                assertThat(entry.target()).isEqualTo(manifest.id());
            });
        }
    }

    @Test
    void aSecondBackupWhileOneRunsIsRefusedAndOnDemandBackupsAnswerAtOnce() throws Exception {
        TestingHttp operator = new TestingHttp(silo.baseUri()).withBearer(TestingSilo.operatorKey(silo));
        try (Connection holder = superuser()) {
            assertThat(BaseBackups.tryLock(holder)).isTrue(); // as a backup running in another process would
            var refused = operator.post("/admin/backups", "");
            assertThat(refused.status()).as(refused.body()).isEqualTo(409);
            assertThat(refused.json().path("type").asText()).endsWith("backup-running");

            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int code = Main.run(new String[] {"backups", "create", "--data-dir", dataDir.toString()}, Map.of(),
                    new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
            assertThat(code).isEqualTo(1);
            assertThat(err.toString(StandardCharsets.UTF_8)).contains("a base backup is already running");
        }
        var accepted = operator.post("/admin/backups", "");
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String id = accepted.json().path("id").asText();
        await().atMost(Duration.ofMinutes(3)).until(() -> BaseBackups.read(store, id).isPresent());

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = Main.run(new String[] {"backups", "status", "--json", "--data-dir", dataDir.toString()}, Map.of(),
                new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertThat(code).isZero();
        JsonNode status = Json.MAPPER.readTree(out.toString(StandardCharsets.UTF_8));
        assertThat(status.path("base_backups").path("last").path("id").asText()).isGreaterThanOrEqualTo(id);
    }

    static Connection superuser() throws Exception {
        DatabaseUrl url = silo.embedded().orElseThrow().adminUrl(Silo.CATALOG_DATABASE);
        return DriverManager.getConnection(url.jdbcUrl(), url.properties());
    }
}
