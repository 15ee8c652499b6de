package dev.silo.audit;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Main;
import dev.silo.app.Silo;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.db.Sql;
import dev.silo.platform.http.Json;
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
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 11.3: the audit chains are keyed and anchored outside the database. Each attack is what a database
 * superuser (or a holder of the master key) can do: disable the append-only trigger, edit an entry and recompute the
 * chain, or cut the tail; each is detected by {@code verify} over the API and the CLI.
 */
class AuditChainTest {
    private static final String PASSWORD = "correct horse battery";
    private static Silo silo;
    private static Silo isolated;
    private static TestingHttp operator;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        operator = new TestingHttp(silo.baseUri()).withBearer(TestingSilo.operatorKey(silo));
        // Attacks on the platform log run on a node of their own, so the shared node's log stays intact.
        isolated = TestingSilo.startNew(TestingSilo.newDataDir("audit-chain"), Map.of());
    }

    @AfterAll
    static void stop() {
        if (isolated != null) {
            isolated.close();
        }
    }

    private record Run(int code, String out, String err) {
        JsonNode json() {
            try {
                return Json.MAPPER.readTree(out);
            } catch (java.io.IOException e) {
                throw new IllegalStateException("not JSON: " + out, e);
            }
        }
    }

    private static Run cli(Silo node, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<String> full = new ArrayList<>(List.of(args));
        full.add("--data-dir");
        full.add(node.config().dataDir().toString());
        int code = Main.run(full.toArray(String[]::new), Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** A tenant with an admin and a few audit entries, checkpointed; the admin's client. */
    private static TenantWithAdmin tenantWithEntries(String prefix) {
        String slug = prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
        Tenant tenant = silo.tenants().create(slug, null, Optional.empty(), Actor.SYSTEM);
        String email = "admin@" + slug + ".example";
        silo.core().users().create(tenant, email, "admin", PASSWORD, TenantAudit.Context.SYSTEM);
        for (int i = 0; i < 3; i++) {
            silo.core().users().create(tenant, "member" + i + "@" + slug + ".example", "member", PASSWORD, TenantAudit.Context.SYSTEM);
        }
        TestingHttp anonymous = new TestingHttp(silo.baseUri());
        var login = anonymous.post("/t/" + slug + "/auth/login", "{\"email\":\"" + email + "\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        silo.auditCheckpoints().run();
        return new TenantWithAdmin(tenant, anonymous.withBearer(login.json().get("access_token").asText()));
    }

    private record TenantWithAdmin(Tenant tenant, TestingHttp admin) {
        JsonNode verify() {
            var response = admin.get("/t/" + tenant.slug() + "/audit/verify");
            assertThat(response.status()).as(response.body()).isEqualTo(200);
            return response.json();
        }
    }

    private static Connection superuser(Silo node, String database) throws SQLException {
        DatabaseUrl url = node.embedded().orElseThrow().adminUrl(database);
        return DriverManager.getConnection(url.jdbcUrl(), url.properties());
    }

    /** What the attacker's SQL session sees of a row: its link fields in the order Silo hashes them. */
    private record Row(long seq, Object[] fields, String prevHash, String hash) {}

    private static final String TENANT_FIELDS = "seq, at, type, actor, subject, client_ip, user_agent, request_id, detail";
    private static final String PLATFORM_FIELDS = "seq, at, actor, action, target, detail, request_id";

    private static List<Row> rows(Connection connection, String table, String fieldList) throws SQLException {
        List<Row> rows = new ArrayList<>();
        String[] names = fieldList.split(", ");
        try (Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT " + fieldList + ", prev_hash, hash FROM " + table + " ORDER BY seq")) {
            while (rs.next()) {
                Object[] fields = new Object[names.length];
                for (int i = 0; i < names.length; i++) {
                    fields[i] = names[i].equals("at") ? rs.getTimestamp(i + 1).toInstant()
                            : names[i].equals("seq") ? rs.getLong(i + 1) : rs.getString(i + 1);
                }
                rows.add(new Row(rs.getLong("seq"), fields, rs.getString("prev_hash"), rs.getString("hash")));
            }
        }
        return rows;
    }

    /**
     * The attacker's rewrite: from entry {@code fromSeq} on, sets one text field of that entry and recomputes every
     * following link, with plain SHA-256 ({@code key} null, what anyone can compute) or with a stolen key.
     */
    private static void rewrite(Connection connection, String table, String fieldList, long fromSeq, String column, String value,
                                byte[] key) throws SQLException {
        List<Row> rows = rows(connection, table, fieldList);
        List<String> names = List.of(fieldList.split(", "));
        String previous = fromSeq == 1 ? HashChain.GENESIS : rows.get((int) fromSeq - 2).hash();
        try (PreparedStatement update = connection.prepareStatement(
                "UPDATE " + table + " SET " + column + " = ?, prev_hash = ?, hash = ? WHERE seq = ?")) {
            for (Row row : rows.subList((int) fromSeq - 1, rows.size())) {
                Object[] fields = row.fields().clone();
                int index = names.indexOf(column);
                if (row.seq() == fromSeq && value != null) {
                    fields[index] = value;
                }
                String hash = key == null ? HashChain.link(previous, fields) : HashChain.keyedLink(key, previous, fields);
                update.setString(1, (String) fields[index]);
                update.setString(2, previous);
                update.setString(3, hash);
                update.setLong(4, row.seq());
                update.executeUpdate();
                previous = hash;
            }
        }
    }

    @Test
    void anUntouchedTenantLogVerifiesKeyedAndMatchesItsCheckpoints() {
        TenantWithAdmin acme = tenantWithEntries("untouched");
        JsonNode verified = acme.verify();
        assertThat(verified.get("intact").asBoolean()).as(verified.toString()).isTrue();
        assertThat(verified.get("log").asText()).isEqualTo("tenant:" + acme.tenant().id());
        assertThat(verified.get("keyed_from").asLong()).isEqualTo(1);
        assertThat(verified.get("legacy_entries").asLong()).isZero();
        assertThat(verified.get("checkpoints").asInt()).isPositive();
        assertThat(verified.get("entries").asLong()).isGreaterThanOrEqualTo(5);

        Run text = cli(silo, "audit", "verify", "--tenant", acme.tenant().slug());
        assertThat(text.code()).as(text.err()).isZero();
        assertThat(text.out()).startsWith("audit log tenant:" + acme.tenant().id() + " intact").contains("keyed (HMAC) from entry 1");
        Run json = cli(silo, "audit", "verify", "--tenant", acme.tenant().slug(), "--json");
        assertThat(json.code()).isZero();
        assertThat(json.json().get("intact").asBoolean()).isTrue();
        assertThat(json.json().get("last_seq").asLong()).isEqualTo(verified.get("last_seq").asLong());
    }

    @Test
    void aMemberCannotVerifyAndAnotherTenantsTokenIsRefused() {
        TenantWithAdmin acme = tenantWithEntries("verify-auth");
        TenantWithAdmin other = tenantWithEntries("verify-other");
        assertThat(other.admin().get("/t/" + acme.tenant().slug() + "/audit/verify").status()).isEqualTo(401);
        TestingHttp anonymous = new TestingHttp(silo.baseUri());
        var login = anonymous.post("/t/" + acme.tenant().slug() + "/auth/login",
                "{\"email\":\"member0@" + acme.tenant().slug() + ".example\",\"password\":\"" + PASSWORD + "\"}");
        var member = anonymous.withBearer(login.json().get("access_token").asText());
        assertThat(member.get("/t/" + acme.tenant().slug() + "/audit/verify").status()).isEqualTo(403);
    }

    @Test
    void aSuperuserWhoEditsAnEntryAndRecomputesThePlainChainIsDetected() throws SQLException {
        TenantWithAdmin acme = tenantWithEntries("plain-rewrite");
        try (Connection connection = superuser(silo, acme.tenant().databaseName()); Statement statement = connection.createStatement()) {
            statement.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update");
            rewrite(connection, "audit_log", TENANT_FIELDS, 2, "subject", "someone-else", null);
        }
        JsonNode verified = acme.verify();
        assertThat(verified.get("intact").asBoolean()).isFalse();
        assertThat(verified.get("broken_at").asLong()).isEqualTo(2);
        assertThat(verified.get("reason").asText()).contains("plain SHA-256 after keyed entries");

        Run run = cli(silo, "audit", "verify", "--tenant", acme.tenant().slug());
        assertThat(run.code()).isEqualTo(1);
        assertThat(run.out()).contains("TAMPERED").contains("entry 2");
        // The checkpoint job refuses to anchor the rewritten log.
        assertThat(silo.core().auditAnchors().read(TenantAudit.logName(acme.tenant().id())).anchors())
                .allSatisfy(anchor -> assertThat(anchor.hash()).isNotEqualTo(lastHash(acme)));
        silo.core().tenantAudit().markChanged(List.of(acme.tenant().databaseName()));
        silo.auditCheckpoints().run();
        assertThat(silo.core().auditAnchors().read(TenantAudit.logName(acme.tenant().id())).anchors())
                .noneMatch(anchor -> anchor.hash().equals(lastHash(acme)));
    }

    @Test
    void rewritingTheWholeLogAsPlainSha256IsNotMistakenForALegacyLog() throws SQLException {
        TenantWithAdmin acme = tenantWithEntries("downgrade");
        try (Connection connection = superuser(silo, acme.tenant().databaseName()); Statement statement = connection.createStatement()) {
            statement.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update");
            rewrite(connection, "audit_log", TENANT_FIELDS, 1, "subject", null, null);
        }
        JsonNode verified = acme.verify();
        assertThat(verified.get("intact").asBoolean()).isFalse();
        assertThat(verified.get("broken_at").asLong()).isEqualTo(1);
        assertThat(verified.get("reason").asText()).contains("the checkpoints say only the first 0 entries are");
    }

    @Test
    void deletingTheTailIsReportedAsAMissingTail() throws SQLException {
        TenantWithAdmin acme = tenantWithEntries("cut-tail");
        long last = acme.verify().get("last_seq").asLong();
        try (Connection connection = superuser(silo, acme.tenant().databaseName()); Statement statement = connection.createStatement()) {
            statement.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update");
            statement.execute("DELETE FROM audit_log WHERE seq >= " + (last - 1));
        }
        JsonNode verified = acme.verify();
        assertThat(verified.get("intact").asBoolean()).isFalse();
        assertThat(verified.get("broken_at").isNull()).isTrue();
        assertThat(verified.get("missing_tail").get("from").asLong()).isEqualTo(last - 1);
        assertThat(verified.get("missing_tail").get("to").asLong()).isEqualTo(last);
        assertThat(verified.get("reason").asText()).contains("missing tail: entries " + (last - 1) + ".." + last + " were removed");

        Run json = cli(silo, "audit", "verify", "--tenant", acme.tenant().slug(), "--json");
        assertThat(json.code()).isEqualTo(1);
        assertThat(json.json().get("missing_tail").get("to").asLong()).isEqualTo(last);
    }

    @Test
    void aHolderOfTheMasterKeyWhoRecomputesTheKeyedChainIsCaughtByTheCheckpoint() throws SQLException {
        TenantWithAdmin acme = tenantWithEntries("key-holder");
        long last = acme.verify().get("last_seq").asLong();
        byte[] stolenKey = silo.core().envelope().deriveKey("silo/audit/tenant-database/v1/" + acme.tenant().databaseName());
        try (Connection connection = superuser(silo, acme.tenant().databaseName()); Statement statement = connection.createStatement()) {
            statement.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update");
            rewrite(connection, "audit_log", TENANT_FIELDS, 2, "subject", "someone-else", stolenKey);
        }
        JsonNode verified = acme.verify();
        assertThat(verified.get("intact").asBoolean()).isFalse();
        assertThat(verified.get("broken_at").isNull()).as("the keyed chain itself is consistent").isTrue();
        // The first checkpointed entry from the edit on (the job may have checkpointed an earlier head too).
        assertThat(verified.get("checkpoint_mismatch_at").asLong()).isBetween(2L, last);
        assertThat(verified.get("reason").asText()).contains("differs from the checkpoint");
    }

    @Test
    void entriesWrittenBeforeKeyedChainsStayVerifiableAndLaterOnesAreKeyed() throws SQLException {
        // A tenant whose first entries were written by an older Silo (plain SHA-256), before any checkpoint.
        String slug = "legacy-" + UUID.randomUUID().toString().substring(0, 8);
        Tenant tenant = silo.tenants().create(slug, null, Optional.empty(), Actor.SYSTEM);
        try (Connection connection = superuser(silo, tenant.databaseName());
             PreparedStatement insert = connection.prepareStatement("""
                     INSERT INTO audit_log (seq, at, type, actor, subject, client_ip, user_agent, request_id, detail, prev_hash, hash)
                     VALUES (?, ?, 'login.failure', NULL, NULL, '10.0.0.1', NULL, NULL, '{}', ?, ?)
                     """)) {
            String previous = HashChain.GENESIS;
            for (long seq = 1; seq <= 3; seq++) {
                java.time.Instant at = java.time.Instant.parse("2026-01-0" + seq + "T00:00:00Z");
                String hash = HashChain.link(previous, seq, at, "login.failure", null, null, "10.0.0.1", null, null, "{}");
                insert.setLong(1, seq);
                insert.setTimestamp(2, java.sql.Timestamp.from(at));
                insert.setString(3, previous);
                insert.setString(4, hash);
                insert.executeUpdate();
                previous = hash;
            }
        }
        silo.core().users().create(tenant, "admin@" + slug + ".example", "admin", PASSWORD, TenantAudit.Context.SYSTEM);
        silo.auditCheckpoints().run();
        AuditVerification verified = silo.core().tenantDatabases().withConnection(tenant,
                connection -> silo.core().tenantAudit().verify(connection, TenantAudit.logName(tenant.id())));
        assertThat(verified.intact()).as(verified.summary()).isTrue();
        assertThat(verified.legacyEntries()).isEqualTo(3);
        assertThat(verified.keyedFrom()).contains(4L);
        assertThat(silo.core().auditAnchors().last(TenantAudit.logName(tenant.id())).orElseThrow().legacyUntil()).isEqualTo(3);
        assertThat(verified.summary()).contains("3 earlier entries are chained with plain SHA-256 only");
    }

    @Test
    void thePlatformLogIsKeyedCheckpointedAndItsRewritesAndCutsAreDetected() throws Exception {
        for (int i = 0; i < 4; i++) {
            isolated.tenants().create("platform-" + i, null, Optional.empty(), Actor.SYSTEM);
        }
        isolated.auditCheckpoints().run();
        String checkpoints = Files.readString(isolated.core().auditAnchors().file().orElseThrow());
        assertThat(checkpoints).contains("v1 platform ");
        TestingHttp admin = new TestingHttp(isolated.baseUri()).withBearer(TestingSilo.operatorKey(isolated));
        JsonNode intact = admin.get("/admin/audit/verify").json();
        assertThat(intact.get("intact").asBoolean()).as(intact.toString()).isTrue();
        assertThat(intact.get("keyed_from").asLong()).isEqualTo(1);
        long last = intact.get("last_seq").asLong();
        Run json = cli(isolated, "audit", "verify", "--json");
        assertThat(json.code()).as(json.err()).isZero();
        assertThat(json.json().get("intact").asBoolean()).isTrue();

        try (Connection connection = superuser(isolated, Silo.CATALOG_DATABASE); Statement statement = connection.createStatement()) {
            List<Row> original = rows(connection, "platform_audit", PLATFORM_FIELDS);
            statement.execute("ALTER TABLE platform_audit DISABLE TRIGGER platform_audit_no_update");
            rewrite(connection, "platform_audit", PLATFORM_FIELDS, 2, "target", "tenant:someone-else", null);
            JsonNode rewritten = admin.get("/admin/audit/verify").json();
            assertThat(rewritten.get("intact").asBoolean()).isFalse();
            assertThat(rewritten.get("broken_at").asLong()).isEqualTo(2);
            Run text = cli(isolated, "audit", "verify");
            assertThat(text.code()).isEqualTo(1);
            assertThat(text.out()).contains("TAMPERED").contains("entry 2");
            restore(connection, original);
            assertThat(admin.get("/admin/audit/verify").json().get("intact").asBoolean()).isTrue();

            statement.execute("DELETE FROM platform_audit WHERE seq = " + last);
            JsonNode cut = admin.get("/admin/audit/verify").json();
            assertThat(cut.get("intact").asBoolean()).isFalse();
            assertThat(cut.get("reason").asText()).isEqualTo("missing tail: entries " + last + ".." + last
                    + " were removed (a checkpoint saw entry " + last + ")");
            restore(connection, original);
            statement.execute("ALTER TABLE platform_audit ENABLE TRIGGER platform_audit_no_update");
        }
        assertThat(admin.get("/admin/audit/verify").json().get("intact").asBoolean()).isTrue();
    }

    /** Puts the log back as it was (the trigger is disabled by the caller). */
    private static void restore(Connection connection, List<Row> original) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement(
                "UPDATE platform_audit SET target = ?, prev_hash = ?, hash = ? WHERE seq = ?");
             PreparedStatement insert = connection.prepareStatement("""
                     INSERT INTO platform_audit (seq, at, actor, action, target, detail, request_id, prev_hash, hash)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING
                     """)) {
            for (Row row : original) {
                Object[] fields = row.fields();
                insert.setLong(1, row.seq());
                insert.setTimestamp(2, java.sql.Timestamp.from((java.time.Instant) fields[1]));
                for (int i = 2; i < 7; i++) {
                    insert.setString(i + 1, (String) fields[i]);
                }
                insert.setString(8, row.prevHash());
                insert.setString(9, row.hash());
                insert.executeUpdate();
                update.setString(1, (String) fields[4]);
                update.setString(2, row.prevHash());
                update.setString(3, row.hash());
                update.setLong(4, row.seq());
                update.executeUpdate();
            }
        }
    }

    private static String lastHash(TenantWithAdmin tenant) {
        return silo.core().tenantDatabases().withConnection(tenant.tenant(), connection -> {
            try (Statement statement = connection.createStatement();
                 ResultSet rs = statement.executeQuery("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1")) {
                rs.next();
                return rs.getString(1);
            }
        });
    }
}
