package dev.silo.metrics;

import dev.silo.operator.OperatorAuth;
import dev.silo.platform.http.Routes;
import dev.silo.platform.metrics.Metrics;
import io.helidon.http.HeaderNames;

import static java.util.Objects.requireNonNull;

/**
 * {@code GET /metrics} on the main port: the Prometheus text format, for an operator key only (the same 401 problem
 * as every {@code /admin} route without one). The figures say how busy each part of the node is and how many
 * tenants it has; none of that is for the internet. A scraper on the same host can use the unauthenticated
 * loopback listener instead ({@code SILO_METRICS_PORT}).
 */
public final class MetricsRoutes {
    private final Metrics metrics;
    private final OperatorAuth auth;

    public MetricsRoutes(Metrics metrics, OperatorAuth auth) {
        this.metrics = requireNonNull(metrics, "metrics is null");
        this.auth = requireNonNull(auth, "auth is null");
    }

    public void register(Routes routes) {
        routes.get("/metrics", (request, response) -> {
            auth.require(request);
            response.header(HeaderNames.CONTENT_TYPE, Metrics.CONTENT_TYPE);
            response.send(metrics.scrape());
        });
    }
}
