package dev.silo.platform.metrics;

import dev.silo.platform.http.ProblemRenderer;
import dev.silo.platform.problem.Problem;
import io.helidon.http.HeaderNames;
import io.helidon.http.Method;
import io.helidon.http.Status;
import io.helidon.webserver.WebServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;

import static java.util.Objects.requireNonNull;

/**
 * {@code SILO_METRICS_PORT}: {@code GET /metrics} without authentication on a listener bound to 127.0.0.1 only, for
 * a scraper on the same host (a sidecar, a node agent) that should not hold an operator key. Nothing else is served
 * there. Only the loopback address is bound, so the port is unreachable from other machines whatever the firewall
 * says; the main port keeps {@code /metrics} behind an operator key for scrapers elsewhere.
 */
public final class MetricsListener implements AutoCloseable {
    public static final String HOST = "127.0.0.1";
    private static final Logger log = LoggerFactory.getLogger(MetricsListener.class);

    private final WebServer server;

    private MetricsListener(WebServer server) {
        this.server = server;
    }

    /**
     * @throws CannotListen when the port cannot be bound (in use, not permitted)
     */
    public static MetricsListener start(int port, Metrics metrics) {
        requireNonNull(metrics, "metrics is null");
        WebServer server = WebServer.builder()
                .host(HOST)
                .port(port)
                .shutdownHook(false)
                .shutdownGracePeriod(Duration.ofSeconds(1))
                .routing(routing -> routing
                        .route(Method.GET, "/metrics", (request, response) -> {
                            response.header(HeaderNames.CONTENT_TYPE, Metrics.CONTENT_TYPE);
                            response.header(HeaderNames.CACHE_CONTROL, "no-store");
                            response.header(HeaderNames.X_CONTENT_TYPE_OPTIONS, "nosniff");
                            response.send(metrics.scrape());
                        })
                        .any((request, response) -> {
                            response.status(Status.NOT_FOUND_404);
                            response.header(HeaderNames.CONTENT_TYPE, ProblemRenderer.CONTENT_TYPE);
                            response.send(ProblemRenderer.body(404, Problem.TYPE_BASE + "not-found", ProblemRenderer.title(404),
                                    "this listener serves GET /metrics only", null, null, Map.of()));
                        }))
                .build()
                .start();
        if (server.port() < 0) {
            // Helidon logs a failed bind and returns a server without a listener.
            server.stop();
            throw new CannotListen(port);
        }
        log.info("Metrics without authentication at http://{}:{}/metrics (SILO_METRICS_PORT; loopback only)", HOST, server.port());
        return new MetricsListener(server);
    }

    public int port() {
        return server.port();
    }

    @Override
    public void close() {
        server.stop();
    }

    /** The metrics port could not be opened. */
    public static final class CannotListen extends RuntimeException {
        CannotListen(int port) {
            super("cannot listen on " + HOST + ":" + port + " (SILO_METRICS_PORT): the port is in use or not permitted", null,
                    false, false);
        }
    }
}
