package dev.silo.platform.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.silo.platform.config.DatabaseUrl;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;

import static java.util.Objects.requireNonNull;

/** HikariCP pools built the same way everywhere: TLS per the URL, bounded size and waits. */
public final class Pools {
    private Pools() {}

    public static HikariDataSource create(String name, DatabaseUrl url, int maximumSize, int minimumIdle, Duration connectionTimeout) {
        return create(name, url, maximumSize, minimumIdle, connectionTimeout, DatabaseAvailability.unsupervised());
    }

    /**
     * A pool that fails at once, with a connection-class SQLSTATE (so callers report {@code database-unavailable}),
     * while {@code availability} says its server is down, instead of making every caller wait the full
     * {@code connectionTimeout} for a server that is restarting.
     */
    public static HikariDataSource create(String name, DatabaseUrl url, int maximumSize, int minimumIdle, Duration connectionTimeout,
                                          DatabaseAvailability availability) {
        HikariConfig config = new HikariConfig();
        config.setPoolName(name);
        config.setJdbcUrl(url.jdbcUrl());
        config.setDataSourceProperties(url.properties());
        config.addDataSourceProperty("ApplicationName", "silo");
        config.addDataSourceProperty("connectTimeout", "10");
        config.setMaximumPoolSize(maximumSize);
        config.setMinimumIdle(minimumIdle);
        config.setConnectionTimeout(connectionTimeout.toMillis());
        config.setIdleTimeout(Duration.ofSeconds(60).toMillis());
        config.setMaxLifetime(Duration.ofMinutes(30).toMillis());
        config.setInitializationFailTimeout(-1);
        return new SupervisedPool(config, url, availability);
    }

    private static final class SupervisedPool extends HikariDataSource {
        private final DatabaseUrl url;
        private final DatabaseAvailability availability;

        SupervisedPool(HikariConfig config, DatabaseUrl url, DatabaseAvailability availability) {
            super(config);
            this.url = url;
            this.availability = requireNonNull(availability, "availability is null");
        }

        @Override
        public Connection getConnection() throws SQLException {
            if (availability.isDown(url)) {
                // 08006 (connection failure): the same state a lost connection reports
                throw new SQLTransientConnectionException(getPoolName() + " - the database server is down and restarting", "08006");
            }
            return super.getConnection();
        }
    }
}
