package dev.silo.cluster;

import dev.silo.platform.db.EmbeddedPostgresServer;
import dev.silo.testing.TestingSilo;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A fresh catalog database for a test's nodes, and the server it is on as their placement: the machine's PostgreSQL
 * on 127.0.0.1:5432 when it answers over TLS (required when {@code SILO_TEST_REQUIRE_POSTGRES} is set, as
 * {@code .ci/run} does), else the embedded server of the shared test node, in a database of its own (so the shared
 * node, on another database, takes no part in the leases: advisory locks are per database).
 */
record ClusterCatalog(String adminJdbcUrl, Properties adminProperties, String database, String catalogUrl,
                      String placementUrl, String placementCa) {
    static final String REDIS = "redis://127.0.0.1:6379";

    static ClusterCatalog create(String prefix) throws IOException, SQLException {
        boolean machinePostgres = machinePostgresWithTls();
        if ("true".equals(System.getenv("SILO_TEST_REQUIRE_POSTGRES"))) {
            assertThat(machinePostgres).as("the machine's PostgreSQL must answer over TLS on 127.0.0.1:5432 (.ci/run sets this up)").isTrue();
        }
        String database = prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        ClusterCatalog catalog;
        if (machinePostgres) {
            Properties properties = new Properties();
            properties.setProperty("user", "postgres");
            properties.setProperty("sslmode", "require");
            catalog = new ClusterCatalog("jdbc:postgresql://127.0.0.1:5432/postgres", properties, database,
                    "postgres://postgres@127.0.0.1:5432/" + database + "?sslmode=require",
                    "postgres://postgres@127.0.0.1:5432/postgres?sslmode=require", null);
        } else {
            EmbeddedPostgresServer server = TestingSilo.shared().embedded().orElseThrow();
            var admin = server.adminUrl("postgres");
            String base = "postgres://" + admin.user() + ":" + admin.password() + "@localhost:" + admin.port() + "/";
            catalog = new ClusterCatalog(admin.jdbcUrl(), admin.properties(), database,
                    base + database + "?sslmode=verify-full&sslrootcert=" + server.caCertificate(),
                    base + "postgres?sslmode=verify-full", Files.readString(server.caCertificate()));
        }
        catalog.execute("CREATE DATABASE " + database);
        return catalog;
    }

    void drop() throws SQLException {
        execute("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
    }

    void execute(String sql) throws SQLException {
        try (Connection connection = DriverManager.getConnection(adminJdbcUrl, adminProperties);
             Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }

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

    /** Whether the machine's Redis answers; asserted when {@code SILO_TEST_REQUIRE_REDIS} is set. */
    static boolean machineRedis() {
        boolean available;
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", 6379), 2000);
            socket.setSoTimeout(2000);
            socket.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            byte[] answer = socket.getInputStream().readNBytes(7);
            available = new String(answer, StandardCharsets.US_ASCII).startsWith("+PONG");
        } catch (IOException e) {
            available = false;
        }
        if ("true".equals(System.getenv("SILO_TEST_REQUIRE_REDIS"))) {
            assertThat(available).as("the machine's Redis must answer on 127.0.0.1:6379 (.ci/run starts it)").isTrue();
        }
        return available;
    }
}
