package dev.silo.tenant;

import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.problem.Forbidden;
import dev.silo.platform.problem.Unavailable;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingLogs;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Claims C1, C6, C10, C18, C25: a database, role, secret and key per tenant, and the lifecycle around them. */
class TenantLifecycleTest {
    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static Silo silo;
    private static TestingHttp admin;
    private static TestingHttp anonymous;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        anonymous = new TestingHttp(silo.baseUri());
        admin = anonymous.withBearer(TestingSilo.operatorKey(silo));
    }

    static String slug(String prefix) {
        return prefix + "-" + COUNTER.incrementAndGet() + "-" + UUID.randomUUID().toString().substring(0, 6);
    }

    private static Tenant create(String slug) {
        var response = admin.post("/admin/tenants", "{\"slug\":\"" + slug + "\",\"name\":\"Tenant " + slug + "\"}");
        assertThat(response.status()).as(response.body()).isEqualTo(201);
        assertThat(response.header("Location")).isEqualTo("/admin/tenants/" + slug);
        return silo.tenants().get(slug);
    }

    private static Connection superuser(String database) throws SQLException {
        DatabaseUrl url = silo.embedded().orElseThrow().adminUrl(database);
        return DriverManager.getConnection(url.jdbcUrl(), url.properties());
    }

    private static boolean exists(String sql, String name) throws SQLException {
        try (Connection connection = superuser("postgres"); PreparedStatement select = connection.prepareStatement(sql)) {
            select.setString(1, name);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next();
            }
        }
    }

    private static long count(String sql) throws SQLException {
        try (Connection connection = superuser("postgres"); Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void tenantRoleCannotConnectToAnotherTenantsDatabase() {
        Tenant a = create(slug("iso-a"));
        Tenant b = create(slug("iso-b"));
        DatabaseUrl aCredentialsOnB = silo.core().placements().tenantUrl(a).withDatabase(b.databaseName());
        assertThatThrownBy(() -> DriverManager.getConnection(aCredentialsOnB.jdbcUrl(), aCredentialsOnB.properties()).close())
                .isInstanceOfSatisfying(SQLException.class, e -> {
                    assertThat(e.getSQLState()).isEqualTo("42501");
                    assertThat(e.getMessage()).contains("permission denied for database");
                });
        DatabaseUrl aOnCatalog = silo.core().placements().tenantUrl(a).withDatabase(Silo.CATALOG_DATABASE);
        assertThatThrownBy(() -> DriverManager.getConnection(aOnCatalog.jdbcUrl(), aOnCatalog.properties()).close())
                .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("42501"));
        // Its own database works, as its own role, over TLS.
        silo.core().tenantDatabases().withConnection(a, connection -> {
            try (Statement statement = connection.createStatement();
                 ResultSet rs = statement.executeQuery("SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo(a.roleName());
                assertThat(rs.getBoolean(2)).isTrue();
            }
            return null;
        });
    }

    @Test
    void tenantRolesHaveNoneOfTheForbiddenAttributesAndNamesDeriveFromTheId() throws SQLException {
        Tenant tenant = create(slug("attrs"));
        assertThat(tenant.databaseName()).isEqualTo("t_" + tenant.id().toString().replace("-", "")).doesNotContain("attrs");
        try (Connection connection = superuser("postgres"); PreparedStatement select = connection.prepareStatement("""
                SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = ?
                """)) {
            select.setString(1, tenant.roleName());
            try (ResultSet rs = select.executeQuery()) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getBoolean("rolsuper")).isFalse();
                assertThat(rs.getBoolean("rolcreatedb")).isFalse();
                assertThat(rs.getBoolean("rolcreaterole")).isFalse();
                assertThat(rs.getBoolean("rolreplication")).isFalse();
                assertThat(rs.getBoolean("rolbypassrls")).isFalse();
                assertThat(rs.getBoolean("rolcanlogin")).isTrue();
            }
        }
        try (Connection connection = superuser("postgres"); PreparedStatement select = connection.prepareStatement("""
                SELECT pg_get_userbyid(datdba), has_database_privilege('public', datname, 'CONNECT') FROM pg_database WHERE datname = ?
                """)) {
            select.setString(1, tenant.databaseName());
            try (ResultSet rs = select.executeQuery()) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo(tenant.roleName());
                assertThat(rs.getBoolean(2)).isFalse();
            }
        }
        // Its password is stored only as a SCRAM verifier, computed by Silo (the clear password never reached the server).
        try (Connection connection = superuser("postgres");
             PreparedStatement select = connection.prepareStatement("SELECT rolpassword FROM pg_authid WHERE rolname = ?")) {
            select.setString(1, tenant.roleName());
            try (ResultSet rs = select.executeQuery()) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).startsWith("SCRAM-SHA-256$" + dev.silo.platform.db.ScramVerifier.TENANT_ITERATIONS + ":")
                        .doesNotContain(silo.core().placements().tenantUrl(tenant).password());
            }
        }
        // The schema was migrated as the tenant's role: it owns the tables.
        silo.core().tenantDatabases().withConnection(tenant, connection -> {
            try (Statement statement = connection.createStatement();
                 ResultSet rs = statement.executeQuery("SELECT tableowner FROM pg_tables WHERE tablename = 'users'")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo(tenant.roleName());
            }
            return null;
        });
    }

    @Test
    void fiftyTenantsHaveDistinctPasswordsSecretsAndKeyIds() {
        Set<String> passwords = new HashSet<>();
        Set<String> secrets = new HashSet<>();
        Set<String> kids = new HashSet<>();
        for (int i = 0; i < 50; i++) {
            Tenant tenant = silo.tenants().create(slug("many"), null, Optional.empty(), Actor.SYSTEM);
            passwords.add(silo.core().placements().tenantUrl(tenant).password());
            for (SigningKeys.SigningKey key : silo.tenants().signingKeys(tenant.id())) {
                String secret = new String(key.secret(), StandardCharsets.UTF_8);
                assertThat(secret.length()).isGreaterThanOrEqualTo(40).isEqualTo(SigningKeys.DEFAULT_SECRET_LENGTH);
                secrets.add(secret);
                kids.add(key.kid());
            }
        }
        assertThat(passwords).hasSize(50).allSatisfy(p -> assertThat(p.length()).isGreaterThanOrEqualTo(32));
        assertThat(secrets).hasSize(50);
        assertThat(kids).hasSize(50);
    }

    @Test
    void noSecretAppearsInAdminResponsesOrInTheLogs() throws Exception {
        List<String> bodies = new ArrayList<>();
        List<String> secrets = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            String slug = slug("secret");
            var created = admin.post("/admin/tenants", "{\"slug\":\"" + slug + "\"}");
            bodies.add(created.body());
            bodies.add(admin.get("/admin/tenants/" + slug).body());
            Tenant tenant = silo.tenants().get(slug);
            secrets.add(silo.core().placements().tenantUrl(tenant).password());
            silo.tenants().signingKeys(tenant.id()).forEach(k -> secrets.add(new String(k.secret(), StandardCharsets.UTF_8)));
            silo.tenants().rotateSecret(slug, false, Actor.SYSTEM);
            silo.tenants().signingKeys(tenant.id()).forEach(k -> secrets.add(new String(k.secret(), StandardCharsets.UTF_8)));
        }
        bodies.add(admin.get("/admin/tenants").body());
        bodies.add(admin.get("/admin/audit?limit=500").body());
        secrets.add(TestingSilo.operatorKey(silo));
        secrets.add(Files.readString(silo.config().dataDir().resolve("master.key")).strip());
        secrets.add(silo.embedded().orElseThrow().adminUrl("postgres").password());
        List<String> logs = TestingLogs.lines();
        assertThat(logs).isNotEmpty();
        for (String secret : secrets) {
            assertThat(bodies).noneMatch(body -> body.contains(secret));
            assertThat(logs).noneMatch(line -> line.contains(secret));
        }
    }

    @Test
    void slugInjectionAttemptsAnswer400AndCreateNothing() throws SQLException {
        long tenantsBefore = silo.tenants().list(true).size();
        long databasesBefore = count("SELECT count(*) FROM pg_database");
        long rolesBefore = count("SELECT count(*) FROM pg_roles");
        List<String> attempts = List.of("a\\\"; drop database x; --", "Uppercase", "ümlaut", "a".repeat(41), "x", "1abc", "a b",
                "a'; DROP TABLE tenants; --", "../etc", "a\\u0000b", "");
        for (String attempt : attempts) {
            var response = admin.post("/admin/tenants", "{\"slug\":\"" + attempt + "\"}");
            assertThat(response.status()).as(attempt).isEqualTo(400);
            assertThat(response.contentType()).isEqualTo("application/problem+json");
            assertThat(response.json().get("type").asText()).endsWith("/invalid-slug");
        }
        assertThat(admin.post("/admin/tenants", "{\"name\":\"no slug\"}").status()).isEqualTo(400);
        assertThat(admin.post("/admin/tenants", "{\"slug\": 12}").status()).isEqualTo(400);
        assertThat(silo.tenants().list(true)).hasSize((int) tenantsBefore);
        assertThat(count("SELECT count(*) FROM pg_database")).isEqualTo(databasesBefore);
        assertThat(count("SELECT count(*) FROM pg_roles")).isEqualTo(rolesBefore);
        // Path parameters are checked the same way: no query runs for them.
        assertThat(admin.get("/admin/tenants/a%22%3B%20drop").status()).isEqualTo(400);
        assertThat(anonymous.get("/t/a%22%3B%20drop/health").status()).isEqualTo(404);
    }

    @Test
    void duplicateSlugIsAConflict() {
        String slug = slug("dup");
        create(slug);
        var again = admin.post("/admin/tenants", "{\"slug\":\"" + slug + "\"}");
        assertThat(again.status()).isEqualTo(409);
        assertThat(again.json().get("type").asText()).endsWith("/slug-taken");
    }

    @Test
    void suspendAndResumeTakeEffectAtOnce() {
        String slug = slug("susp");
        create(slug);
        assertThat(anonymous.get("/t/" + slug + "/health").status()).isEqualTo(200);
        var suspended = admin.send(admin.request("/admin/tenants/" + slug + "/suspend").POST(java.net.http.HttpRequest.BodyPublishers.noBody()).build());
        assertThat(suspended.status()).isEqualTo(200);
        assertThat(suspended.json().get("status").asText()).isEqualTo("suspended");
        var blocked = anonymous.get("/t/" + slug + "/health");
        assertThat(blocked.status()).isEqualTo(403);
        assertThat(blocked.json().get("type").asText()).endsWith("/tenant-suspended");
        assertThat(admin.send(admin.request("/admin/tenants/" + slug + "/resume").POST(java.net.http.HttpRequest.BodyPublishers.noBody()).build())
                .status()).isEqualTo(200);
        assertThat(anonymous.get("/t/" + slug + "/health").status()).isEqualTo(200);
        // Resuming an active tenant is a conflict that says why.
        var again = admin.send(admin.request("/admin/tenants/" + slug + "/resume").POST(java.net.http.HttpRequest.BodyPublishers.noBody()).build());
        assertThat(again.status()).isEqualTo(409);
        assertThat(again.json().get("detail").asText()).contains("is active");
    }

    @Test
    void suspensionAndDeprovisioningReachASecondNodeSharingTheCatalog() throws Exception {
        String slug = slug("nodes");
        create(slug);
        DatabaseUrl catalog = silo.catalogUrl();
        String url = "postgres://" + catalog.user() + ":" + catalog.password() + "@localhost:" + catalog.port() + "/"
                + catalog.database() + "?sslmode=verify-full&sslrootcert=" + catalog.parameters().get("sslrootcert");
        String masterKey = Files.readString(silo.config().dataDir().resolve("master.key")).strip();
        try (Silo second = TestingSilo.startNew(TestingSilo.newDataDir("node2"),
                Map.of("SILO_DATABASE_URL", url, "SILO_MASTER_KEY", masterKey))) {
            assertThat(second.directory().requireServing(slug).tenant().slug()).isEqualTo(slug);
            silo.tenants().suspend(slug, Actor.SYSTEM);
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThatThrownBy(() -> second.directory().requireServing(slug))
                    .isInstanceOfSatisfying(Forbidden.class, e -> assertThat(e.type()).isEqualTo("tenant-suspended")));
            silo.tenants().resume(slug, Actor.SYSTEM);
            await().atMost(Duration.ofSeconds(5)).until(() -> second.directory().requireServing(slug) != null);
            silo.tenants().deprovision(slug, Actor.SYSTEM);
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThatThrownBy(() -> second.directory().requireServing(slug))
                    .isInstanceOfSatisfying(Forbidden.class, e -> assertThat(e.type()).isEqualTo("tenant-deprovisioned")));
            // The second node sees the operator keys of the shared catalog.
            var overSecond = new TestingHttp(second.baseUri()).withBearer(TestingSilo.operatorKey(silo)).get("/admin/tenants/" + slug);
            assertThat(overSecond.status()).isEqualTo(200);
            assertThat(overSecond.json().get("status").asText()).isEqualTo("deprovisioned");
        }
    }

    @Test
    void deprovisionBlocksAtOnceAndRestoreWithinTheWindowBringsTheDataBack() throws Exception {
        String slug = slug("restore");
        Tenant tenant = create(slug);
        silo.core().tenantDatabases().withConnection(tenant, connection -> {
            try (Statement statement = connection.createStatement()) {
                statement.execute("CREATE TABLE keepsake (v text)");
                statement.execute("INSERT INTO keepsake VALUES ('precious')");
            }
            return null;
        });
        Tenant deprovisioned = silo.tenants().deprovision(slug, Actor.SYSTEM);
        assertThat(deprovisioned.purgeAfter()).isAfter(deprovisioned.deprovisionedAt().plus(Duration.ofDays(6)));
        var blocked = anonymous.get("/t/" + slug + "/health");
        assertThat(blocked.status()).isEqualTo(403);
        assertThat(blocked.json().get("type").asText()).endsWith("/tenant-deprovisioned");
        // Even with its own credentials the role cannot log in any more.
        DatabaseUrl own = silo.core().placements().tenantUrl(tenant);
        assertThatThrownBy(() -> DriverManager.getConnection(own.jdbcUrl(), own.properties()).close())
                .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("28000"));

        silo.tenants().restore(slug, Actor.SYSTEM);
        assertThat(anonymous.get("/t/" + slug + "/health").status()).isEqualTo(200);
        String value = silo.core().tenantDatabases().withConnection(silo.tenants().get(slug), connection -> {
            try (Statement statement = connection.createStatement(); ResultSet rs = statement.executeQuery("SELECT v FROM keepsake")) {
                rs.next();
                return rs.getString(1);
            }
        });
        assertThat(value).isEqualTo("precious");
    }

    @Test
    void purgeAfterTheRetentionWindowDropsDatabaseRoleAndKeysAndFreesTheSlug() throws Exception {
        String slug = slug("purge");
        Tenant tenant = create(slug);
        silo.tenants().deprovision(slug, Actor.SYSTEM);
        var early = admin.delete("/admin/tenants/" + slug + "?confirm=" + slug);
        assertThat(early.status()).isEqualTo(409);
        assertThat(early.json().get("type").asText()).endsWith("/retention-window");
        try {
            TestingSilo.CLOCK.advance(Duration.ofDays(6));
            silo.tenants().purgeDue(Actor.SYSTEM);
            assertThat(silo.tenants().get(slug).status()).isEqualTo(TenantStatus.DEPROVISIONED);
            TestingSilo.CLOCK.advance(Duration.ofDays(1).plusMinutes(1));
            assertThat(silo.tenants().purgeDue(Actor.SYSTEM)).isGreaterThanOrEqualTo(1);
        } finally {
            TestingSilo.CLOCK.reset();
        }
        assertThat(exists("SELECT 1 FROM pg_database WHERE datname = ?", tenant.databaseName())).isFalse();
        assertThat(exists("SELECT 1 FROM pg_roles WHERE rolname = ?", tenant.roleName())).isFalse();
        assertThat(silo.tenants().signingKeys(tenant.id())).isEmpty();
        try (Connection connection = silo.catalog().getConnection();
             PreparedStatement select = connection.prepareStatement(
                     "SELECT status, credentials_wrapped, data_keyset_wrapped FROM tenants WHERE id = ?")) {
            select.setObject(1, tenant.id());
            try (ResultSet rs = select.executeQuery()) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("purged");
                assertThat(rs.getBytes(2)).isNull();
                assertThat(rs.getBytes(3)).isNull();
            }
        }
        assertThat(anonymous.get("/t/" + slug + "/health").status()).isEqualTo(404);
        Tenant again = create(slug);
        assertThat(again.id()).isNotEqualTo(tenant.id());
    }

    @Test
    void purgeNowNeedsConfirmationAndADeprovisionedTenant() throws SQLException {
        String slug = slug("now");
        Tenant tenant = create(slug);
        assertThat(admin.delete("/admin/tenants/" + slug + "?now=true&confirm=" + slug).status()).isEqualTo(409);
        silo.tenants().deprovision(slug, Actor.SYSTEM);
        var unconfirmed = admin.delete("/admin/tenants/" + slug + "?now=true");
        assertThat(unconfirmed.status()).isEqualTo(400);
        assertThat(unconfirmed.json().get("type").asText()).endsWith("/confirmation-required");
        var purged = admin.delete("/admin/tenants/" + slug + "?now=true&confirm=" + slug);
        assertThat(purged.status()).as(purged.body()).isEqualTo(200);
        assertThat(purged.json().get("status").asText()).isEqualTo("purged");
        assertThat(exists("SELECT 1 FROM pg_database WHERE datname = ?", tenant.databaseName())).isFalse();
    }

    @Test
    void aFailureAtEachProvisioningStepLeavesAStateThatRepairCompletes() {
        for (TenantService.Step step : TenantService.Step.values()) {
            String slug = slug("fail-" + step.name().toLowerCase());
            silo.tenants().injectFailures((at, tenant) -> {
                if (at == step) {
                    throw new IllegalStateException("injected failure before " + at);
                }
            });
            try {
                assertThatThrownBy(() -> silo.tenants().create(slug, null, Optional.empty(), Actor.SYSTEM))
                        .isInstanceOfSatisfying(Unavailable.class, e -> assertThat(e.type()).isEqualTo("provisioning-incomplete"));
            } finally {
                silo.tenants().injectFailures(TenantService.NO_FAILURES);
            }
            assertThat(silo.tenants().get(slug).status()).as(step.name()).isEqualTo(TenantStatus.PROVISIONING);
            assertThat(anonymous.get("/t/" + slug + "/health").status()).isEqualTo(503);
            var results = silo.tenants().repair(false, Duration.ZERO, Actor.SYSTEM);
            assertThat(results).anySatisfy(r -> {
                assertThat(r.slug()).isEqualTo(slug);
                assertThat(r.outcome()).isEqualTo("completed");
            });
            assertThat(silo.tenants().get(slug).status()).isEqualTo(TenantStatus.ACTIVE);
            assertThat(anonymous.get("/t/" + slug + "/health").status()).as(step.name()).isEqualTo(200);
        }
    }

    @Test
    void aFailedProvisioningCanBeRolledBackLeavingNothing() throws SQLException {
        String slug = slug("rollback");
        silo.tenants().injectFailures((at, tenant) -> {
            if (at == TenantService.Step.SCHEMA) {
                throw new IllegalStateException("injected");
            }
        });
        try {
            assertThatThrownBy(() -> silo.tenants().create(slug, null, Optional.empty(), Actor.SYSTEM)).isInstanceOf(Unavailable.class);
        } finally {
            silo.tenants().injectFailures(TenantService.NO_FAILURES);
        }
        Tenant stuck = silo.tenants().get(slug);
        assertThat(exists("SELECT 1 FROM pg_database WHERE datname = ?", stuck.databaseName())).isTrue();
        var results = silo.tenants().repair(true, Duration.ZERO, Actor.SYSTEM);
        assertThat(results).anySatisfy(r -> assertThat(r.outcome()).isEqualTo("rolled-back"));
        assertThat(exists("SELECT 1 FROM pg_database WHERE datname = ?", stuck.databaseName())).isFalse();
        assertThat(exists("SELECT 1 FROM pg_roles WHERE rolname = ?", stuck.roleName())).isFalse();
        assertThat(silo.tenants().findLive(slug)).isEmpty();
    }

    @Test
    void rotationAddsAKeyAndThePreviousVerifiesOnlyDuringTheGracePeriod() {
        String slug = slug("rotate");
        Tenant tenant = create(slug);
        String first = silo.tenants().signingKeys(tenant.id()).getFirst().kid();
        var rotated = admin.send(admin.request("/admin/tenants/" + slug + "/rotate-secret")
                .POST(java.net.http.HttpRequest.BodyPublishers.noBody()).build());
        assertThat(rotated.status()).isEqualTo(200);
        String second = rotated.json().get("signing_key_id").asText();
        var keys = silo.tenants().signingKeys(tenant.id());
        assertThat(keys).extracting(SigningKeys.SigningKey::kid).containsExactly(second, first);
        assertThat(keys.get(0).retiresAt()).isNull();
        assertThat(keys.get(1).retiresAt()).isNotNull();
        try {
            TestingSilo.CLOCK.advance(Duration.ofMinutes(16));
            assertThat(silo.tenants().signingKeys(tenant.id())).extracting(SigningKeys.SigningKey::kid).containsExactly(second);
        } finally {
            TestingSilo.CLOCK.reset();
        }
        var revoked = admin.send(admin.request("/admin/tenants/" + slug + "/rotate-secret").header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"revoke_previous\": true}")).build());
        assertThat(revoked.status()).isEqualTo(200);
        assertThat(silo.tenants().signingKeys(tenant.id())).hasSize(1);
    }

    @Test
    void secretsRotateByThemselvesAfterTheRotationPeriod() {
        String slug = slug("autorot");
        Tenant tenant = create(slug);
        String first = silo.tenants().signingKeys(tenant.id()).getFirst().kid();
        try {
            TestingSilo.CLOCK.advance(Duration.ofDays(91));
            assertThat(silo.tenants().rotateDue(Actor.SYSTEM)).isGreaterThanOrEqualTo(1);
            var keys = silo.tenants().signingKeys(tenant.id());
            assertThat(keys.getFirst().kid()).isNotEqualTo(first);
            assertThat(keys).extracting(SigningKeys.SigningKey::kid).contains(first);
        } finally {
            TestingSilo.CLOCK.reset();
        }
    }
}
