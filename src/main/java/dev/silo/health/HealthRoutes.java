package dev.silo.health;

import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;
import dev.silo.platform.problem.Unavailable;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.function.BooleanSupplier;

import static java.util.Objects.requireNonNull;

/**
 * {@code GET /health/live}: the process answers. {@code GET /health/ready}: it can serve, meaning the
 * catalog database answers within a bound and the node is not shutting down; otherwise a 503 problem.
 */
public final class HealthRoutes {
    private final DataSource catalog;
    private final BooleanSupplier draining;

    public HealthRoutes(DataSource catalog, BooleanSupplier draining) {
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.draining = requireNonNull(draining, "draining is null");
    }

    public void register(Routes routes) {
        routes.get("/health/live", (request, response) -> Json.ok(response, Map.of("status", "live")));
        routes.get("/health/ready", (request, response) -> {
            if (draining.getAsBoolean()) {
                throw new Unavailable("shutting-down", "this node is shutting down", Duration.ofSeconds(5));
            }
            try (Connection connection = catalog.getConnection(); Statement statement = connection.createStatement()) {
                statement.setQueryTimeout(2);
                statement.execute("SELECT 1");
            } catch (SQLException e) {
                throw new Unavailable("not-ready", "the catalog database is unreachable", Duration.ofSeconds(5));
            }
            Json.ok(response, Map.of("status", "ready"));
        });
    }
}
