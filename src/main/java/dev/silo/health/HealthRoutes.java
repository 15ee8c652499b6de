package dev.silo.health;

import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;
import dev.silo.platform.problem.Unavailable;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import static java.util.Objects.requireNonNull;

/**
 * {@code GET /health/live}: the process answers. {@code GET /health/ready}: it can serve, meaning the
 * catalog database answers within a bound and the node is not shutting down; otherwise a 503 problem. What is
 * degraded without stopping the node from serving (backups behind, for one) is listed in the 200 body under
 * {@code degraded}, never turned into a 503.
 */
public final class HealthRoutes {
    private final DataSource catalog;
    private final BooleanSupplier draining;
    private final Supplier<Map<String, List<String>>> degraded;

    public HealthRoutes(DataSource catalog, BooleanSupplier draining) {
        this(catalog, draining, Map::of);
    }

    /** @param degraded component name ({@code backups}) to what is wrong with it; components that are fine are left out */
    public HealthRoutes(DataSource catalog, BooleanSupplier draining, Supplier<Map<String, List<String>>> degraded) {
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.draining = requireNonNull(draining, "draining is null");
        this.degraded = requireNonNull(degraded, "degraded is null");
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
            Map<String, List<String>> problems = new LinkedHashMap<>();
            degraded.get().forEach((component, reasons) -> {
                if (!reasons.isEmpty()) {
                    problems.put(component, reasons);
                }
            });
            Json.ok(response, problems.isEmpty() ? Map.of("status", "ready") : Map.of("status", "ready", "degraded", problems));
        });
    }
}
