package dev.silo.backup.logical;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Main;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.backup.BackupStore;
import dev.silo.backup.S3BackupStore;
import dev.silo.backup.TestingS3;
import dev.silo.platform.http.Json;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Claim C15 (issue 13.2) with the store in S3 (a real S3 server in-process): a tenant's daily logical backup is
 * written to the bucket, listed and restored as a new tenant with the command line, every record equal to the
 * original's, and the object in the bucket holds none of the tenant's data in plaintext.
 */
class LogicalBackupsOnS3Test {
    private static final String PASSWORD = "correct horse battery staple";
    private static final String SCHEMA = """
            {"fields": {"i": {"type": "integer", "required": true}, "title": {"type": "string"},
             "secret": {"type": "string", "encrypted": true}}}
            """;
    private static S3BackupStore.Location bucket;

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
    void aTenantBackupInTheBucketIsListedAndRestoredAsANewTenantRecordForRecordAndHoldsNoPlaintext() throws Exception {
        Map<String, String> env = new HashMap<>(Map.of("SILO_MASTER_KEY", randomKey(),
                "SILO_BACKUP_URL", "s3://" + bucket.bucket() + "/" + bucket.prefix(),
                "SILO_BACKUP_S3_ENDPOINT", TestingS3.endpoint().toString(), "SILO_BACKUP_S3_REGION", "us-east-1"));
        Path dataDir = TestingSilo.newDataDir("logical-s3");
        try (Silo silo = TestingSilo.startNew(dataDir, env)) {
            assertThat(silo.logicalBackups().tenantBackups().store().describe()).startsWith("s3://" + bucket.bucket());
            TestingHttp http = new TestingHttp(silo.baseUri());
            Tenant tenant = silo.tenants().create("lbs-" + UUID.randomUUID().toString().substring(0, 8), null,
                    Optional.empty(), Actor.SYSTEM);
            var created = http.withBearer(TestingSilo.operatorKey(silo)).post("/admin/tenants/" + tenant.slug() + "/admins",
                    "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
            assertThat(created.status()).as(created.body()).isEqualTo(201);
            TestingHttp admin = login(http, tenant.slug());
            var collection = admin.send(admin.request("/t/" + tenant.slug() + "/collections/items")
                    .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(SCHEMA)).build());
            assertThat(collection.status()).as(collection.body()).isEqualTo(201);
            for (int i = 0; i < 30; i++) {
                var record = admin.post("/t/" + tenant.slug() + "/collections/items/records",
                        "{\"i\":" + i + ",\"title\":\"r\u00e9cord-title-" + i + "\",\"secret\":\"s3cret-value-" + i + "\"}");
                assertThat(record.status()).as(record.body()).isEqualTo(201);
            }

            Run taken = cli(env, dataDir, "tenants", "backup", tenant.slug(), "--json");
            assertThat(taken.code()).as(taken.err()).isZero();
            String id = Json.MAPPER.readTree(taken.out()).get("id").asText();
            Run listed = cli(env, dataDir, "tenants", "backups", tenant.slug(), "--json");
            assertThat(listed.code()).as(listed.err()).isZero();
            assertThat(Json.MAPPER.readTree(listed.out()).get(0).get("id").asText()).isEqualTo(id);

            // The object as the bucket holds it (read past Silo, with the S3 credentials alone): no record value, no
            // title, no e-mail address in it — not even in the encrypted fields' plaintext.
            String name = TenantBackups.objectName(tenant.id(), id);
            try (S3BackupStore raw = new S3BackupStore(bucket)) {
                assertThat(raw.list("")).extracting(BackupStore.StoredObject::name).contains(name);
                byte[] bytes;
                try (InputStream in = raw.get(name).orElseThrow()) {
                    bytes = in.readAllBytes();
                }
                assertThat(bytes.length).isPositive();
                String latin = new String(bytes, StandardCharsets.ISO_8859_1);
                String utf8 = new String(bytes, StandardCharsets.UTF_8);
                assertThat(latin).doesNotContain("s3cret-value-").doesNotContain("cord-title-")
                        .doesNotContain("admin@example.com").doesNotContain("SILOTB1");
                assertThat(utf8).doesNotContain("r\u00e9cord-title-");
            }

            String copy = "lbc-" + UUID.randomUUID().toString().substring(0, 8);
            Run restored = cli(env, dataDir, "tenants", "restore-backup", tenant.slug(), "--backup", id, "--as", copy, "--json");
            assertThat(restored.code()).as(restored.err()).isZero();
            assertThat(Json.MAPPER.readTree(restored.out()).get("rows").get("records").asLong()).isEqualTo(30);

            List<JsonNode> original = recordLines(admin.get("/t/" + tenant.slug() + "/export").body());
            List<JsonNode> copied = recordLines(login(http, copy).get("/t/" + copy + "/export").body());
            assertThat(original).hasSizeGreaterThanOrEqualTo(30);
            assertThat(copied).isEqualTo(original);
            assertThat(copied.toString()).contains("s3cret-value-29"); // encrypted fields decrypt on the copy
        }
    }

    private static TestingHttp login(TestingHttp http, String slug) {
        var login = http.post("/t/" + slug + "/auth/login",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        return http.withBearer(login.json().get("access_token").asText());
    }

    /** The record lines of an NDJSON export, without its end line. */
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

    private record Run(int code, String out, String err) {}

    private static Run cli(Map<String, String> env, Path dataDir, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<String> full = new ArrayList<>(List.of(args));
        full.add("--data-dir");
        full.add(dataDir.toString());
        int code = Main.run(full.toArray(String[]::new), new HashMap<>(env), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static String randomKey() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return Base64.getEncoder().encodeToString(key);
    }
}
