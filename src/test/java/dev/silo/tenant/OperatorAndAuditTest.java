package dev.silo.tenant;

import dev.silo.app.Main;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.db.Sql;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Claim C20 (operators use keys, never passwords) and the tamper-evident platform audit log. */
class OperatorAndAuditTest {
    private static Silo silo;
    private static TestingHttp anonymous;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        anonymous = new TestingHttp(silo.baseUri());
    }

    private record Run(int code, String out, String err) {}

    private static Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        String[] full = new String[args.length + 2];
        System.arraycopy(args, 0, full, 0, args.length);
        full[args.length] = "--data-dir";
        full[args.length + 1] = silo.config().dataDir().toString();
        int code = Main.run(full, Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static void assertUnauthorized(TestingHttp.Response response) {
        assertThat(response.status()).isEqualTo(401);
        assertThat(response.contentType()).isEqualTo("application/problem+json");
        assertThat(response.header("WWW-Authenticate")).startsWith("Bearer");
    }

    @Test
    void missingMalformedWrongAndRevokedOperatorKeysAnswer401() {
        assertUnauthorized(anonymous.get("/admin/tenants"));
        assertUnauthorized(anonymous.send(anonymous.request("/admin/tenants").header("Authorization", "Basic YWRtaW46YWRtaW4=").GET().build()));
        assertUnauthorized(anonymous.withBearer("silo_op_" + "A".repeat(43)).get("/admin/tenants"));
        assertUnauthorized(anonymous.withBearer("not-even-a-key").get("/admin/tenants"));
        assertUnauthorized(anonymous.withBearer("").get("/admin/tenants"));

        Run created = cli("operators", "create", "temp-" + System.nanoTime() % 100000, "--json");
        assertThat(created.code()).as(created.err()).isZero();
        String name = created.out().replaceAll("(?s).*\"name\" : \"([^\"]+)\".*", "$1");
        String key = created.out().replaceAll("(?s).*\"key\" : \"([^\"]+)\".*", "$1");
        assertThat(key).startsWith("silo_op_").hasSizeGreaterThanOrEqualTo(8 + 43);
        assertThat(anonymous.withBearer(key).get("/admin/tenants").status()).isEqualTo(200);

        Run listed = cli("operators", "list");
        assertThat(listed.out()).contains(name).doesNotContain(key);

        assertThat(cli("operators", "revoke", name).code()).isZero();
        assertUnauthorized(anonymous.withBearer(key).get("/admin/tenants"));
        assertThat(cli("operators", "revoke", name).code()).isEqualTo(1);
    }

    @Test
    void operatorKeysAreStoredOnlyAsHashes() throws SQLException {
        String key = TestingSilo.operatorKey(silo);
        try (Connection connection = silo.catalog().getConnection(); Statement statement = connection.createStatement();
             var rs = statement.executeQuery("SELECT key_hash, key_hint FROM operators")) {
            while (rs.next()) {
                assertThat(rs.getString(1)).hasSize(64).doesNotContain(key);
                // The hint is the recognisable prefix and four characters: enough to tell keys apart, useless to an attacker.
                assertThat(rs.getString(2)).startsWith("silo_op_").endsWith("...").hasSize("silo_op_".length() + 4 + 3);
            }
        }
    }

    @Test
    void everyOperatorActionIsAuditedAndTheChainVerifies() {
        String slug = TenantLifecycleTest.slug("audited");
        var admin = anonymous.withBearer(TestingSilo.operatorKey(silo));
        assertThat(admin.post("/admin/tenants", "{\"slug\":\"" + slug + "\"}").status()).isEqualTo(201);
        var entries = admin.get("/admin/audit?limit=20").json().get("entries");
        assertThat(entries.toString()).contains("\"action\":\"tenant.create\"").contains("\"target\":\"tenant:" + slug + "\"")
                .contains("\"actor\":\"operator:bootstrap\"");
        var misspelt = admin.get("/admin/audit?befor=10");
        assertThat(misspelt.status()).isEqualTo(400);
        assertThat(misspelt.json().get("detail").asText()).contains("'befor'").contains("limit and before");
        var verified = admin.get("/admin/audit/verify").json();
        assertThat(verified.get("intact").asBoolean()).isTrue();
        assertThat(cli("audit", "verify").out()).startsWith("audit log platform intact");
    }

    @Test
    void theAuditLogRefusesEditsAndDetectsAnEditThatBypassesTheTrigger() throws SQLException {
        silo.tenants().create(TenantLifecycleTest.slug("tamper"), null, java.util.Optional.empty(), Actor.SYSTEM);
        DatabaseUrl url = silo.embedded().orElseThrow().adminUrl(Silo.CATALOG_DATABASE);
        try (Connection connection = DriverManager.getConnection(url.jdbcUrl(), url.properties());
             Statement statement = connection.createStatement()) {
            assertThatThrownBy(() -> statement.execute("UPDATE platform_audit SET actor = 'nobody' WHERE seq = 1"))
                    .hasMessageContaining("append-only");
            assertThatThrownBy(() -> statement.execute("DELETE FROM platform_audit WHERE seq = 1"))
                    .hasMessageContaining("append-only");
            String original;
            try (var rs = statement.executeQuery("SELECT target FROM platform_audit WHERE seq = 2")) {
                rs.next();
                original = rs.getString(1);
            }
            statement.execute("ALTER TABLE platform_audit DISABLE TRIGGER platform_audit_no_update");
            try {
                statement.execute("UPDATE platform_audit SET target = 'tenant:someone-else' WHERE seq = 2");
                dev.silo.audit.AuditVerification broken = Sql.withConnection(silo.catalog(), silo.core().audit()::verify);
                assertThat(broken.intact()).isFalse();
                assertThat(broken.brokenAt()).contains(2L);
                Run verify = cli("audit", "verify");
                assertThat(verify.code()).isEqualTo(1);
                assertThat(verify.out()).contains("TAMPERED").contains("entry 2");
            } finally {
                try (var restore = connection.prepareStatement("UPDATE platform_audit SET target = ? WHERE seq = 2")) {
                    restore.setString(1, original);
                    restore.executeUpdate();
                }
                statement.execute("ALTER TABLE platform_audit ENABLE TRIGGER platform_audit_no_update");
            }
        }
        assertThat(Sql.withConnection(silo.catalog(), silo.core().audit()::verify).intact()).isTrue();
    }

    @Test
    void commandsWorkOnTheDataDirectoryOfARunningServerAndTheServerSeesChangesAtOnce() {
        String slug = TenantLifecycleTest.slug("cli");
        Run created = cli("tenants", "create", slug, "--name", "Made by CLI");
        assertThat(created.code()).as(created.err()).isZero();
        assertThat(created.out()).contains("status").contains("active");
        assertThat(anonymous.get("/t/" + slug + "/health").status()).isEqualTo(200);
        assertThat(cli("tenants", "suspend", slug).code()).isZero();
        // The command's change reaches the server through LISTEN/NOTIFY: milliseconds; the bound only guards against a hang.
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(15))
                .until(() -> anonymous.get("/t/" + slug + "/health").status() == 403);
        assertThat(cli("tenants", "list").out()).contains(slug).contains("suspended");
        Run bad = cli("tenants", "create", "Bad Slug");
        assertThat(bad.code()).isEqualTo(1);
        assertThat(bad.err()).startsWith("silo: a slug is");
        Run purgeWithoutConfirm = cli("tenants", "purge", slug, "--now");
        assertThat(purgeWithoutConfirm.code()).isEqualTo(2);
        assertThat(cli("audit", "list").out()).contains("tenant.suspend").contains("cli:");
    }
}
