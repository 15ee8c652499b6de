package bench;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;

final class Postgres implements AutoCloseable {
    private final SiloProcess silo;
    private final Connection connection;

    private Postgres(SiloProcess silo, Connection connection) {
        this.silo = silo;
        this.connection = connection;
    }

    static Postgres connect(SiloProcess silo) {
        return new Postgres(silo, open(silo, "postgres"));
    }

    static Connection open(SiloProcess silo, String database) {
        Properties properties = new Properties();
        properties.setProperty("user", "postgres");
        properties.setProperty("password", silo.superuserPassword());
        properties.setProperty("sslmode", "verify-full");
        properties.setProperty("sslrootcert", silo.caCertificate().toString());
        properties.setProperty("ApplicationName", "silo-bench");
        try {
            return DriverManager.getConnection("jdbc:postgresql://localhost:" + silo.postgresPort() + "/" + database, properties);
        } catch (SQLException e) {
            throw new Fatal("cannot connect to the embedded PostgreSQL on port " + silo.postgresPort() + " as postgres: "
                    + e.getMessage());
        }
    }

    String version() throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SHOW server_version")) {
            rs.next();
            return rs.getString(1);
        }
    }

    Connection connection() {
        return connection;
    }

    /** libpq settings for pgbench against the embedded server's {@code bench} database. */
    static Map<String, String> libpqEnvironment(SiloProcess silo) {
        Map<String, String> env = new HashMap<>();
        env.put("PGHOST", "localhost");
        env.put("PGPORT", Integer.toString(silo.postgresPort()));
        env.put("PGUSER", "postgres");
        env.put("PGPASSWORD", silo.superuserPassword());
        env.put("PGSSLMODE", "verify-full");
        env.put("PGSSLROOTCERT", silo.caCertificate().toString());
        env.put("PGDATABASE", "bench");
        env.put("PGAPPNAME", "silo-bench");
        return env;
    }

    @Override
    public void close() throws SQLException {
        connection.close();
    }
}
