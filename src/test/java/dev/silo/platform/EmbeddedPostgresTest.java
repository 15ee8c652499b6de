package dev.silo.platform;

import dev.silo.app.Silo;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Claim C11 and the durability settings of the embedded server, checked on the running server. */
class EmbeddedPostgresTest {
    private static Silo silo;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
    }

    private static String show(Connection connection, String setting) throws SQLException {
        try (Statement statement = connection.createStatement(); ResultSet rs = statement.executeQuery("SHOW " + setting)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static Connection admin(String database) throws SQLException {
        DatabaseUrl url = silo.embedded().orElseThrow().adminUrl(database);
        return DriverManager.getConnection(url.jdbcUrl(), url.properties());
    }

    @Test
    void aConnectionWithoutTlsIsRefusedByTheServer() {
        DatabaseUrl url = silo.embedded().orElseThrow().adminUrl("silo_catalog");
        Properties plain = url.properties();
        plain.setProperty("sslmode", "disable");
        assertThatThrownBy(() -> DriverManager.getConnection(url.jdbcUrl(), plain).close())
                .isInstanceOfSatisfying(SQLException.class, e -> {
                    assertThat(e.getSQLState()).isEqualTo("28000");
                    assertThat(e.getMessage()).contains("no encryption");
                });
    }

    @Test
    void siloOwnConnectionsUseTls() throws SQLException {
        try (Connection connection = silo.catalog().getConnection();
             Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getBoolean("ssl")).isTrue();
            assertThat(rs.getString("version")).startsWith("TLSv1.");
        }
        assertThat(silo.catalogUrl().sslMode()).isEqualTo("verify-full");
    }

    @Test
    void aServerThatCannotProveItsIdentityIsRejected() throws Exception {
        DatabaseUrl url = silo.embedded().orElseThrow().adminUrl("silo_catalog");
        Properties props = url.properties();
        var otherCa = Files.createTempFile("other-ca", ".crt");
        Files.writeString(otherCa, Files.readString(dev.silo.platform.db.TlsMaterial.ensure(
                TestingSilo.newDataDir("other-ca")).caCertificate()));
        props.setProperty("sslrootcert", otherCa.toString());
        assertThatThrownBy(() -> DriverManager.getConnection(url.jdbcUrl(), props).close())
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("SSL error");
    }

    @Test
    void durabilitySettingsAreOn() throws SQLException {
        try (Connection connection = silo.catalog().getConnection()) {
            assertThat(show(connection, "fsync")).isEqualTo("on");
            assertThat(show(connection, "synchronous_commit")).isEqualTo("on");
            assertThat(show(connection, "full_page_writes")).isEqualTo("on");
            assertThat(show(connection, "data_checksums")).isEqualTo("on");
        }
    }

    @Test
    void walLeavesOnlyThroughTheReplicationSlotNeverAsAPlaintextArchive() throws Exception {
        try (Connection connection = silo.catalog().getConnection()) {
            assertThat(show(connection, "wal_level")).isEqualTo("replica");
            assertThat(show(connection, "archive_mode")).isEqualTo("off");
            assertThat(show(connection, "archive_command")).isIn("", "(disabled)");
            try (Statement statement = connection.createStatement();
                 ResultSet rs = statement.executeQuery("SELECT slot_type FROM pg_replication_slots WHERE slot_name = 'silo_wal'")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo("physical");
            }
        }
        assertThat(silo.config().dataDir().resolve("backups").resolve("wal")).doesNotExist();
    }

    @Test
    void onlyTheLoopbackInterfaceIsListenedOn() throws SQLException {
        try (Connection connection = silo.catalog().getConnection()) {
            assertThat(show(connection, "listen_addresses")).isEqualTo("127.0.0.1");
            assertThat(show(connection, "unix_socket_directories")).isEmpty();
            assertThat(show(connection, "password_encryption")).isEqualTo("scram-sha-256");
        }
    }

    @Test
    void publicCannotConnectToTheMaintenanceDatabases() throws SQLException {
        try (Connection connection = admin("postgres");
             Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("""
                     SELECT datname, has_database_privilege('public', datname, 'CONNECT') AS public_connect
                     FROM pg_database WHERE datname IN ('postgres', 'template1', 'silo_catalog')""")) {
            int rows = 0;
            while (rs.next()) {
                rows++;
                assertThat(rs.getBoolean("public_connect")).as(rs.getString("datname")).isFalse();
            }
            assertThat(rows).isEqualTo(3);
        }
    }

    @Test
    void catalogIsMigrated() throws SQLException {
        try (Connection connection = silo.catalog().getConnection();
             Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT max(version::int) FROM flyway_schema_history WHERE success")) {
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(dev.silo.platform.db.CatalogMigrations.LATEST_VERSION);
        }
    }
}
