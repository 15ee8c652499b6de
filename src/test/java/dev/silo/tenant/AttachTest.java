package dev.silo.tenant;

import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Adopting a ready-made database (one Heroku Postgres add-on per tenant) with the credentials it comes with. */
class AttachTest {
    @Test
    void aReadyMadeDatabaseIsMigratedUsedAndEmptiedOnPurge() throws Exception {
        Silo silo = TestingSilo.shared();
        String suffix = UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        String role = "addon_" + suffix;
        String database = "addon_db_" + suffix;
        String password = "pw-" + UUID.randomUUID();
        DatabaseUrl admin = silo.embedded().orElseThrow().adminUrl("postgres");
        try (Connection connection = DriverManager.getConnection(admin.jdbcUrl(), admin.properties());
             Statement statement = connection.createStatement()) {
            statement.execute("CREATE ROLE " + role + " LOGIN");
            connection.unwrap(PGConnection.class).alterUserPassword(role, password.toCharArray(), "scram-sha-256");
            statement.execute("CREATE DATABASE " + database + " OWNER " + role);
        }
        String url = "postgres://" + role + ":" + password + "@localhost:" + admin.port() + "/" + database
                + "?sslmode=verify-full&sslrootcert=" + admin.parameters().get("sslrootcert");
        String slug = "attached-" + suffix.substring(0, 6);
        Tenant tenant = silo.tenants().attach(slug, "Attached", url, Actor.SYSTEM);
        assertThat(tenant.attached()).isTrue();
        assertThat(tenant.status()).isEqualTo(TenantStatus.ACTIVE);
        assertThat(new TestingHttp(silo.baseUri()).get("/t/" + slug + "/health").status()).isEqualTo(200);
        assertThat(silo.tenants().view(tenant).toString()).doesNotContain(password);

        DatabaseUrl own = DatabaseUrl.parse("test", url);
        try (Connection connection = DriverManager.getConnection(own.jdbcUrl(), own.properties());
             Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT count(*) FROM information_schema.tables WHERE table_name = 'users'")) {
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(1);
        }

        silo.tenants().deprovision(slug, Actor.SYSTEM);
        silo.tenants().purge(slug, true, Actor.SYSTEM);
        try (Connection connection = DriverManager.getConnection(own.jdbcUrl(), own.properties());
             Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")) {
            rs.next();
            assertThat(rs.getInt(1)).isZero();
        }
    }
}
