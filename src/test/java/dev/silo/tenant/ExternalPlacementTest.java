package dev.silo.tenant;

import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A placement on the machine's own PostgreSQL (127.0.0.1:5432) when it is reachable over TLS; required when
 * {@code CI=true} on a machine that has it ({@code .ci/run} starts it, turns TLS on and sets
 * {@code SILO_TEST_REQUIRE_POSTGRES}).
 */
class ExternalPlacementTest {
    private static final String ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=require";

    private static boolean machinePostgresWithTls() {
        Properties properties = new Properties();
        properties.setProperty("user", "postgres");
        properties.setProperty("sslmode", "require");
        properties.setProperty("connectTimeout", "3");
        try (Connection connection = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/postgres", properties)) {
            return connection.isValid(3);
        } catch (SQLException e) {
            return false;
        }
    }

    @Test
    void aTenantIsCreatedUsedAndPurgedOnTheMachinesPostgres() throws SQLException {
        boolean available = machinePostgresWithTls();
        if ("true".equals(System.getenv("SILO_TEST_REQUIRE_POSTGRES"))) {
            assertThat(available).as("the machine's PostgreSQL must answer over TLS on 127.0.0.1:5432 (.ci/run sets this up)").isTrue();
        }
        Assumptions.assumeTrue(available, "no PostgreSQL with TLS on 127.0.0.1:5432");
        // A node of its own, so that tenants of other tests never land on the machine's server.
        try (Silo silo = TestingSilo.startNew(TestingSilo.newDataDir("placement"), java.util.Map.of())) {
            useMachinePlacement(silo);
        }
    }

    private static void useMachinePlacement(Silo silo) throws SQLException {
        String name = "machine";
        silo.core().placements().add(name, ADMIN_URL, null, Actor.SYSTEM);
        String slug = TenantLifecycleTest.slug("ext");
        Tenant tenant = silo.tenants().create(slug, null, Optional.of(name), Actor.SYSTEM);
        assertThat(silo.tenants().view(tenant).get("placement")).isEqualTo(name);
        assertThat(new TestingHttp(silo.baseUri()).get("/t/" + slug + "/health").status()).isEqualTo(200);
        assertThat(databaseExists(tenant.databaseName())).isTrue();
        silo.core().tenantDatabases().withConnection(tenant, connection -> {
            try (var statement = connection.createStatement();
                 var rs = statement.executeQuery("SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo(tenant.roleName());
                assertThat(rs.getBoolean(2)).isTrue();
            }
            return null;
        });
        // Silo does not back this server up physically: a point-in-time restore is refused with the way that works,
        // and the tenant's logical backup restores in place there.
        TestingHttp operator = new TestingHttp(silo.baseUri()).withBearer(TestingSilo.operatorKey(silo));
        var refused = operator.post("/admin/tenants/" + slug + "/restore-to", "{\"time\": \"" + java.time.Instant.now() + "\"}");
        assertThat(refused.status()).as(refused.body()).isEqualTo(409);
        assertThat(refused.body()).contains("restore-unavailable").contains("external placement").contains("restore-backup");
        try {
            String backup = silo.logicalBackups().tenantBackups().take(tenant).id();
            var started = operator.post("/admin/tenants/" + slug + "/restore-backup", "{\"backup\": \"" + backup + "\"}");
            assertThat(started.status()).as(started.body()).isEqualTo(202);
            String job = started.json().get("job").asText();
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofMinutes(1)).until(() ->
                    !operator.get("/admin/jobs/" + job).json().get("state").asText().equals("running"));
            var done = operator.get("/admin/jobs/" + job).json();
            assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("succeeded");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        silo.tenants().deprovision(slug, Actor.SYSTEM);
        silo.tenants().purge(slug, true, Actor.SYSTEM);
        assertThat(databaseExists(tenant.databaseName())).isFalse();
    }

    @Test
    void aPlacementWithoutTlsOrPrivilegesIsRefused() {
        Silo silo = TestingSilo.shared();
        var wrong = org.assertj.core.api.Assertions.catchThrowable(() ->
                silo.core().placements().add("nowhere", "postgres://u:p@127.0.0.1:1/x", null, Actor.SYSTEM));
        assertThat(wrong).isInstanceOf(dev.silo.platform.problem.BadRequest.class).hasMessageContaining("cannot connect")
                .hasMessageNotContaining(":p@");
        var insecure = org.assertj.core.api.Assertions.catchThrowable(() ->
                silo.core().placements().add("insecure", "postgres://u:p@127.0.0.1:5432/x?sslmode=disable", null, Actor.SYSTEM));
        assertThat(insecure).isInstanceOf(dev.silo.platform.problem.BadRequest.class).hasMessageContaining("sslmode=disable is not allowed");
    }

    private static boolean databaseExists(String database) throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", "postgres");
        properties.setProperty("sslmode", "require");
        try (Connection connection = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/postgres", properties);
             PreparedStatement select = connection.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
            select.setString(1, database);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next();
            }
        }
    }
}
