package dev.silo.backup.logical;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.crypto.tink.Aead;
import com.google.crypto.tink.RegistryConfiguration;
import com.google.crypto.tink.TinkProtoKeysetFormat;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.backup.BackupStore;
import dev.silo.backup.EncryptedBackupStore;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.http.Json;
import dev.silo.platform.problem.Conflict;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.InputStream;
import java.net.http.HttpRequest;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Claims C15, C16, C18: catalog snapshots, daily tenant backups under the tenant's own keyset, downloads, shredding. */
class LogicalBackupsTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static final String SCHEMA = """
            {"fields": {"i": {"type": "integer", "required": true}, "title": {"type": "string"},
             "secret": {"type": "string", "encrypted": true}}}
            """;

    private static String slug(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** A tenant with an admin (logged in), a member, a collection with an encrypted field and some records. */
    private record Fixture(Tenant tenant, TestingHttp admin, TestingHttp member) {}

    private static Fixture fixture(Silo silo, int records) {
        TestingHttp http = new TestingHttp(silo.baseUri());
        Tenant tenant = silo.tenants().create(slug("lb"), null, Optional.empty(), Actor.SYSTEM);
        var created = http.withBearer(TestingSilo.operatorKey(silo)).post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        TestingHttp admin = login(http, tenant.slug(), "admin@example.com");
        var member = admin.post("/t/" + tenant.slug() + "/users",
                "{\"email\":\"member@example.com\",\"role\":\"member\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(member.status()).as(member.body()).isEqualTo(201);
        var collection = admin.send(admin.request("/t/" + tenant.slug() + "/collections/items")
                .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(SCHEMA)).build());
        assertThat(collection.status()).as(collection.body()).isEqualTo(201);
        for (int i = 0; i < records; i++) {
            var record = admin.post("/t/" + tenant.slug() + "/collections/items/records",
                    "{\"i\":" + i + ",\"title\":\"r\u00e9cord " + i + "\",\"secret\":\"s3cret-" + i + "\"}");
            assertThat(record.status()).as(record.body()).isEqualTo(201);
        }
        return new Fixture(tenant, admin, login(http, tenant.slug(), "member@example.com"));
    }

    private static TestingHttp login(TestingHttp http, String slug, String email) {
        var login = http.post("/t/" + slug + "/auth/login", "{\"email\":\"" + email + "\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        return http.withBearer(login.json().get("access_token").asText());
    }

    /** The record lines of an NDJSON export or download, without the tenant-specific parts. */
    private static List<JsonNode> recordLines(String ndjson) throws Exception {
        List<JsonNode> lines = new ArrayList<>();
        for (String line : ndjson.split("\n")) {
            JsonNode node = Json.MAPPER.readTree(line);
            if (!node.get("type").asText().equals("end")) {
                lines.add(node);
            }
        }
        return lines;
    }

    @Test
    void tenantBackupRoundTripRestoresEveryRecordAsANewTenantWithEncryptedFieldsReadable() throws Exception {
        Silo silo = TestingSilo.shared();
        Fixture fixture = fixture(silo, 25);
        TenantBackups backups = silo.logicalBackups().tenantBackups();
        TenantBackups.BackupInfo backup = backups.take(fixture.tenant());
        assertThat(backups.list(fixture.tenant())).extracting(TenantBackups.BackupInfo::id).contains(backup.id());
        assertThat(backup.schemaVersion()).isEqualTo("6");

        // the store holds no plaintext of the tenant's data, even behind the store's own encryption
        EncryptedBackupStore store = (EncryptedBackupStore) backups.store();
        try (InputStream in = store.get(TenantBackups.objectName(fixture.tenant().id(), backup.id())).orElseThrow()) {
            String plain = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
            assertThat(plain).startsWith("SILOTB1\n").doesNotContain("admin@example.com").doesNotContain("r\u00e9cord");
        }

        String live = fixture.admin().get("/t/" + fixture.tenant().slug() + "/export").body();
        String copySlug = slug("copy");
        TenantBackups.RestoredAs restored = backups.restoreAs(fixture.tenant().slug(), backup.id(), copySlug, Actor.SYSTEM);
        assertThat(restored.rows()).containsEntry("records", 25L).containsEntry("users", 2L).doesNotContainKey("sessions");

        TestingHttp http = new TestingHttp(silo.baseUri());
        // the original's token is not the copy's (new secret); the original's users log in with their passwords
        assertThat(fixture.admin().get("/t/" + copySlug + "/export").status()).isEqualTo(401);
        TestingHttp copyAdmin = login(http, copySlug, "admin@example.com");
        String copied = copyAdmin.get("/t/" + copySlug + "/export").body();
        assertThat(recordLines(copied)).isEqualTo(recordLines(live));
        assertThat(copied).contains("s3cret-24");
        // the original is unchanged
        assertThat(recordLines(fixture.admin().get("/t/" + fixture.tenant().slug() + "/export").body())).isEqualTo(recordLines(live));
    }

    @Test
    void tenantAdminDownloadsABackupAsNdjsonAndMemberGets403AndAnotherTenantsToken401() throws Exception {
        Silo silo = TestingSilo.shared();
        Fixture fixture = fixture(silo, 5);
        Fixture other = fixture(silo, 1);
        TenantBackups.BackupInfo backup = silo.logicalBackups().tenantBackups().take(fixture.tenant());
        String base = "/t/" + fixture.tenant().slug() + "/backups";

        var listed = fixture.admin().get(base);
        assertThat(listed.status()).as(listed.body()).isEqualTo(200);
        assertThat(listed.json().get("backups").get(0).get("id").asText()).isEqualTo(backup.id());

        var download = fixture.admin().get(base + "/" + backup.id() + "/download");
        assertThat(download.status()).as(download.body()).isEqualTo(200);
        assertThat(download.contentType()).startsWith("application/x-ndjson");
        String live = fixture.admin().get("/t/" + fixture.tenant().slug() + "/export").body();
        assertThat(recordLines(download.body())).isEqualTo(recordLines(live));
        assertThat(download.body()).contains("s3cret-4").contains("\"type\":\"end\"");

        var audit = fixture.admin().get("/t/" + fixture.tenant().slug() + "/audit?type=backup.download");
        assertThat(audit.body()).contains("backup.download").contains(backup.id());

        assertThat(fixture.member().get(base).status()).isEqualTo(403);
        assertThat(fixture.member().get(base + "/" + backup.id() + "/download").status()).isEqualTo(403);
        assertThat(other.admin().get(base).status()).isEqualTo(401);
        assertThat(other.admin().get(base + "/" + backup.id() + "/download").status()).isEqualTo(401);
        var missing = fixture.admin().get(base + "/20000101T000000Z/download");
        assertThat(missing.status()).isEqualTo(404);
        assertThat(missing.contentType()).startsWith("application/problem+json");
    }

    @Test
    void purgedTenantsBackupsCannotBeDecryptedWithAnythingSiloHolds() throws Exception {
        Silo silo = TestingSilo.shared();
        Fixture fixture = fixture(silo, 3);
        TenantBackups backups = silo.logicalBackups().tenantBackups();
        TenantBackups.BackupInfo backup = backups.take(fixture.tenant());
        silo.tenants().deprovision(fixture.tenant().slug(), Actor.SYSTEM);
        silo.tenants().purge(fixture.tenant().slug(), true, Actor.SYSTEM);

        assertThatThrownBy(() -> backups.restoreAs(fixture.tenant().slug(), backup.id(), slug("ghost"), Actor.SYSTEM))
                .isInstanceOf(Conflict.class).hasMessageContaining("was purged");

        // The object is still in the store, and the store's layer still opens under the master key ...
        byte[] object;
        try (InputStream in = backups.store().get(TenantBackups.objectName(fixture.tenant().id(), backup.id())).orElseThrow()) {
            object = in.readAllBytes();
        }
        DataInputStream data = new DataInputStream(new ByteArrayInputStream(object));
        data.skipNBytes("SILOTB1\n".length());
        JsonNode header = Json.MAPPER.readTree(data.readNBytes(data.readInt()));
        byte[] wrappedKey = Base64.getDecoder().decode(header.get("key").asText());
        byte[] associatedData = TenantBackups.associatedData(fixture.tenant().id(), backup.id());
        // ... but its key opens with no keyset the catalog holds (every tenant's, live or not), nor the master key.
        List<Tenant> all = silo.tenants().list(true);
        Tenant purged = all.stream().filter(t -> t.id().equals(fixture.tenant().id())).findFirst().orElseThrow();
        assertThat(purged.dataKeysetWrapped()).isNull();
        int tried = 0;
        for (Tenant tenant : all) {
            if (tenant.dataKeysetWrapped() == null) {
                continue;
            }
            Aead aead = silo.core().envelope().unwrapKeyset(tenant.dataKeysetWrapped(), tenant.keysetContext())
                    .getPrimitive(RegistryConfiguration.get(), Aead.class);
            assertThatThrownBy(() -> TinkProtoKeysetFormat.parseEncryptedKeyset(wrappedKey, aead, associatedData))
                    .isInstanceOf(GeneralSecurityException.class);
            tried++;
        }
        assertThat(tried).isPositive();
        assertThatThrownBy(() -> silo.core().envelope().unwrap(wrappedKey, purged.keysetContext()))
                .isInstanceOf(Envelope.WrongKeyException.class);
        // and a catalog snapshot taken now holds no key for it either: restored, its row has no keyset
        CatalogSnapshots.SnapshotInfo snapshot = silo.logicalBackups().catalogSnapshots().takeNow();
        DatabaseUrl target = freshDatabase(silo);
        CatalogSnapshots.restore(backups.store(), target, Optional.of(snapshot.takenAt()));
        try (Connection connection = DriverManager.getConnection(target.jdbcUrl(), target.properties());
             Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT data_keyset_wrapped IS NULL, status FROM tenants WHERE id = '"
                     + fixture.tenant().id() + "'")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getBoolean(1)).isTrue();
            assertThat(rs.getString(2)).isEqualTo("purged");
        }
    }

    private static DatabaseUrl freshDatabase(Silo silo) {
        String name = "restore_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        silo.embedded().orElseThrow().ensureDatabase(name);
        return silo.embedded().orElseThrow().adminUrl(name);
    }

    private static List<String> rows(DatabaseUrl url, String query) throws Exception {
        try (Connection connection = DriverManager.getConnection(url.jdbcUrl(), url.properties());
             Statement statement = connection.createStatement(); ResultSet rs = statement.executeQuery(query)) {
            List<String> rows = new ArrayList<>();
            while (rs.next()) {
                StringBuilder row = new StringBuilder();
                for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                    row.append(rs.getString(i)).append('|');
                }
                rows.add(row.toString());
            }
            return rows;
        }
    }

    @Test
    void catalogSnapshotRestoresIntoAnEmptyDatabaseWithTenantsOperatorsAndPlacementsEqual() throws Exception {
        Silo silo = TestingSilo.shared();
        fixture(silo, 1);
        CatalogSnapshots snapshots = silo.logicalBackups().catalogSnapshots();
        DatabaseUrl live = silo.catalogUrl();
        List<String> queries = List.of("SELECT * FROM tenants ORDER BY id", "SELECT id, name, key_hash, created_at, revoked_at FROM operators ORDER BY id",
                "SELECT * FROM placements ORDER BY id", "SELECT * FROM tenant_signing_keys ORDER BY kid");
        List<List<String>> before = new ArrayList<>();
        for (String query : queries) {
            before.add(rows(live, query));
        }
        CatalogSnapshots.SnapshotInfo snapshot = snapshots.takeNow();
        assertThat(snapshot.name()).matches("catalog/\\d{8}T\\d{6}Z\\.snapshot");
        assertThat(snapshots.takeIfChanged()).as("nothing changed since").isEmpty();

        DatabaseUrl target = freshDatabase(silo);
        CatalogSnapshots.Restored restored = CatalogSnapshots.restore(snapshots.store(), target, Optional.of(snapshot.takenAt()));
        assertThat(restored.snapshot()).isEqualTo(snapshot.name());
        for (int i = 0; i < queries.size(); i++) {
            assertThat(rows(target, queries.get(i))).as(queries.get(i)).isEqualTo(before.get(i));
        }
        assertThat(before.getFirst()).isNotEmpty();
        assertThat(rows(target, "SELECT max(version::int) FROM flyway_schema_history")).containsExactly(
                dev.silo.platform.db.CatalogMigrations.LATEST_VERSION + "|");

        // refusals: not empty, no snapshot that early, wrong master key, tampered object
        assertThatThrownBy(() -> CatalogSnapshots.restore(snapshots.store(), target, Optional.empty()))
                .isInstanceOf(CatalogSnapshots.RestoreRefused.class).hasMessageContaining("not empty");
        assertThatThrownBy(() -> CatalogSnapshots.restore(snapshots.store(), freshDatabase(silo), Optional.of(Instant.EPOCH)))
                .isInstanceOf(CatalogSnapshots.RestoreRefused.class).hasMessageContaining("no catalog snapshot");
        BackupStore inner = ((EncryptedBackupStore) snapshots.store()).inner();
        assertThatThrownBy(() -> EncryptedBackupStore.open(inner, Envelope.fromRawKey(randomKey())))
                .isInstanceOf(EncryptedBackupStore.WrongMasterKeyException.class);
        byte[] stored;
        try (InputStream in = inner.get(snapshot.name()).orElseThrow()) {
            stored = in.readAllBytes();
        }
        stored[stored.length / 2] ^= 0x40;
        inner.put(snapshot.name(), new ByteArrayInputStream(stored));
        DatabaseUrl untouched = freshDatabase(silo);
        assertThatThrownBy(() -> CatalogSnapshots.restore(snapshots.store(), untouched, Optional.of(snapshot.takenAt())))
                .isInstanceOf(java.io.IOException.class).hasMessageContaining(snapshot.name());
        assertThat(rows(untouched, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).containsExactly("0|");
    }

    @Test
    void catalogRetentionKeepsTheLastHourThenHourlyThenDailyUpToTheRetention() {
        Instant now = Instant.parse("2026-12-02T12:00:30Z");
        List<Instant> taken = new ArrayList<>();
        for (int minutes = 0; minutes < 10 * 24 * 60; minutes += 10) {
            taken.add(now.minusSeconds(minutes * 60L));
        }
        List<Instant> delete = CatalogRetention.toDelete(taken, now, 7);
        List<Instant> kept = taken.stream().filter(t -> !delete.contains(t)).toList();
        assertThat(kept).filteredOn(t -> t.isAfter(now.minusSeconds(3600))).hasSize(6);
        assertThat(kept).filteredOn(t -> t.isBefore(now.minusSeconds(3600)) && t.isAfter(now.minusSeconds(86400)))
                .hasSizeBetween(23, 24);
        assertThat(kept).filteredOn(t -> t.isBefore(now.minusSeconds(86400))).hasSizeBetween(6, 7)
                .allMatch(t -> t.isAfter(now.minus(java.time.Duration.ofDays(7))));
    }

    @Test
    void aBackupOfAnOlderSchemaVersionIsRestoredAndMigratedForward() throws Exception {
        Silo silo = TestingSilo.shared();
        Fixture fixture = fixture(silo, 0);
        // A database at tenant schema version 3 (before V4's e-mail normalisation), with a user and a record.
        DatabaseUrl old = freshDatabase(silo);
        try (HikariLike pool = new HikariLike(old)) {
            org.flywaydb.core.Flyway.configure().dataSource(pool.dataSource).locations("classpath:db/tenant")
                    .target(org.flywaydb.core.api.MigrationVersion.fromVersion("3")).load().migrate();
        }
        UUID user = UUID.randomUUID();
        UUID record = UUID.randomUUID();
        TenantBackups.BackupInfo backup;
        try (Connection connection = DriverManager.getConnection(old.jdbcUrl(), old.properties());
             Statement statement = connection.createStatement()) {
            statement.execute("INSERT INTO users (id, email, email_normalized, password_hash, role, created_at, updated_at, "
                    + "password_changed_at) VALUES ('" + user + "', 'old@example.com', 'old@example.com', 'x', 'admin', now(), now(), now())");
            statement.execute("INSERT INTO collections (name, schema, created_at, created_by, updated_at, updated_by) "
                    + "VALUES ('notes', NULL, now(), '" + user + "', now(), '" + user + "')");
            statement.execute("INSERT INTO records (id, collection, version, data, created_at, created_by, updated_at, updated_by) "
                    + "VALUES ('" + record + "', 'notes', 1, '{\"text\": \"from v3\"}', now(), '" + user + "', now(), '" + user + "')");
            backup = silo.logicalBackups().tenantBackups().take(fixture.tenant(), connection);
        }
        assertThat(backup.schemaVersion()).isEqualTo("3");
        String copy = slug("v3");
        TenantBackups.RestoredAs restored = silo.logicalBackups().tenantBackups()
                .restoreAs(fixture.tenant().slug(), backup.id(), copy, Actor.SYSTEM);
        assertThat(restored.fromSchemaVersion()).isEqualTo("3");
        assertThat(silo.tenants().appliedSchemaVersion(restored.tenant()).getVersion()).isEqualTo("6");
        assertThat(rows(silo.core().placements().tenantUrl(restored.tenant()), "SELECT id, data->>'text' FROM records"))
                .containsExactly(record + "|from v3|");
        assertThat(rows(silo.core().placements().tenantUrl(restored.tenant()), "SELECT email FROM users"))
                .containsExactly("old@example.com|");
        // and GET /admin/backups shows the catalog snapshots
        var status = new TestingHttp(silo.baseUri()).withBearer(TestingSilo.operatorKey(silo)).get("/admin/backups");
        assertThat(status.status()).isEqualTo(200);
        assertThat(status.json().has("catalog_snapshots")).isTrue();
    }

    /** A small pool for Flyway over a database URL. */
    private static final class HikariLike implements AutoCloseable {
        final com.zaxxer.hikari.HikariDataSource dataSource;

        HikariLike(DatabaseUrl url) {
            this.dataSource = dev.silo.platform.db.Pools.create("test-old-schema", url, 2, 0, java.time.Duration.ofSeconds(10));
        }

        @Override
        public void close() {
            dataSource.close();
        }
    }

    @Test
    void theRoundBacksUpATenantWithoutABackupAndSpreadsTenantsOverTheInterval() throws Exception {
        Silo silo = TestingSilo.shared();
        Fixture fixture = fixture(silo, 1);
        LogicalBackups logical = silo.logicalBackups();
        logical.runRound();
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofMinutes(2))
                .until(() -> !logical.tenantBackups().list(fixture.tenant()).isEmpty());
        assertThat(CatalogSnapshots.list(logical.catalogSnapshots().store())).isNotEmpty();

        // slots: within [now - interval, now], whole seconds, and different tenants at different offsets
        Instant now = Instant.parse("2026-12-02T15:00:00Z");
        java.util.Set<Instant> starts = new java.util.HashSet<>();
        for (int i = 0; i < 20; i++) {
            Instant start = logical.slotStart(UUID.randomUUID(), now);
            assertThat(start).isBetween(now.minus(java.time.Duration.ofHours(24)), now);
            assertThat(start.getNano()).isZero();
            starts.add(start);
        }
        assertThat(starts).hasSizeGreaterThan(15);
    }

    private record Run(int code, String out, String err) {}

    private static Run cli(Silo silo, boolean dataDir, String... args) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        List<String> full = new ArrayList<>(List.of(args));
        if (dataDir) {
            full.add("--data-dir");
            full.add(silo.config().dataDir().toString());
        }
        int code = dev.silo.app.Main.run(full.toArray(String[]::new), java.util.Map.of(),
                new java.io.PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8),
                new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
        return new Run(code, out.toString(java.nio.charset.StandardCharsets.UTF_8), err.toString(java.nio.charset.StandardCharsets.UTF_8));
    }

    @Test
    void cliBacksUpListsAndRestoresABackupAsANewTenantAndRefusesClearly() throws Exception {
        Silo silo = TestingSilo.shared();
        Fixture fixture = fixture(silo, 2);
        String slug = fixture.tenant().slug();
        Run taken = cli(silo, true, "tenants", "backup", slug, "--json");
        assertThat(taken.code()).as(taken.err()).isZero();
        String id = Json.MAPPER.readTree(taken.out()).get("id").asText();
        Run listed = cli(silo, true, "tenants", "backups", slug, "--json");
        assertThat(listed.code()).as(listed.err()).isZero();
        assertThat(Json.MAPPER.readTree(listed.out()).get(0).get("id").asText()).isEqualTo(id);
        String copy = slug("cli");
        Run restored = cli(silo, true, "tenants", "restore-backup", slug, "--backup", id, "--as", copy, "--json");
        assertThat(restored.code()).as(restored.err()).isZero();
        assertThat(Json.MAPPER.readTree(restored.out()).get("rows").get("records").asLong()).isEqualTo(2);
        assertThat(login(new TestingHttp(silo.baseUri()), copy, "member@example.com")
                .get("/t/" + copy + "/collections/items/records").body()).contains("s3cret-1");

        Run missing = cli(silo, true, "tenants", "restore-backup", slug, "--backup", "20000101T000000Z", "--as", slug("x"));
        assertThat(missing.code()).isNotZero();
        assertThat(missing.err().strip()).contains("no backup '20000101T000000Z'").doesNotContain("\n\tat ");

        java.nio.file.Path empty = TestingSilo.newDataDir("empty-store");
        Run noSnapshot = cli(silo, false, "backups", "restore-catalog", "--from", empty.toUri().toString(),
                "--to", "postgres://nobody@127.0.0.1:1/none", "--data-dir", silo.config().dataDir().toString());
        assertThat(noSnapshot.code()).isNotZero();
        assertThat(noSnapshot.err()).contains("no catalog snapshot");
    }

    private static byte[] randomKey() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return key;
    }
}
