package dev.silo.platform.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.silo.platform.config.DatabaseUrl;

import java.time.Duration;

/** HikariCP pools built the same way everywhere: TLS per the URL, bounded size and waits. */
public final class Pools {
    private Pools() {}

    public static HikariDataSource create(String name, DatabaseUrl url, int maximumSize, int minimumIdle, Duration connectionTimeout) {
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
        return new HikariDataSource(config);
    }
}
